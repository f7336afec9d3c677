package billbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(HealthHandler{})
	httpcaddyfile.RegisterHandlerDirective("billbridge_health", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		var hh HealthHandler
		return &hh, hh.UnmarshalCaddyfile(h.Dispenser)
	})
	httpcaddyfile.RegisterDirectiveOrder("billbridge_health", httpcaddyfile.Before, "respond")
}

// activeApp is the app of the running config, for the admin API's and the
// health handler's reports.
var activeApp atomic.Pointer[App]

// upstream remembers how the last calls to one upstream went.
type upstream struct {
	mu          sync.Mutex
	lastError   string
	lastErrorAt time.Time
	lastOKAt    time.Time
}

func (u *upstream) ok() {
	u.mu.Lock()
	u.lastOKAt = time.Now()
	u.mu.Unlock()
}

func (u *upstream) failed(what string) {
	u.mu.Lock()
	u.lastError, u.lastErrorAt = what, time.Now()
	u.mu.Unlock()
}

// UpstreamReport is what the health report says of one upstream.
type UpstreamReport struct {
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastOKAt    time.Time `json:"last_ok_at,omitzero"`
}

func (u *upstream) report() UpstreamReport {
	u.mu.Lock()
	defer u.mu.Unlock()
	return UpstreamReport{LastError: u.lastError, LastErrorAt: u.lastErrorAt, LastOKAt: u.lastOKAt}
}

// upstreams are the app's upstreams by name: legacy, bill24, qm.
type upstreams struct {
	legacy, bill24, qm upstream
}

// of names the upstream a verdict speaks of, for a flow's gateway
// (the first part of its profile key).
func (u *upstreams) of(v Verdict, gateway string) *upstream {
	switch v {
	case LegacyFailed, LegacyTimeout, LegacyUnreachable, Posted, Already, FoundByLookup, LookupFailed, LegacyRefused:
		return &u.legacy
	case VerifyUnavailable, UpstreamDown, UpstreamFailed, Verified:
		switch gateway {
		case "bill24":
			return &u.bill24
		case "qm":
			return &u.qm
		}
	}
	return nil
}

// Health is billbridge's health report.
type Health struct {
	// Status is ok, or down when the store cannot be reached.
	Status string                    `json:"status"`
	Store  store.Health              `json:"store"`
	Calls  map[string]UpstreamReport `json:"upstreams"`
	// Custody counts the payments held for delivery, when the store
	// holds any: by state, and the age of the oldest one not delivered.
	Custody *CustodyReport `json:"custody,omitempty"`
}

// CustodyReport is the health report's view of the payments held.
type CustodyReport struct {
	Queued     int `json:"queued"`
	Processing int `json:"processing"`
	Dead       int `json:"dead"`
	// OldestQueuedSeconds is how long the oldest payment not yet
	// delivered has waited; 0 when none waits.
	OldestQueuedSeconds float64 `json:"oldest_queued_seconds"`
}

// custodyReport reads the store's custody counts; nil when it holds none
// or cannot say.
func custodyReport(ctx context.Context, s store.Store) *CustodyReport {
	q, ok := s.(store.Queue)
	if !ok {
		return nil
	}
	st, err := q.Stats(ctx)
	if err != nil || len(st.Count) == 0 {
		return nil
	}
	var r CustodyReport
	for _, byState := range st.Count {
		r.Queued += byState[store.StateQueued]
		r.Processing += byState[store.StateProcessing]
		r.Dead += byState[store.StateDead]
	}
	if !st.OldestQueued.IsZero() {
		r.OldestQueuedSeconds = time.Since(st.OldestQueued).Round(time.Second).Seconds()
	}
	return &r
}

// Health reports on the app: the store answers within a second, is
// durable (where it can tell), and how the upstreams' last calls went.
func (a *App) Health(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	h := Health{Status: "ok", Store: store.HealthOf(ctx, a.store), Calls: map[string]UpstreamReport{"legacy": a.calls.legacy.report()}}
	if a.Bill24 != nil && a.Bill24.Verify != nil {
		h.Calls["bill24"] = a.calls.bill24.report()
	}
	if a.QM != nil {
		h.Calls["qm"] = a.calls.qm.report()
	}
	if !h.Store.Reachable {
		h.Status = "down"
	} else {
		// Dead or long-queued payments are for an operator, not for the
		// load balancer: they do not make this instance unfit to serve.
		h.Custody = custodyReport(ctx, a.store)
	}
	return h
}

func writeHealth(w http.ResponseWriter, h Health) error {
	w.Header().Set("Content-Type", JSONType)
	w.Header().Set("Cache-Control", "no-store")
	if h.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	return json.NewEncoder(w).Encode(h)
}

// HealthHandler answers a load balancer's health check with the health
// report: 200 when billbridge can take payments, 503 when it cannot (the
// store is unreachable). Mount it on its own path:
//
//	handle /healthz {
//		billbridge_health
//	}
type HealthHandler struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (HealthHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.billbridge_health",
		New: func() caddy.Module { return new(HealthHandler) },
	}
}

// Provision finds the app.
func (h *HealthHandler) Provision(ctx caddy.Context) error {
	app, err := AppFrom(ctx)
	h.app = app
	return err
}

// ServeHTTP writes the report.
func (h *HealthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	return writeHealth(w, h.app.Health(r.Context()))
}

// UnmarshalCaddyfile takes no arguments and no block.
func (h *HealthHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() || d.NextBlock(d.Nesting()) {
		return d.Err("billbridge_health takes no arguments and no block")
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*HealthHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*HealthHandler)(nil)
	_ caddyfile.Unmarshaler       = (*HealthHandler)(nil)
)
