package billbridge

import (
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("billbridge", parseGlobal)
}

// parseGlobal sets up the billbridge app from the global option. Syntax:
//
//	billbridge {
//		store memory
//		store redis [<url>] {
//			<redis settings>
//		}
//		store file <path>
//		legacy <base_url> {
//			timeout           <duration>
//			header            <name> <value>
//			max_response_size <size>
//			transport http {
//				<reverse_proxy's http transport options>
//			}
//		}
//		bill24 {
//			token <value>...
//			verify <base_url> {
//				client_id      <id>
//				secret         <secret>
//				merchant_token <token>
//				timeout        <duration>
//			}
//		}
//		qm <base_url> {
//			key     <key>
//			secret  <secret>
//			timeout <duration>
//			rate    <requests per second>
//		}
//		currency <code> <decimal places> [<max integer digits>]
//	}
//
// Secrets belong in {env.*} placeholders: they are resolved when the
// config loads, and never written into the adapted JSON.
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		d.Next() // onto the option name, so the error names its line
		return nil, d.Err("billbridge global option already specified")
	}
	var app App
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "billbridge", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global option's tokens.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "store":
			if a.StoreRaw != nil {
				return d.Err("store already specified")
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			mod, err := caddyfile.UnmarshalModule(d, "billbridge.stores."+name)
			if err != nil {
				return err
			}
			a.StoreRaw = caddyconfig.JSONModuleObject(mod, "type", name, nil)
		case "legacy":
			if a.Legacy != nil {
				return d.Err("legacy already specified")
			}
			l, err := parseLegacy(d)
			if err != nil {
				return err
			}
			a.Legacy = l
		case "bill24":
			if a.Bill24 != nil {
				return d.Err("bill24 already specified")
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			a.Bill24 = new(Bill24)
			for n := d.Nesting(); d.NextBlock(n); {
				switch d.Val() {
				case "token":
					toks := d.RemainingArgs()
					if len(toks) == 0 {
						return d.ArgErr()
					}
					a.Bill24.Tokens = append(a.Bill24.Tokens, toks...)
				case "verify":
					if a.Bill24.Verify != nil {
						return d.Err("bill24 verify already specified")
					}
					v, err := parseVerify(d)
					if err != nil {
						return err
					}
					a.Bill24.Verify = v
				default:
					return d.Errf("unrecognized bill24 subdirective '%s'", d.Val())
				}
			}
			if len(a.Bill24.Tokens) == 0 {
				return d.Err("bill24: at least one token is required")
			}
		case "qm":
			if a.QM != nil {
				return d.Err("qm already specified")
			}
			q, err := parseQM(d)
			if err != nil {
				return err
			}
			a.QM = q
		case "currency":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 {
				return d.ArgErr()
			}
			code, places := args[0], args[1]
			e, err := strconv.ParseInt(places, 10, 32)
			if err != nil || e < 0 || e > 8 {
				return d.Errf("currency %s: decimal places must be 0–8, not %q", code, places)
			}
			if a.Currencies == nil {
				a.Currencies = map[string]int32{}
			}
			if _, dup := a.Currencies[code]; dup {
				return d.Errf("currency %s already specified", code)
			}
			a.Currencies[code] = int32(e)
			if len(args) == 3 {
				n, err := strconv.ParseInt(args[2], 10, 32)
				if err != nil || n < 1 || n > 30 {
					return d.Errf("currency %s: max integer digits must be 1–30, not %q", code, args[2])
				}
				if a.CurrencyDigits == nil {
					a.CurrencyDigits = map[string]int32{}
				}
				a.CurrencyDigits[code] = int32(n)
			}
		default:
			return d.Errf("unrecognized subdirective '%s'", d.Val())
		}
	}
	return nil
}

