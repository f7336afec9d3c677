package billbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// Call describes a legacy API call. Every value but the method is an
// expression; the Caddyfile turns a bare word into a quoted literal.
//
// A value that is one string literal is a literal setting: its {env.*},
// {file.*} and {system.*} placeholders are resolved when the config loads
// (an empty one is an error), and in a header value request placeholders
// ({http.request.header.traceparent}) are resolved for every request; see
// placeholders.go. The path is checked when the config loads: a literal
// must be a legal legacy path, and gateway data in an expression must go
// through urlpath or urlquery (see checkPathExpr).
type Call struct {
	// Method is the HTTP method, e.g. GET or POST.
	Method string `json:"method,omitempty"`
	// Path is an expression giving the path and optional query, joined to
	// the legacy base URL, e.g. `"/api/customers?code=" + urlquery(req.consumer_code)`.
	Path string `json:"path,omitempty"`
	// Query adds query parameters, in order, each an expression.
	Query []NamedExpr `json:"query,omitempty"`
	// Headers adds request headers, each an expression.
	Headers []NamedExpr `json:"headers,omitempty"`
	// Encode is how Fields are sent: json (default), form, or query.
	Encode string `json:"encode,omitempty"`
	// Fields are the body's fields, in order, each an expression.
	Fields []NamedExpr `json:"fields,omitempty"`
	// Body is one expression giving the whole body (a map for json), as an
	// alternative to Fields.
	Body string `json:"body,omitempty"`
}

// NamedExpr is a name and the expression giving its value.
type NamedExpr struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// CompiledCall is a Call ready to run.
type CompiledCall struct {
	method  string
	path    *mappings.Program
	query   []namedProgram
	headers []namedProgram
	encode  string
	fields  []namedProgram
	body    *mappings.Program
	batch   *mappings.Batch // all of the above, in one pass: path, query, headers, fields, body
}

type namedProgram struct {
	name       string
	prog       *mappings.Program
	perRequest bool // a literal with request placeholders (headers only)
}

// CompileCall compiles a call against the request environment env. where
// names the setting in error messages.
func CompileCall(c *Call, comp *mappings.Compiler, env any, where string) (*CompiledCall, error) {
	if c == nil {
		return nil, fmt.Errorf("%s: a legacy call is required", where)
	}
	cc := &CompiledCall{method: strings.ToUpper(c.Method), encode: c.Encode}
	if cc.method == "" {
		cc.method = http.MethodGet
	}
	if !validMethod(cc.method) {
		return nil, fmt.Errorf("%s: invalid method %q", where, c.Method)
	}
	switch cc.encode {
	case "":
		cc.encode = mappings.EncodeJSON
	case mappings.EncodeJSON, mappings.EncodeForm, mappings.EncodeQuery:
	default:
		return nil, fmt.Errorf("%s: encode must be json, form or query, not %q", where, c.Encode)
	}
	if len(c.Fields) > 0 && c.Body != "" {
		return nil, fmt.Errorf("%s: use fields or body, not both", where)
	}
	path, _, err := prepareSetting(c.Path, false)
	if err != nil {
		return nil, fmt.Errorf("%s path: %w", where, err)
	}
	if cc.path, err = comp.Compile(path, env, mappings.KindString); err != nil {
		return nil, fmt.Errorf("%s path: %w", where, err)
	}
	if err := checkPathExpr(path); err != nil {
		return nil, fmt.Errorf("%s path: %w", where, err)
	}
	compileList := func(list []NamedExpr, what string, kind mappings.Kind) ([]namedProgram, error) {
		out := make([]namedProgram, 0, len(list))
		seen := map[string]bool{}
		for _, ne := range list {
			if ne.Name == "" {
				return nil, fmt.Errorf("%s %s: a name is required", where, what)
			}
			if seen[ne.Name] {
				return nil, fmt.Errorf("%s %s %s: given twice", where, what, ne.Name)
			}
			seen[ne.Name] = true
			src, perRequest, err := prepareSetting(ne.Expr, what == "header")
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", where, what, ne.Name, err)
			}
			p, err := comp.Compile(src, env, kind)
			if err != nil {
				return nil, fmt.Errorf("%s %s %s: %w", where, what, ne.Name, err)
			}
			out = append(out, namedProgram{ne.Name, p, perRequest})
		}
		return out, nil
	}
	if cc.query, err = compileList(c.Query, "query", mappings.KindString); err != nil {
		return nil, err
	}
	if cc.headers, err = compileList(c.Headers, "header", mappings.KindString); err != nil {
		return nil, err
	}
	fieldKind := mappings.KindAny
	if cc.encode != mappings.EncodeJSON {
		fieldKind = mappings.KindString
	}
	if cc.fields, err = compileList(c.Fields, "field", fieldKind); err != nil {
		return nil, err
	}
	if c.Body != "" {
		if cc.encode != mappings.EncodeJSON {
			return nil, fmt.Errorf("%s: body is for encode json; use fields for %s", where, cc.encode)
		}
		body, _, err := prepareSetting(c.Body, false)
		if err != nil {
			return nil, fmt.Errorf("%s body: %w", where, err)
		}
		if cc.body, err = comp.Compile(body, env, mappings.KindAny); err != nil {
			return nil, fmt.Errorf("%s body: %w", where, err)
		}
	}
	progs := []*mappings.Program{cc.path}
	for _, list := range [][]namedProgram{cc.query, cc.headers, cc.fields} {
		for _, np := range list {
			progs = append(progs, np.prog)
		}
	}
	if cc.body != nil {
		progs = append(progs, cc.body)
	}
	cc.batch = comp.NewBatch(progs, env)
	return cc, nil
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
		return true
	}
	return false
}

