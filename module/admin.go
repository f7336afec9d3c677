package billbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves GET /billbridge/events/<gateway>/<flow>/<id> on Caddy's
// admin endpoint: the store's record of one event, for a person looking
// into a payment (a conflict, a retry that never came).
type adminAPI struct{}

// activeStore is the store of the running config; admin modules are
// instantiated apart from apps, so they find it here.
var activeStore atomic.Pointer[store.Store]

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.billbridge",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (a adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/billbridge/events/", Handler: caddy.AdminHandlerFunc(a.event)},
		{Pattern: "/billbridge/health", Handler: caddy.AdminHandlerFunc(a.health)},
	}
}

// eventView is what the admin API shows of a record: never the owner token.
type eventView struct {
	Key         string    `json:"key"`
	State       string    `json:"state"`
	Fingerprint string    `json:"fingerprint"`
	Ambiguous   bool      `json:"ambiguous"`
	Attempts    int       `json:"attempts"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
	Response    *struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response,omitempty"`
}

// health serves the health report, 200 or 503.
func (adminAPI) health(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
	}
	app := activeApp.Load()
	if app == nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("billbridge is not running")}
	}
	return writeHealth(w, app.Health(r.Context()))
}

func (adminAPI) event(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
	}
	key := strings.TrimPrefix(r.URL.Path, "/billbridge/events/")
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("want /billbridge/events/<gateway>/<flow>/<id>, e.g. /billbridge/events/bill24/webhook/348b4b16-…")}
	}
	s := activeStore.Load()
	if s == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("billbridge is not running")}
	}
	key = strings.Join(parts, ":")
	rec, found, err := (*s).Get(r.Context(), key)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("store: %w", err)}
	}
	if !found {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no record of %s (never seen, or older than retention)", key)}
	}
	v := eventView{Key: key, State: string(rec.State), Fingerprint: rec.Fingerprint, Ambiguous: rec.Ambiguous,
		Attempts: rec.Attempts, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	if rec.State == store.StateProcessing {
		v.LeaseUntil = rec.LeaseUntil
	}
	if rec.State == store.StateDone {
		v.Response = &struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		}{rec.Response.Status, rec.Response.Body}
		if !json.Valid(rec.Response.Body) {
			v.Response.Body, _ = json.Marshal(string(rec.Response.Body))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// Interface guards
var _ caddy.AdminRouter = adminAPI{}
