package billbridge

import (
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(ConsoleHandler{})
	httpcaddyfile.RegisterHandlerDirective("billbridge_console", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var c ConsoleHandler
		return &c, c.UnmarshalCaddyfile(h.Dispenser)
	})
	// Like billbridge and billbridge_health, it answers the request
	// itself; basic_auth, earlier in Caddy's order, runs first.
	httpcaddyfile.RegisterDirectiveOrder("billbridge_console", httpcaddyfile.Before, "respond")
}

// ConsoleHandler is the operations console: web pages that show the payments
// billbridge holds in custody and let a person redeliver or discard them,
// through the same code as the admin API's events routes. Mount it behind
// an authentication handler, on a path of its own:
//
//	handle_path /ops/* {
//		basic_auth {
//			ops $2a$14$...
//		}
//		billbridge_console
//	}
//
// Its links are relative, so it works wherever it is mounted. It never
// shows a payment's payload (customers' names and codes), only its size.
type ConsoleHandler struct {
	// AllowAnonymous serves the console to requests that no Caddy
	// authentication handler (basic_auth) signed in. Off, such a request
	// is refused with 403, so a console mounted without basic_auth shows
	// nothing. Turn it on only when something in front of Caddy
	// authenticates every request (it cannot be seen from here).
	AllowAnonymous bool `json:"allow_anonymous,omitempty"`

	// running is the app of the running config (activeApp.Load), as for
	// the admin API: the console acts on the store that is in use.
	running func() *App
	logger  *zap.Logger
	now     func() time.Time
	// key signs the forms' tokens (consoleKey, unless a test sets one).
	key []byte
}

// CaddyModule returns the Caddy module information.
func (ConsoleHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.billbridge_console",
		New: func() caddy.Module { return new(ConsoleHandler) },
	}
}

// Provision sets up the console. The app is looked up on each request:
// a reload replaces it.
func (c *ConsoleHandler) Provision(ctx caddy.Context) error {
	c.running = activeApp.Load
	c.logger = ctx.Logger(c)
	c.now = time.Now
	c.key = consoleKey()
	return nil
}

// The console's pages, by the last segment of the request's path; the
// rest of the path is where it is mounted.
const (
	consoleList      = ""          // ./?state=&flow=&limit=&after=   the list
	consoleEvent     = "event"     // event?e=<address>               one event
	consoleRedeliver = "redeliver" // POST e, token
	consoleDiscard   = "discard"   // GET e: the confirmation form; POST e, token, reason
)

// ServeHTTP serves the console's pages and actions.
func (c *ConsoleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")

	user := authUser(r)
	if user == "" && !c.AllowAnonymous {
		return c.refuse(w, r, http.StatusForbidden,
			"The console serves only signed-in operators: mount it behind basic_auth (or set allow_anonymous when something in front of Caddy authenticates every request).")
	}
	p := r.URL.Path
	page := p[strings.LastIndex(p, "/")+1:]
	switch page {
	case consoleList:
		if !c.method(w, r, http.MethodGet) {
			return nil
		}
		if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && !strings.HasSuffix(orig.URL.Path, "/") {
			// Mounted at /ops* and asked for /ops: the relative links
			// need the slash. The Location is relative too ("./ops/"),
			// so it cannot lead to another site.
			to := "./" + path.Base(orig.URL.EscapedPath()) + "/"
			if orig.URL.RawQuery != "" {
				to += "?" + orig.URL.RawQuery
			}
			w.Header().Set("Location", to) // not http.Redirect: it would resolve to against the stripped path
			w.WriteHeader(http.StatusPermanentRedirect)
			return nil
		}
		return c.listPage(w, r)
	case consoleEvent:
		if !c.method(w, r, http.MethodGet) {
			return nil
		}
		return c.eventPage(w, r)
	case consoleDiscard:
		if r.Method == http.MethodPost {
			return c.action(w, r, actionDiscard, user)
		}
		if !c.method(w, r, http.MethodGet, http.MethodPost) {
			return nil
		}
		return c.discardPage(w, r, user)
	case consoleRedeliver:
		if !c.method(w, r, http.MethodPost) {
			return nil
		}
		return c.action(w, r, actionRedeliver, user)
	}
	return c.fail(w, r, http.StatusNotFound, "There is no such page in the console.", "")
}

// authUser is who a Caddy authentication handler signed r in as, "" if
// none did.
func authUser(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	user, _ := repl.GetString("http.auth.user.id")
	return user
}

// method reports whether r's method is one of want (HEAD counts as GET),
// and answers 405 if it is not.
func (c *ConsoleHandler) method(w http.ResponseWriter, r *http.Request, want ...string) bool {
	for _, m := range want {
		if r.Method == m || r.Method == http.MethodHead && m == http.MethodGet {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(want, ", "))
	_ = c.refuse(w, r, http.StatusMethodNotAllowed, "This page does not take "+r.Method+" requests.")
	return false
}

// UnmarshalCaddyfile sets up the console. Syntax:
//
//	billbridge_console {
//		allow_anonymous
//	}
func (c *ConsoleHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "allow_anonymous":
			if err := seen.Check(d); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			c.AllowAnonymous = true
		default:
			return d.Errf("unknown subdirective %q (billbridge_console takes allow_anonymous)", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*ConsoleHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*ConsoleHandler)(nil)
	_ caddyfile.Unmarshaler       = (*ConsoleHandler)(nil)
)
