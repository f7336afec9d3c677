package billbridge

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
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
//		max_body  <size>
//		namespace <name>
//		<the flow's subdirectives>
//	}
//
// The handler keeps the subdirectives every flow shares (max_body,
// namespace) and
// hands the rest of the block, with its file and line, to the flow's own
// parser (module billbridge.flows.<flow>), which refuses what it does not
// know.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if !d.NextArg() {
		return d.Errf("a flow is required (one of %s)", flowNames())
	}
	nameTok := d.Token()
	id := "billbridge.flows." + d.Val()
	if _, err := caddy.GetModule(id); err != nil {
		return d.Errf("unknown flow %q (want one of %s)", d.Val(), flowNames())
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	tokens := []caddyfile.Token{nameTok}
	seen := Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "namespace":
			if err := seen.Check(d); err != nil {
				return err
			}
			v, err := OneArg(d)
			if err != nil {
				return err
			}
			if !validNamespace(v) {
				return d.Errf("namespace %q: use letters, digits, '-' and '_'", v)
			}
			if isGateway(v) {
				return d.Errf("namespace %q is a gateway's name: the admin API could not tell its events from the gateway's own", v)
			}
			h.Namespace = v
		case "max_body":
			if err := seen.Check(d); err != nil {
				return err
			}
			v, err := OneArg(d)
			if err != nil {
				return err
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > math.MaxInt64 {
				return d.Errf("max_body: invalid size %q", v)
			}
			h.MaxBody = int64(n)
		case "log_sample":
			if err := seen.Check(d); err != nil {
				return err
			}
			v, err := OneArg(d)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return d.Errf("log_sample: want a whole number of at least 1 (one line in every n), not %q", v)
			}
			h.LogSample = n
		default:
			seg := d.NextSegment()
			if len(tokens) == 1 {
				open := nameTok
				open.Text = "{"
				tokens = append(tokens, open)
			}
			tokens = append(tokens, seg...)
		}
	}
	if len(tokens) > 1 {
		// The loop stops on the block's own closing brace.
		tokens = append(tokens, d.Token())
	}
	fd := caddyfile.NewDispenser(tokens)
	fd.Next() // onto the flow's name, where UnmarshalModule starts
	unm, err := caddyfile.UnmarshalModule(fd, id)
	if err != nil {
		return err
	}
	h.FlowRaw = caddyconfig.JSONModuleObject(unm, "name", nameTok.Text, nil)
	return nil
}

// flowNames lists the registered flows, for error messages.
func flowNames() string {
	mods := caddy.GetModules("billbridge.flows")
	names := make([]string, 0, len(mods))
	for _, m := range mods {
		names = append(names, m.ID.Name())
	}
	return strings.Join(names, ", ")
}

// Once refuses a subdirective given twice in one block.
type Once map[string]bool

// Check reports the current subdirective if it was seen before.
func (o Once) Check(d *caddyfile.Dispenser) error {
	if o[d.Val()] {
		return d.Errf("%s already specified", d.Val())
	}
	o[d.Val()] = true
	return nil
}

// DurationArg reads exactly one positive duration argument.
func DurationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	v, err := OneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: invalid duration %q", name, v)
	}
	return caddy.Duration(dur), nil
}

