package billbridge

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("billbridge", parseHandler)
	// Like reverse_proxy, billbridge answers the request itself; it goes
	// before respond so a catch-all respond never shadows it, and users
	// never need an `order` line.
	httpcaddyfile.RegisterDirectiveOrder("billbridge", httpcaddyfile.Before, "respond")
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var hd Handler
	err := hd.UnmarshalCaddyfile(h.Dispenser)
	return &hd, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	billbridge [<matcher>] <flow> {
//		max_body <size>
//		call <method> <path> {
//			query  <name> <value>
//			header <name> <value>
//			encode json|form|query
//			field  <name> <value>
//			body   <expr>
//		}
//
//		# bill24_proxy
//		when    <expr> <outcome>
//		message <outcome> <english> [<khmer>]
//		reply {
//			<field> <value>
//		}
//
//		# bill24_webhook
//		success <expr>
//		lookup <method> <path> {
//			<call subdirectives>
//			found <expr>
//		}
//		on_duplicate       replay|error
//		duplicate_wait     <duration>
//		lease              <duration>
//		retention          <duration>
//		idempotency_header <name>|off
//		on_store_error     reject|allow
//
//		# qm_callback: call, success, lookup and the settings above, and
//		on_failed    <method> <path> { … }
//		on_cancelled <method> <path> { … }
//		requery off
//
//		# qm_redirect
//		redirect <value>
//
//		# qm_create_bill
//		bill {
//			amount             <value>
//			merchant_reference <value>
//			callback_url       <value>
//			redirect_url       <value>
//		}
//		reply {
//			<name> <value>
//		}
//	}
//
// A value in backticks (or a heredoc) is an expr-lang expression; a bare or
// double-quoted value is a literal string. <expr> is always an expression.
// Expressions are compiled as they are parsed, so a mistake is reported
// with its file and line.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if !d.NextArg() {
		return d.Errf("a flow is required (one of %s)", flowNames())
	}
	h.Flow = d.Val()
	f, ok := flows[h.Flow]
	if !ok {
		return d.Errf("unknown flow %q (want one of %s)", h.Flow, flowNames())
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := newExprChecker(f)
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return d.Errf("%s already specified", name)
		}
		seen[name] = true
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if known[sub] && !commonSubdirectives[sub] && !slices.Contains(f.subdirectives(), sub) {
			return d.Errf("%s does not use %s", h.Flow, sub)
		}
		switch sub {
		case "max_body":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 {
				return d.Errf("max_body: invalid size %q", v)
			}
			h.MaxBody = int64(n)
		case "call":
			if err := once(sub); err != nil {
				return err
			}
			c, _, err := parseCall(d, chk, false)
			if err != nil {
				return err
			}
			h.Call = c
		case "on_failed", "on_cancelled":
			if err := once(sub); err != nil {
				return err
			}
			c, _, err := parseCall(d, chk, false)
			if err != nil {
				return err
			}
			if sub == "on_failed" {
				h.OnFailed = c
			} else {
				h.OnCancelled = c
			}
		case "requery":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v != "off" {
				return d.Errf("requery takes only off (it is on by default), not %q", v)
			}
			h.SkipRequery = true
		case "redirect":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if err := chk.request(d, v, mappings.KindString); err != nil {
				return err
			}
			h.Redirect = v
		case "bill":
			if err := once(sub); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Bill = map[string]string{}
			for n := d.Nesting(); d.NextBlock(n); {
				name := d.Val()
				kind, ok := billFields[name]
				if !ok {
					return d.Errf("bill: unknown field %q (want amount, merchant_reference, callback_url, redirect_url)", name)
				}
				if _, dup := h.Bill[name]; dup {
					return d.Errf("bill %s already specified", name)
				}
				if !d.NextArg() {
					return d.ArgErr()
				}
				src := exprOrLiteral(d)
				if d.NextArg() {
					return d.ArgErr()
				}
				if err := chk.request(d, src, kind); err != nil {
					return err
				}
				h.Bill[name] = src
			}
		case "lookup":
			if err := once(sub); err != nil {
				return err
			}
			c, found, err := parseCall(d, chk, true)
			if err != nil {
				return err
			}
			if found == "" {
				return d.Err("lookup: found <expr> is required")
			}
			h.Lookup = &Lookup{Call: *c, Found: found}
		case "when":
			var r Rule
			if !d.AllArgs(&r.When, &r.Outcome) {
				return d.ArgErr()
			}
			if _, err := bill24.ParseOutcome(r.Outcome); err != nil {
				return d.Errf("when: %v", err)
			}
			if err := chk.response(d, r.When, mappings.KindBool); err != nil {
				return err
			}
			h.Rules = append(h.Rules, r)
		case "message":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 {
				return d.ArgErr()
			}
			if _, err := bill24.ParseOutcome(args[0]); err != nil {
				return d.Errf("message: %v", err)
			}
			if h.Messages == nil {
				h.Messages = map[string]bill24.Message{}
			}
			if _, dup := h.Messages[args[0]]; dup {
				return d.Errf("message %s already specified", args[0])
			}
			m := bill24.Message{EN: args[1]}
			if len(args) == 3 {
				m.KH = args[2]
			}
			h.Messages[args[0]] = m
		case "reply":
			if err := once(sub); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Reply = map[string]string{}
			for n := d.Nesting(); d.NextBlock(n); {
				name := d.Val()
				mk, ok := proxyFields[name]
				if !ok && h.Flow == "bill24_proxy" {
					return d.Errf("reply: unknown field %q (want one of %s)", name, strings.Join(ProxyReplyFields(), ", "))
				}
				if _, dup := h.Reply[name]; dup {
					return d.Errf("reply %s already specified", name)
				}
				if !d.NextArg() {
					return d.ArgErr()
				}
				src := exprOrLiteral(d)
				if d.NextArg() {
					return d.ArgErr()
				}
				kind := mappings.KindAny
				if ok {
					kind, _, _ = mk(&bill24.ProxyData{})
				}
				if err := chk.response(d, src, kind); err != nil {
					return err
				}
				h.Reply[name] = src
			}
		case "success":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if err := chk.response(d, v, mappings.KindBool); err != nil {
				return err
			}
			h.Success = v
		case "on_duplicate":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v != "replay" && v != "error" {
				return d.Errf("on_duplicate must be replay or error, not %q", v)
			}
			h.OnDuplicate = v
		case "on_store_error":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v != "reject" && v != "allow" {
				return d.Errf("on_store_error must be reject or allow, not %q", v)
			}
			h.OnStoreError = v
		case "duplicate_wait", "lease", "retention":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return d.Errf("%s: invalid duration %q", sub, v)
			}
			*map[string]*caddy.Duration{"duplicate_wait": &h.DuplicateWait, "lease": &h.Lease, "retention": &h.Retention}[sub] = caddy.Duration(dur)
		case "idempotency_header":
			if err := once(sub); err != nil {
				return err
			}
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v == "off" {
				v = "-"
			}
			h.IdempotencyHeader = v
		default:
			return d.Errf("unrecognized subdirective '%s'", sub)
		}
	}
	if h.Call == nil && slices.Contains(f.subdirectives(), "call") {
		return d.Err("a call <method> <path> block is required")
	}
	return nil
}

