package billbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves billbridge's routes on Caddy's admin endpoint: the
// store's record of one event, for a person looking into a payment (a
// conflict, a retry that never came); the events in custody, and what an
// operator does with them (admin_events.go); the health report.
type adminAPI struct {
	// running is the app of the running config (activeApp.Load).
	running func() *App
	// logger records what operators did.
	logger *zap.Logger
}

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

// Provision finds the running app and the admin logger. Caddy provisions
// admin routers before the config's apps, so the app is looked up on each
// request.
func (a *adminAPI) Provision(ctx caddy.Context) error {
	a.running = activeApp.Load
	a.logger = ctx.Logger(a)
	return nil
}

// Routes returns the admin routes.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: eventsPath, Handler: caddy.AdminHandlerFunc(a.events)},
		{Pattern: eventsPath + "/", Handler: caddy.AdminHandlerFunc(a.events)},
		{Pattern: "/billbridge/health", Handler: caddy.AdminHandlerFunc(a.health)},
	}
}

// storeTimeout bounds each store call of the admin API.
const storeTimeout = 5 * time.Second

// app returns the running app, or the error that says none is.
func (a *adminAPI) app() (*App, error) {
	running := a.running
	if running == nil { // not provisioned: Caddy always provisions
		running = activeApp.Load
	}
	return runningApp(running)
}

// runningApp returns the app running returns, or the error that says none
// is: the admin API and the console read the running config's app on each
// request.
func runningApp(running func() *App) (*App, error) {
	if app := running(); app != nil {
		return app, nil
	}
	return nil, caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("billbridge is not running")}
}

// queue returns the app's store as a Queue, or the error that says it
// keeps no events in custody.
func (a *App) queue() (store.Queue, error) {
	q, ok := a.store.(store.Queue)
	if !ok {
		return nil, caddy.APIError{HTTPStatus: http.StatusNotImplemented,
			Err: fmt.Errorf("the store (%s) keeps no events in custody: listing, redelivering and discarding need one that does", a.storeName())}
	}
	return q, nil
}

// storeCtx bounds a store call made for r.
func storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}

// storeFailed is the answer to a store that did not answer.
func storeFailed(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("the store did not answer: %w", err)}
}

// allow answers 405 unless r's method is want.
func allow(w http.ResponseWriter, r *http.Request, want string) error {
	if r.Method == want {
		return nil
	}
	w.Header().Set("Allow", want)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use %s", r.Method, want)}
}

// health serves the health report, 200 or 503.
func (a *adminAPI) health(w http.ResponseWriter, r *http.Request) error {
	if err := allow(w, r, http.MethodGet); err != nil {
		return err
	}
	app, err := a.app()
	if err != nil {
		return err
	}
	return writeHealth(w, app.Health(r.Context()))
}

// Interface guards
var (
	_ caddy.AdminRouter = (*adminAPI)(nil)
	_ caddy.Provisioner = (*adminAPI)(nil)
)