// ParseCall parses `call|lookup <method> <path> { … }`. With lookup set,
// `found <expr>` is accepted and returned.
func ParseCall(d *caddyfile.Dispenser, chk *ExprChecker, lookup bool) (*Call, string, error) {
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
	var err error
	if c.Path, err = ExprOrLiteral(d); err != nil {
		return nil, "", err
	}
	if err := chk.Request(d, c.Path, mappings.KindString); err != nil {
		return nil, "", err
	}
	if err := checkCallSetting(d, c.Path, false); err != nil {
		return nil, "", err
	}
	if lit, ok := literalOf(c.Path); !ok || !strings.Contains(lit, "{") {
		// A literal with placeholders is checked once they are resolved,
		// when the config loads.
		if err := checkPathExpr(c.Path); err != nil {
			return nil, "", d.Errf("%s path: %v", name, err)
		}
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
			expr, err := ExprOrLiteral(d)
			if err != nil {
				return nil, "", err
			}
			ne := NamedExpr{Name: key, Expr: expr}
			if err := checkCallSetting(d, ne.Expr, sub == "header"); err != nil {
				return nil, "", err
			}
			if d.NextArg() {
				return nil, "", d.ArgErr()
			}
			kind := mappings.KindString
			if sub == "field" && c.Encode != mappings.EncodeForm && c.Encode != mappings.EncodeQuery {
				kind = mappings.KindAny
			}
			if err := chk.Request(d, ne.Expr, kind); err != nil {
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
			v, err := OneArg(d)
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
			v, err := OneArg(d)
			if err != nil {
				return nil, "", err
			}
			if err := chk.Request(d, v, mappings.KindAny); err != nil {
				return nil, "", err
			}
			if err := checkCallSetting(d, v, false); err != nil {
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
			v, err := OneArg(d)
			if err != nil {
				return nil, "", err
			}
			if err := chk.Response(d, v, mappings.KindBool); err != nil {
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

// checkCallSetting refuses, with the line, the placeholders that would not
// work (placeholderProblem). {env.*} and {file.*} are left for the config
// load to resolve (and refuse if unset): the adapted JSON never holds a
// secret.
func checkCallSetting(d *caddyfile.Dispenser, src string, header bool) error {
	if err := placeholderProblem(src, header); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// OneArg reads exactly one argument.
func OneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// ExprOrLiteral returns the current token as an expression: as written if
// it was in backticks or a heredoc, else as a quoted string literal.
//
// A bare or double-quoted value that reads as an expression (req.amount,
// urlquery(req.id), "res.status == 200", 'USD') is an error: sent as its
// own text it would validate and then post the words "req.amount". Text
// that merely has dots, slashes or dashes (application/json, no-cache,
// 2024-01-01, shop.example.com, {env.X}) is a literal. For the text of an
// expression-like value, write a string inside backticks: `"req.amount"`.
func ExprOrLiteral(d *caddyfile.Dispenser) (string, error) {
	raw := d.ValRaw()
	if strings.HasPrefix(raw, "`") || d.Token().Quoted() && raw == d.Val() {
		return d.Val(), nil
	}
	if why := readsAsExpr(d.Val()); why != "" {
		return "", d.Errf("%s reads as an expression (%s), but without backticks it is sent as this text: write `%s` for the expression, or `%s` for the text",
			text.Truncate(d.Val(), 64), why, text.Truncate(d.Val(), 64), text.Truncate(strconv.Quote(d.Val()), 64))
	}
	return strconv.Quote(d.Val()), nil
}

// readsAsExpr says why a literal value looks like a mapping expression, or
// returns "". It errs towards literal text: only what no merchant writes
// as data counts (a req./res. reference, a function call, a comparison, a
// logic or ?? operator, a ternary, a quoted string, a list or map).
func readsAsExpr(v string) string {
	t := strings.TrimSpace(v)
	for _, root := range []string{"req", "res"} {
		if strings.HasPrefix(t, root+".") || strings.HasPrefix(t, root+"[") || strings.HasPrefix(t, root+"?.") ||
			strings.Contains(t, "{"+root+".") {
			return "it reads " + root
		}
	}
	if m := callPrefix.FindString(t); m != "" {
		return "a call of " + strings.TrimSuffix(m, "(")
	}
	tree, err := parser.Parse(t)
	if err != nil {
		return ""
	}
	why := ""
	switch tree.Node.(type) {
	case *ast.StringNode:
		return "a quoted string"
	case *ast.ArrayNode, *ast.MapNode:
		return "a list or map"
	}
	ast.Walk(&tree.Node, visitor(func(n *ast.Node) {
		if why != "" {
			return
		}
		switch x := (*n).(type) {
		case *ast.MemberNode:
			if id, ok := x.Node.(*ast.IdentifierNode); ok && (id.Value == "req" || id.Value == "res") {
				why = "it reads " + id.Value
			}
		case *ast.CallNode:
			if id, ok := x.Callee.(*ast.IdentifierNode); ok && strings.Contains(t, id.Value+"(") {
				why = "a call of " + id.Value
			}
		case *ast.BuiltinNode:
			if strings.Contains(t, x.Name+"(") {
				why = "a call of " + x.Name
			}
		case *ast.ConditionalNode:
			why = "a ternary"
		case *ast.BinaryNode:
			switch x.Operator {
			case "==", "!=", "<=", ">=", "&&", "||", "??":
				why = "the operator " + x.Operator
			case "+":
				_, l := x.Left.(*ast.StringNode)
				_, r := x.Right.(*ast.StringNode)
				if l || r {
					why = "a string concatenation"
				}
			}
		}
	}))
	return why
}

// callPrefix matches a value that opens with a function call: a name and
// its parenthesis, as in urlquery(req.id.
var callPrefix = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\(`)

// ExprChecker compiles expressions while the Caddyfile is parsed, so errors
// carry the file and line. Provision compiles them again for JSON configs.
type ExprChecker struct {
	comp           *mappings.Compiler
	reqEnv, resEnv any
}

// NewExprChecker checks expressions against a flow's request and answer
// environments.
func NewExprChecker(reqEnv, resEnv any) *ExprChecker {
	return &ExprChecker{comp: mappings.NewCompiler(mappings.DefaultExponents()), reqEnv: reqEnv, resEnv: resEnv}
}

// Request checks an expression over the request environment.
func (c *ExprChecker) Request(d *caddyfile.Dispenser, src string, kind mappings.Kind) error {
	return c.check(d, src, c.reqEnv, kind)
}

// Response checks an expression over the answer environment.
func (c *ExprChecker) Response(d *caddyfile.Dispenser, src string, kind mappings.Kind) error {
	return c.check(d, src, c.resEnv, kind)
}

// Check checks an expression over env.
func (c *ExprChecker) Check(d *caddyfile.Dispenser, src string, env any, kind mappings.Kind) error {
	return c.check(d, src, env, kind)
}

func (c *ExprChecker) check(d *caddyfile.Dispenser, src string, env any, kind mappings.Kind) error {
	if _, err := c.comp.Compile(src, env, kind); err != nil {
		return d.Errf("%s: %v", fmt.Sprintf("`%s`", text.Truncate(src, 64)), err)
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// oneArg is OneArg, for the app's parser.
func oneArg(d *caddyfile.Dispenser) (string, error) { return OneArg(d) }