// commonSubdirectives are accepted by every flow.
var commonSubdirectives = map[string]bool{"max_body": true}

// known are all handler subdirectives; a flow accepts the common ones and
// those its subdirectives method lists.
var known = map[string]bool{
	"max_body": true, "call": true, "when": true, "message": true, "reply": true,
	"success": true, "lookup": true, "on_duplicate": true, "duplicate_wait": true,
	"lease": true, "retention": true, "idempotency_header": true, "on_store_error": true,
	"on_failed": true, "on_cancelled": true, "requery": true, "redirect": true, "bill": true,
}

// parseCall parses `call|lookup <method> <path> { … }`. With lookup set,
// `found <expr>` is accepted and returned.
func parseCall(d *caddyfile.Dispenser, chk *exprChecker, lookup bool) (*Call, string, error) {
	name := d.Val()
	var c Call
	if !d.NextArg() {
		return nil, "", d.ArgErr()
	}
	c.Method = strings.ToUpper(d.Val())
	if !validMethod(c.Method) {
		return nil, "", d.Errf("%s: invalid method %q", name, d.Val())
	}
	if !d.NextArg() {
		return nil, "", d.ArgErr()
	}
	c.Path = exprOrLiteral(d)
	if err := chk.request(d, c.Path, mappings.KindString); err != nil {
		return nil, "", err
	}
	if d.NextArg() {
		return nil, "", d.ArgErr()
	}
	var found string
	seen := map[string]bool{}
	for n := d.Nesting(); d.NextBlock(n); {
		sub := d.Val()
		switch sub {
		case "query", "header", "field":
			if !d.NextArg() {
				return nil, "", d.ArgErr()
			}
			key := d.Val()
			if seen[sub+" "+key] {
				return nil, "", d.Errf("%s %s already specified", sub, key)
			}
			seen[sub+" "+key] = true
			if !d.NextArg() {
				return nil, "", d.ArgErr()
			}
			ne := NamedExpr{Name: key, Expr: exprOrLiteral(d)}
			if d.NextArg() {
				return nil, "", d.ArgErr()
			}
			kind := mappings.KindString
			if sub == "field" && c.Encode != mappings.EncodeForm && c.Encode != mappings.EncodeQuery {
				kind = mappings.KindAny
			}
			if err := chk.request(d, ne.Expr, kind); err != nil {
				return nil, "", err
			}
			switch sub {
			case "query":
				c.Query = append(c.Query, ne)
			case "header":
				c.Headers = append(c.Headers, ne)
			default:
				c.Fields = append(c.Fields, ne)
			}
		case "encode":
			if seen[sub] {
				return nil, "", d.Errf("encode already specified")
			}
			seen[sub] = true
			v, err := oneArg(d)
			if err != nil {
				return nil, "", err
			}
			if v != mappings.EncodeJSON && v != mappings.EncodeForm && v != mappings.EncodeQuery {
				return nil, "", d.Errf("encode must be json, form or query, not %q", v)
			}
			if len(c.Fields) > 0 {
				return nil, "", d.Err("encode must come before the fields")
			}
			c.Encode = v
		case "body":
			if seen[sub] {
				return nil, "", d.Errf("body already specified")
			}
			seen[sub] = true
			v, err := oneArg(d)
			if err != nil {
				return nil, "", err
			}
			if err := chk.request(d, v, mappings.KindAny); err != nil {
				return nil, "", err
			}
			c.Body = v
		case "found":
			if !lookup {
				return nil, "", d.Errf("unrecognized subdirective '%s'", sub)
			}
			if found != "" {
				return nil, "", d.Errf("found already specified")
			}
			v, err := oneArg(d)
			if err != nil {
				return nil, "", err
			}
			if err := chk.response(d, v, mappings.KindBool); err != nil {
				return nil, "", err
			}
			found = v
		default:
			return nil, "", d.Errf("unrecognized subdirective '%s'", sub)
		}
	}
	if len(c.Fields) > 0 && c.Body != "" {
		return nil, "", d.Errf("%s: use field or body, not both", name)
	}
	if c.Body != "" && c.Encode != "" && c.Encode != mappings.EncodeJSON {
		return nil, "", d.Errf("%s: body is for encode json; use fields for %s", name, c.Encode)
	}
	return &c, found, nil
}

