// Command caddy is a Caddy binary with the standard modules and billbridge built in.
package main

import (
	_ "time/tzdata"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/billbridge/caddy-billbridge"
)

func main() {
	caddycmd.Main()
}
