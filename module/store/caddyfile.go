package store

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(Memory{})
	caddy.RegisterModule(Redis{})
	caddy.RegisterModule(File{})
}

// startModule moves a fresh dispenser onto its first token, the module
// name; a dispenser already positioned on it is left there.
func startModule(d *caddyfile.Dispenser) {
	if d.Val() == "" {
		d.Next()
	}
}

// UnmarshalCaddyfile sets up the memory store from Caddyfile tokens. The
// dispenser is at (or before) the module name; the syntax takes nothing:
//
//	memory
func (m *Memory) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	startModule(d)
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("unrecognized subdirective '%s'", d.Val())
	}
	return nil
}

// UnmarshalCaddyfile sets up the file store from Caddyfile tokens. The
// dispenser is at (or before) the module name. Syntax:
//
//	file <path>
//
// The path is required and may hold placeholders ({env.*}), resolved at
// provision; a relative one is relative to Caddy's working directory.
func (f *File) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	startModule(d)
	if !d.NextArg() {
		return d.Errf("file store: a path is required (store file /var/lib/billbridge/events.db)")
	}
	f.Path = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(d.Nesting()) {
		return d.Errf("unrecognized subdirective '%s'", d.Val())
	}
	return nil
}

// UnmarshalCaddyfile sets up the Redis store from Caddyfile tokens. The
// dispenser is at (or before) the module name. Syntax:
//
//	redis [<url>] {
//		url               <url>
//		address           <host:port...>
//		username          <username>
//		password          <password>
//		db                <number>
//		master_name       <name>
//		sentinel_username <username>
//		sentinel_password <password>
//		cluster
//		tls [{
//			insecure_skip_verify
//			server_name <name>
//			ca_file     <path>
//		}]
//		tls_insecure
//		tls_server_name   <name>
//		tls_ca_file       <path>
//		key_prefix        <prefix>
//		dial_timeout      <duration>
//		timeout           <duration>
//		pool_size         <number>
//		require_durable
//		wait_replicas     <number>
//		wait_timeout      <duration>
//	}
//
// The URL may be given inline or as url, not both. address may repeat and
// takes one or more addresses. tls turns TLS on; tls_insecure,
// tls_server_name and tls_ca_file are one-line forms of the tls block's
// settings and turn TLS on too. Secrets belong in {env.*} placeholders,
// which are resolved at provision rather than when the Caddyfile is adapted.
// require_durable refuses to start against a Redis that may forget
// payments; wait_replicas 0 turns waiting for replicas off.
func (r *Redis) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	startModule(d)
	seen := make(map[string]bool)
	once := func(name string) error {
		if seen[name] {
			return d.Errf("%s already specified", name)
		}
		seen[name] = true
		return nil
	}
	oneArg := func(name string, dst *string) error {
		if err := once(name); err != nil {
			return err
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		*dst = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	noArg := func() error {
		if d.NextArg() {
			return d.ArgErr()
		}
		return nil
	}
	duration := func(name string, dst *caddy.Duration) error {
		var v string
		if err := oneArg(name, &v); err != nil {
			return err
		}
		dur, err := caddy.ParseDuration(v)
		if err != nil {
			return d.Errf("invalid %s '%s': %v", name, v, err)
		}
		*dst = caddy.Duration(dur)
		return nil
	}
	tlsSettings := func() *RedisTLS {
		if r.TLS == nil {
			r.TLS = new(RedisTLS)
		}
		r.TLS.Enabled = true
		return r.TLS
	}

	if d.NextArg() {
		if err := once("url"); err != nil {
			return err
		}
		r.URL = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}

	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		var err error
		switch name {
		case "url":
			err = oneArg("url", &r.URL)
		case "address":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			r.Addresses = append(r.Addresses, args...)
		case "username":
			err = oneArg(name, &r.Username)
		case "password":
			err = oneArg(name, &r.Password)
		case "db":
			err = oneArg(name, &r.DB)
		case "master_name":
			err = oneArg(name, &r.MasterName)
		case "sentinel_username":
			err = oneArg(name, &r.SentinelUsername)
		case "sentinel_password":
			err = oneArg(name, &r.SentinelPassword)
		case "cluster":
			if err = once(name); err == nil {
				err = noArg()
			}
			r.Cluster = true
		case "key_prefix":
			err = oneArg(name, &r.KeyPrefix)
		case "dial_timeout":
			err = duration(name, &r.DialTimeout)
		case "timeout":
			err = duration(name, &r.Timeout)
		case "pool_size":
			var v string
			if err = oneArg(name, &v); err != nil {
				return err
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n <= 0 {
				return d.Errf("invalid pool_size '%s': must be a positive integer", v)
			}
			r.PoolSize = n
		case "require_durable":
			if err = once(name); err == nil {
				err = noArg()
			}
			r.RequireDurable = true
		case "wait_replicas":
			var v string
			if err = oneArg(name, &v); err != nil {
				return err
			}
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 0 {
				return d.Errf("invalid wait_replicas '%s': must be a non-negative integer (0 turns waiting off)", v)
			}
			r.WaitReplicas = &n
		case "wait_timeout":
			err = duration(name, &r.WaitTimeout)
		case "tls":
			if err = once(name); err != nil {
				return err
			}
			if err = noArg(); err != nil {
				return err
			}
			t := tlsSettings()
			for tn := d.Nesting(); d.NextBlock(tn); {
				switch sub := d.Val(); sub {
				case "insecure_skip_verify":
					if err = once("tls insecure_skip_verify"); err == nil {
						err = noArg()
					}
					t.InsecureSkipVerify = true
				case "server_name":
					err = oneArg("tls server_name", &t.ServerName)
				case "ca_file":
					err = oneArg("tls ca_file", &t.CAFile)
				default:
					return d.Errf("unrecognized tls subdirective '%s'", sub)
				}
				if err != nil {
					return err
				}
			}
		case "tls_insecure":
			if err = once("tls insecure_skip_verify"); err == nil {
				err = noArg()
			}
			tlsSettings().InsecureSkipVerify = true
		case "tls_server_name":
			err = oneArg("tls server_name", &tlsSettings().ServerName)
		case "tls_ca_file":
			err = oneArg("tls ca_file", &tlsSettings().CAFile)
		default:
			return d.Errf("unrecognized subdirective '%s'", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Memory)(nil)
	_ caddyfile.Unmarshaler = (*Redis)(nil)
	_ caddyfile.Unmarshaler = (*File)(nil)
)
