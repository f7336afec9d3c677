package billbridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler answers one gateway flow on the merchant's behalf. It holds what
// every flow shares and loads the flow itself as a guest module (namespace
// billbridge.flows), the way encode loads its encoders: the flow decodes
// and verifies the gateway's request and writes its envelopes, and the
// pipeline (pipeline.go) does the rest, the same way for every flow.
type Handler struct {
	// FlowRaw is the flow: a billbridge.flows module, named by "name"
	// (bill24_proxy, bill24_webhook, qm_callback, qm_redirect,
	// qm_create_bill), with its own settings beside the name.
	FlowRaw json.RawMessage `json:"flow,omitempty" caddy:"namespace=billbridge.flows inline_key=name"`

	// MaxBody bounds the gateway's request body, in bytes. Default: 64 KiB.
	// A larger body is answered 413.
	MaxBody int64 `json:"max_body,omitempty"`

	// Namespace keeps this handler's records apart from other handlers of
	// the same flow: two sites with their own mappings and legacy systems
	// must not replay each other's answers. Default: none, one namespace
	// per flow. Changing it forgets the records kept under the old one.
	Namespace string `json:"namespace,omitempty"`

	// LogSample keeps one in every LogSample lines of the events that
	// went well (answered below 400 and logged at info or below), for
	// busy sites; refusals, warnings and errors are always logged.
	// Default: 1, every line.
	LogSample int `json:"log_sample,omitempty"`

	flow    Flow
	profile Profile
	name    string
	gateway string // the first part of the profile's key: bill24, qm
	app     *App
	store   store.Store
	logger  *zap.Logger
	events  *caddyevents.App
	ctx     caddy.Context
	metrics *flowMetrics
	logged  *atomic.Uint64 // lines that went well, for LogSample
}

// JSONType is the content type of JSON answers.
const JSONType = "application/json; charset=utf-8"

const defaultMaxBody = 64 << 10

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.billbridge",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the flow, which compiles its own mappings, and connects
// the handler to the app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.ctx = ctx
	h.logger = ctx.Logger()
	if h.FlowRaw == nil {
		return errors.New("a flow is required")
	}
	app, err := AppFrom(ctx)
	if err != nil {
		return err
	}
	h.app = app
	h.store = app.store
	if h.LogSample < 0 {
		return fmt.Errorf("log_sample must be at least 1, got %d", h.LogSample)
	}
	h.logged = new(atomic.Uint64)
	if h.MaxBody <= 0 {
		h.MaxBody = defaultMaxBody
	}
	if _, standalone := standaloneApp(ctx); !standalone {
		if eventsApp, err := ctx.App("events"); err == nil {
			h.events = eventsApp.(*caddyevents.App)
		}
	}
	h.metrics = registerMetrics(ctx.GetMetricsRegistry(), h.logger)

	mod, err := ctx.LoadModule(h, "FlowRaw")
	if err != nil {
		return fmt.Errorf("loading flow: %w", err)
	}
	f, ok := mod.(Flow)
	if !ok {
		return fmt.Errorf("module %T is not a billbridge flow", mod)
	}
	h.flow = f
	h.name = strings.TrimPrefix(string(f.CaddyModule().ID), "billbridge.flows.")
	h.profile = f.Profile()
	if h.profile.Key == "" || len(h.profile.Methods) == 0 || h.profile.ContentType == "" {
		return fmt.Errorf("flow %s: incomplete profile", h.name)
	}
	h.gateway, _, _ = strings.Cut(h.profile.Key, ":")
	if h.Namespace != "" {
		if !validNamespace(h.Namespace) {
			return fmt.Errorf("namespace %q: use letters, digits, '-' and '_'", h.Namespace)
		}
		if isGateway(h.Namespace) {
			// The admin API reads a first segment that names a gateway as one.
			return fmt.Errorf("namespace %q is a gateway's name: the admin API could not tell its events from the gateway's own", h.Namespace)
		}
		h.profile.Key = h.Namespace + ":" + h.profile.Key
	}
	if p := h.profile.Payment; p != nil {
		if p.success == nil {
			return fmt.Errorf("flow %s: payment settings not provisioned", h.name)
		}
		if _, standalone := standaloneApp(ctx); standalone {
			// A dry run or a contract test shows the legacy call a worker
			// would make, in the same request.
			p.Deliver = deliverSync
		}
		if p.queued() {
			if err := app.holdFor(h); err != nil {
				return err
			}
		}
	}
	return nil
}

func validNamespace(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'; !ok {
			return false
		}
	}
	return true
}

// AppFrom returns the billbridge app of the config being provisioned; a
// flow calls it in its Provision for the shared settings.
func AppFrom(ctx caddy.Context) (*App, error) {
	app, ok := standaloneApp(ctx)
	if !ok {
		a, err := ctx.App("billbridge")
		if err != nil {
			return nil, err
		}
		app = a.(*App)
	}
	if app.Legacy == nil {
		return nil, fmt.Errorf("no legacy upstream: %w", errNoApp)
	}
	return app, nil
}

// call builds a legacy call from its mappings and sends it. Payment calls
// carry the gateway's id as the idempotency header.
func (h *Handler) call(ctx context.Context, cc *CompiledCall, ev *Event, payment bool) Outcome {
	lr, err := cc.build(ctx, ev.Env)
	if err != nil {
		return Outcome{Err: &mappingError{err}}
	}
	if payment {
		h.profile.Payment.idempotency(&lr, ev.ID)
	}
	start := time.Now()
	ans, err := h.app.Legacy.do(ctx, lr)
	h.metrics.observeLegacy(h.name, ans.status, err, time.Since(start))
	if err != nil {
		return Outcome{Err: err}
	}
	return Outcome{Answered: true, Res: mappings.NewResponse(ans.status, ans.header, ans.body)}
}

// mappingError is a mapping that failed to run on this request.
type mappingError struct{ err error }

func (e *mappingError) Error() string { return "mapping: " + e.err.Error() }
func (e *mappingError) Unwrap() error { return e.err }

// newOwner returns a random claim owner token.
func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Mask hides the middle of personal values (consumer codes, phone
// numbers) in logs: "CU003035" -> "CU****35".
func Mask(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return "****"
	}
	keep := 2
	out := make([]rune, 0, len(r))
	out = append(out, r[:keep]...)
	for range r[keep : len(r)-keep] {
		out = append(out, '*')
	}
	return string(append(out, r[len(r)-keep:]...))
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads at most limit bytes of the request body; more is an
// *http.MaxBytesError.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return bytes.Clone(buf.Bytes()), nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
