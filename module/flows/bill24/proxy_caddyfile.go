package bill24

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// UnmarshalCaddyfile sets up the flow. Syntax:
//
//	bill24_proxy {
//		call <method> <path> { … }
//		when    <expr> <outcome>
//		message <outcome> <english> [<khmer>]
//		reply {
//			<field> <value>
//		}
//	}
//
// A value in backticks (or a heredoc) is an expression; a bare or quoted
// value is a literal. Expressions are compiled as they are parsed, so a
// mistake is reported with its file and line.
func (f *Proxy) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(proxyReqEnv{}, proxyResEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "call":
			if err := seen.Check(d); err != nil {
				return err
			}
			c, _, err := billbridge.ParseCall(d, chk, false)
			if err != nil {
				return err
			}
			f.Call = c
		case "when":
			var r Rule
			if !d.AllArgs(&r.When, &r.Outcome) {
				return d.ArgErr()
			}
			if _, err := wire.ParseOutcome(r.Outcome); err != nil {
				return d.Errf("when: %v", err)
			}
			if err := chk.Response(d, r.When, mappings.KindBool); err != nil {
				return err
			}
			f.Rules = append(f.Rules, r)
		case "message":
			if err := f.parseMessage(d); err != nil {
				return err
			}
		case "reply":
			if err := seen.Check(d); err != nil {
				return err
			}
			if err := f.parseReply(d, chk); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized subdirective '%s' in bill24_proxy", d.Val())
		}
	}
	if f.Call == nil {
		return d.Err("a call <method> <path> block is required")
	}
	return nil
}

func (f *Proxy) parseMessage(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 || len(args) > 3 {
		return d.ArgErr()
	}
	if _, err := wire.ParseOutcome(args[0]); err != nil {
		return d.Errf("message: %v", err)
	}
	if f.Messages == nil {
		f.Messages = map[string]wire.Message{}
	}
	if _, dup := f.Messages[args[0]]; dup {
		return d.Errf("message %s already specified", args[0])
	}
	m := wire.Message{EN: args[1]}
	if len(args) == 3 {
		m.KH = args[2]
	}
	f.Messages[args[0]] = m
	return nil
}

func (f *Proxy) parseReply(d *caddyfile.Dispenser, chk *billbridge.ExprChecker) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	f.Reply = map[string]string{}
	for n := d.Nesting(); d.NextBlock(n); {
		name := d.Val()
		kind, ok := kindOf(name)
		if !ok {
			return d.Errf("reply: unknown field %q (want one of %s)", name, strings.Join(ReplyFields(), ", "))
		}
		if _, dup := f.Reply[name]; dup {
			return d.Errf("reply %s already specified", name)
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		src, err := billbridge.ExprOrLiteral(d)
		if err != nil {
			return err
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		if err := chk.Response(d, src, kind); err != nil {
			return err
		}
		f.Reply[name] = src
	}
	return nil
}