// prepareSetting readies a call setting for compiling: a literal gets its
// load placeholders resolved (request placeholders are left in a header's,
// for resolveRequest, and refused elsewhere); an expression must hold no
// placeholder, which nothing would replace.
func prepareSetting(src string, header bool) (string, bool, error) {
	if err := placeholderProblem(src, header); err != nil {
		return "", false, err
	}
	lit, ok := literalOf(src)
	if !ok {
		return src, false, nil
	}
	v, perRequest, err := resolveAtLoad(lit)
	if err != nil {
		return "", false, err
	}
	if header && strings.ContainsAny(v, "\r\n") {
		return "", false, errors.New("the value has a line break")
	}
	if v == lit {
		return src, perRequest, nil
	}
	return strconv.Quote(v), perRequest, nil
}

// build runs the call's mappings against env. ctx is the gateway
// request's: its Caddy replacer fills the headers' request placeholders.
// A path that the data makes illegal (a consumer code of "..") is a
// *pathError: the gateway's fault, answered 400, never sent.
func (cc *CompiledCall) build(ctx context.Context, env any) (legacyRequest, error) {
	lr := legacyRequest{method: cc.method}
	vals, bad, err := cc.batch.Run(env)
	if err != nil {
		return lr, fmt.Errorf("%s: %w", cc.describe(bad), err)
	}
	if lr.pathQuery, err = mappings.Text(vals[0]); err != nil {
		return lr, fmt.Errorf("path: %w", err)
	}
	if _, err := legacyPath(lr.pathQuery); err != nil {
		return lr, err
	}
	vals = vals[1:]
	take := func(list []namedProgram) []mappings.Field {
		out := make([]mappings.Field, len(list))
		for i, np := range list {
			out[i] = mappings.Field{Name: np.name, Value: vals[i]}
		}
		vals = vals[len(list):]
		return out
	}
	query, headers, fields := take(cc.query), take(cc.headers), take(cc.fields)
	if len(query) > 0 {
		if lr.query, err = mappings.EncodeValues(query); err != nil {
			return lr, fmt.Errorf("query %w", err)
		}
	}
	if len(headers) > 0 {
		lr.header = make(http.Header, len(headers))
		for i, h := range headers {
			v, err := mappings.Text(h.Value)
			if err != nil {
				return lr, fmt.Errorf("header %s: %w", h.Name, err)
			}
			if cc.headers[i].perRequest {
				if v = resolveRequest(ctx, v); v == "" {
					continue // e.g. no traceparent on this request: none sent
				}
			}
			if strings.ContainsAny(v, "\r\n") {
				return lr, fmt.Errorf("header %s: value contains a line break", h.Name)
			}
			lr.header.Set(h.Name, v)
		}
	}
	switch {
	case cc.body != nil:
		if lr.body, err = mappings.EncodeJSONValue(vals[0]); err != nil {
			return lr, fmt.Errorf("body: %w", err)
		}
		lr.contentType = "application/json; charset=utf-8"
	case len(fields) > 0:
		switch cc.encode {
		case mappings.EncodeJSON:
			if lr.body, err = mappings.EncodeJSONFields(fields); err != nil {
				return lr, err
			}
			lr.contentType = "application/json; charset=utf-8"
		case mappings.EncodeForm:
			s, err := mappings.EncodeValues(fields)
			if err != nil {
				return lr, err
			}
			lr.body = []byte(s)
			lr.contentType = "application/x-www-form-urlencoded; charset=utf-8"
		case mappings.EncodeQuery:
			s, err := mappings.EncodeValues(fields)
			if err != nil {
				return lr, err
			}
			if lr.query != "" {
				s = lr.query + "&" + s
			}
			lr.query = s
		}
	}
	return lr, nil
}

// describe names the mapping at index i of the batch, for errors.
func (cc *CompiledCall) describe(i int) string {
	if i == 0 {
		return "path"
	}
	i--
	for _, l := range []struct {
		what string
		list []namedProgram
	}{{"query", cc.query}, {"header", cc.headers}, {"field", cc.fields}} {
		if i < len(l.list) {
			return l.what + " " + l.list[i].name
		}
		i -= len(l.list)
	}
	return "body"
}
