// Package billbridge registers the billbridge Caddy modules, so that
// `xcaddy build --with github.com/billbridge/caddy-billbridge` includes them.
package billbridge

import (
	_ "github.com/billbridge/caddy-billbridge/module"
	_ "github.com/billbridge/caddy-billbridge/module/flows/bill24"
	_ "github.com/billbridge/caddy-billbridge/module/flows/qm"
)
