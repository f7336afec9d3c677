package qm

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

func init() {
	caddy.RegisterModule(Redirect{})
}

// Redirect is where the customer's browser comes back from QM, with
// ?billId=&merchantReference=&status=. The query's status is never
// believed: the bill is asked for again and the browser is sent (302) to a
// legacy page built from QM's answer.
type Redirect struct {
	// Redirect builds the page the customer is sent to, from the verified
	// bill: a path on this site or an http(s) URL.
	Redirect string `json:"redirect,omitempty"`

	app      *billbridge.App
	redirect *mappings.Program
}

// CaddyModule returns the Caddy module information.
func (Redirect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.qm_redirect",
		New: func() caddy.Module { return new(Redirect) },
	}
}

// Provision compiles the redirect expression.
func (f *Redirect) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFor(ctx, "qm")
	if err != nil {
		return err
	}
	f.app = app
	if f.Redirect == "" {
		return errors.New("redirect <expr> is required: where to send the customer, built from the verified bill")
	}
	if f.redirect, err = app.Compiler().Compile(f.Redirect, reqEnv{}, mappings.KindString); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	return nil
}

// Profile describes the flow to the pipeline.
func (f *Redirect) Profile() billbridge.Profile {
	return billbridge.Profile{Key: "qm:redirect", Methods: []string{http.MethodGet, http.MethodHead}, ContentType: "text/html; charset=utf-8"}
}

// Authenticate accepts anyone: the bill is requeried.
func (f *Redirect) Authenticate(*http.Request, []byte) bool { return true }

// Decode reads the bill id from the query; nothing else in it is used.
func (f *Redirect) Decode(r *http.Request, _ []byte) (*billbridge.Event, error) {
	id := r.URL.Query().Get("billId")
	if id == "" {
		return nil, errors.New("this link is missing its bill reference (billId)")
	}
	// The rule Requery holds an id to, so that what is refused here is
	// exactly what QM would never be asked about.
	if wire.CheckBillID(id) != nil {
		return nil, errors.New("this link's bill reference is not valid")
	}
	ev := billEvent(wire.Bill{BillID: id})
	ev.ID = "" // moves no money
	return ev, nil
}

// Verify replaces the bill with QM's.
func (f *Redirect) Verify(ctx context.Context, ev *billbridge.Event) billbridge.Result {
	bill, stop := requery(ctx, f.app, ev.LogID, true)
	if stop != nil {
		return *stop
	}
	*ev = *billEvent(bill)
	ev.ID = ""
	return billbridge.Result{Verdict: billbridge.Verified}
}

// Answer sends the browser to the page built from the verified bill. The
// target is checked after the expression has run, since the bill's data
// (a merchant reference) is part of it: a target a browser could read as
// another host, or as a climb out of the page it names, gets the 400 page.
func (f *Redirect) Answer(ev *billbridge.Event, _ billbridge.Outcome) billbridge.Result {
	to, err := f.redirect.String(ev.Env)
	if err != nil {
		return billbridge.Stop(billbridge.Internal, "We could not send you back to the shop. Please contact the merchant.", err)
	}
	if err := checkRedirect(to); err != nil {
		return billbridge.Stop(billbridge.BadRequest, "We could not send you back to the shop: this bill's return address is not valid. Please contact the merchant.",
			fmt.Errorf("redirect %q: %w", text.Clean(to, 64), err))
	}
	return billbridge.Result{
		Verdict: billbridge.Answered,
		Status:  http.StatusFound,
		Label:   "redirected",
		Header:  http.Header{"Location": {to}},
		Body:    []byte(`<a href="` + html.EscapeString(to) + `">Continue</a>`),
	}
}

// maxRedirect bounds a redirect target, in bytes: beyond it browsers and
// proxies start cutting URLs.
const maxRedirect = 2048