func parseLegacy(d *caddyfile.Dispenser) (*Legacy, error) {
	var l Legacy
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	l.BaseURL = d.Val()
	if !strings.HasPrefix(l.BaseURL, "http://") && !strings.HasPrefix(l.BaseURL, "https://") && !strings.HasPrefix(l.BaseURL, "{") {
		// Shown without what may be a secret (credentials, a query).
		u, err := url.Parse(l.BaseURL)
		if err != nil {
			return nil, d.Err("legacy: base URL must start with http:// or https:// (not shown: it is not a valid URL, and may hold a secret)")
		}
		return nil, d.Errf("legacy: base URL %q must start with http:// or https://", redactURL(u))
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for n := d.Nesting(); d.NextBlock(n); {
		sub := d.Val()
		if sub != "header" && seen[sub] {
			return nil, d.Errf("legacy %s already specified", sub)
		}
		seen[sub] = true
		switch sub {
		case "timeout":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("legacy timeout: invalid duration %q", v)
			}
			l.Timeout = caddy.Duration(dur)
		case "header":
			var k, v string
			if !d.AllArgs(&k, &v) {
				return nil, d.ArgErr()
			}
			if l.Headers == nil {
				l.Headers = map[string]string{}
			}
			if _, dup := l.Headers[k]; dup {
				return nil, d.Errf("legacy header %s already specified", k)
			}
			l.Headers[k] = v
		case "max_response_size":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > math.MaxInt64 {
				return nil, d.Errf("legacy max_response_size: invalid size %q", v)
			}
			l.MaxResponseSize = int64(n)
		case "transport":
			// As reverse_proxy's transport subdirective, for its http
			// transport only: the legacy API is an HTTP API.
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			if name != "http" {
				return nil, d.Errf("legacy transport %q: the legacy API is reached with the http transport only", name)
			}
			mod, err := caddyfile.UnmarshalModule(d, "http.reverse_proxy.transport."+name)
			if err != nil {
				return nil, err
			}
			l.TransportRaw = caddyconfig.JSONModuleObject(mod, "protocol", name, nil)
		default:
			return nil, d.Errf("unrecognized legacy subdirective '%s'", sub)
		}
	}
	return &l, nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*App)(nil)

// parseVerify parses `verify <base_url> { … }` in the bill24 block.
func parseVerify(d *caddyfile.Dispenser) (*Bill24Verify, error) {
	var v Bill24Verify
	var err error
	if v.BaseURL, err = oneArg(d); err != nil {
		return nil, err
	}
	settings := map[string]*string{"client_id": &v.ClientID, "secret": &v.Secret, "merchant_token": &v.MerchantToken}
	for n := d.Nesting(); d.NextBlock(n); {
		sub := d.Val()
		if sub == "timeout" {
			if v.Timeout, err = parseTimeout(d, v.Timeout); err != nil {
				return nil, err
			}
			continue
		}
		dst, ok := settings[sub]
		if !ok {
			return nil, d.Errf("unrecognized verify subdirective '%s'", sub)
		}
		if err := setOnce(d, dst); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

// parseQM parses the `qm <base_url> { … }` global setting.
func parseQM(d *caddyfile.Dispenser) (*QM, error) {
	var q QM
	var err error
	if q.BaseURL, err = oneArg(d); err != nil {
		return nil, err
	}
	for n := d.Nesting(); d.NextBlock(n); {
		switch sub := d.Val(); sub {
		case "key":
			err = setOnce(d, &q.Key)
		case "secret":
			err = setOnce(d, &q.Secret)
		case "timeout":
			q.Timeout, err = parseTimeout(d, q.Timeout)
		case "rate":
			var v string
			if v, err = oneArg(d); err == nil {
				if q.Rate != 0 {
					return nil, d.Err("qm rate already specified")
				}
				q.Rate, err = strconv.ParseFloat(v, 64)
				if err != nil || q.Rate <= 0 || q.Rate > 10 {
					return nil, d.Errf("qm rate must be a number of requests per second above 0 and at most 10 (QM's limit), not %q", v)
				}
			}
		default:
			return nil, d.Errf("unrecognized qm subdirective '%s'", sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return &q, nil
}

// setOnce reads one argument into an unset setting.
func setOnce(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if *dst != "" {
		return d.Errf("%s already specified", name)
	}
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

func parseTimeout(d *caddyfile.Dispenser, cur caddy.Duration) (caddy.Duration, error) {
	if cur != 0 {
		return 0, d.Err("timeout already specified")
	}
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("invalid timeout %q", v)
	}
	return caddy.Duration(dur), nil
}