// oneArg reads exactly one argument.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// exprOrLiteral returns the current token as an expression: as written if
// it was in backticks or a heredoc, else as a quoted string literal.
func exprOrLiteral(d *caddyfile.Dispenser) string {
	raw := d.ValRaw()
	if strings.HasPrefix(raw, "`") || d.Token().Quoted() && raw == d.Val() {
		return d.Val()
	}
	return strconv.Quote(d.Val())
}

// exprChecker compiles expressions while the Caddyfile is parsed, so errors
// carry the file and line. Provision compiles them again for JSON configs.
type exprChecker struct {
	comp           *mappings.Compiler
	reqEnv, resEnv any
}

func newExprChecker(f flow) *exprChecker {
	req, res := f.envs()
	return &exprChecker{comp: mappings.NewCompiler(mappings.DefaultExponents()), reqEnv: req, resEnv: res}
}

func (c *exprChecker) request(d *caddyfile.Dispenser, src string, kind mappings.Kind) error {
	return c.check(d, src, c.reqEnv, kind)
}

func (c *exprChecker) response(d *caddyfile.Dispenser, src string, kind mappings.Kind) error {
	return c.check(d, src, c.resEnv, kind)
}

func (c *exprChecker) check(d *caddyfile.Dispenser, src string, env any, kind mappings.Kind) error {
	if _, err := c.comp.Compile(src, env, kind); err != nil {
		return d.Errf("%s: %v", fmt.Sprintf("`%s`", truncateForLog(src)), err)
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