// checkRedirect accepts a path on this site ("/orders/1?paid=1") or an
// absolute http(s) URL whose host is plain, and says why it refuses
// anything else. It is stricter than Go's url parser on purpose: a
// browser parses by the WHATWG URL standard, which first strips every
// tab, CR and LF (so "/\t/evil.example" is "//evil.example", another
// host), reads a backslash as a slash in http(s) URLs ("/\\evil.example"),
// takes "https:evil.example" as a host, and resolves "." and ".." segments
// (also as %2e). Refusing what the two parsers could read differently
// leaves only targets they agree on.
func checkRedirect(to string) error {
	switch {
	case to == "":
		return errors.New("empty")
	case len(to) > maxRedirect:
		return fmt.Errorf("longer than %d bytes", maxRedirect)
	case !utf8.ValidString(to):
		return errors.New("not valid UTF-8")
	}
	if i := strings.IndexFunc(to, invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(to[i:])
		return fmt.Errorf("holds %U at byte %d: a browser drops or misreads control characters and spaces", r, i)
	}
	if strings.ContainsRune(to, '\\') {
		return errors.New("holds a backslash, which a browser reads as a slash")
	}
	var u *url.URL
	var err error
	if strings.HasPrefix(to, "/") {
		low := strings.ToLower(to)
		if strings.HasPrefix(to, "//") || strings.HasPrefix(low, "/%2f") || strings.HasPrefix(low, "/%5c") {
			return errors.New("starts with two slashes: a browser reads it as another host")
		}
		if u, err = url.Parse(to); err != nil {
			return errors.New("not a valid path")
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			return errors.New("not a path on this site")
		}
	} else {
		scheme, _, ok := strings.Cut(to, "://")
		if !ok || !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "http") {
			return errors.New("neither a path on this site (/…) nor an http(s) URL (https://…)")
		}
		if u, err = url.Parse(to); err != nil {
			return errors.New("not a valid URL")
		}
		if u.User != nil || strings.Contains(u.Host, "@") {
			return errors.New("holds user information (…@host), which hides the real host")
		}
		if !plainHost(u.Host) {
			return fmt.Errorf("host %q is not a plain host name, IP address and port", text.Clean(u.Host, 64))
		}
	}
	// u.Path is decoded: %2e is a dot, %2f a slash, %5c a backslash.
	if strings.ContainsRune(u.Path, '\\') || strings.ContainsFunc(u.Path, unicode.IsControl) {
		return errors.New("its path decodes to a backslash or a control character")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("its path has a dot segment (. or .., also as %2e), which climbs out of the page")
		}
	}
	return nil
}

// invisible reports the runes a target may not hold: control characters,
// white space (a browser drops a tab or a newline; a space is no URL
// character) and invisible formatting characters (zero-width and
// bidirectional marks that make a URL read as another).
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
}

// plainHost reports whether host (with an optional port) is an ASCII host
// name, an IPv4 address or a bracketed IPv6 address.
func plainHost(host string) bool {
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		port := host[i+1:]
		name = host[:i]
		if port == "" || len(port) > 5 || strings.ContainsFunc(port, func(r rune) bool { return r < '0' || r > '9' }) {
			return false
		}
	}
	if strings.HasPrefix(name, "[") {
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"))
		return err == nil && ip.Is6() && strings.HasSuffix(name, "]")
	}
	if name == "" || len(name) > 253 || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '.'
	})
}

// Envelope is a small page for a person, not a machine.
func (f *Redirect) Envelope(_ int, msg string) []byte {
	return []byte("<!doctype html><meta charset=utf-8><title>Payment</title><p>" + html.EscapeString(msg) + "</p>\n")
}

// UnmarshalCaddyfile sets up the flow. Syntax:
//
//	qm_redirect {
//		redirect <value>
//	}
func (f *Redirect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(reqEnv{}, resEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "redirect" {
			return d.Errf("unrecognized subdirective '%s' in qm_redirect", d.Val())
		}
		if err := seen.Check(d); err != nil {
			return err
		}
		v, err := billbridge.OneArg(d)
		if err != nil {
			return err
		}
		if err := chk.Request(d, v, mappings.KindString); err != nil {
			return err
		}
		f.Redirect = v
	}
	if f.Redirect == "" {
		return d.Err("redirect <expr> is required")
	}
	return nil
}

// Interface guards
var (
	_ billbridge.Flow       = (*Redirect)(nil)
	_ billbridge.Verifier   = (*Redirect)(nil)
	_ billbridge.Answerer   = (*Redirect)(nil)
	_ caddyfile.Unmarshaler = (*Redirect)(nil)
)
