package billbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

// Standalone runs handlers outside a running Caddy, through the same
// provisioning and pipeline as a served request: the dry run, contract
// tests and benchmarks use it. Its app stands in for the config's.
type Standalone struct {
	App *App
	// Logger takes the handlers' log lines; default: none.
	Logger *zap.Logger
	ctx    caddy.Context
	end    context.CancelFunc
}

type standaloneKey struct{}

// NewStandalone provisions the billbridge app from its JSON config,
// changed by adjust if not nil. Its store is always the memory store:
// nothing outside is touched.
func NewStandalone(appJSON []byte, adjust func(*App)) (*Standalone, error) {
	var app App
	if len(appJSON) > 0 {
		if err := caddy.StrictUnmarshalJSON(appJSON, &app); err != nil {
			return nil, fmt.Errorf("billbridge app: %w", err)
		}
	}
	if adjust != nil {
		adjust(&app)
	}
	app.StoreRaw = json.RawMessage(`{"type":"memory"}`)
	s := &Standalone{App: &app, Logger: zap.NewNop()}
	s.ctx, s.end = caddy.NewContext(caddy.Context{Context: context.WithValue(context.Background(), standaloneKey{}, &app)})
	if err := app.Provision(s.ctx); err != nil {
		s.end()
		return nil, err
	}
	return s, nil
}

// Handler provisions a handler from its JSON config.
func (s *Standalone) Handler(handlerJSON []byte) (*Handler, error) {
	var h Handler
	if err := caddy.StrictUnmarshalJSON(handlerJSON, &h); err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	return s.provision(&h)
}

func (s *Standalone) provision(h *Handler) (*Handler, error) {
	if err := h.Provision(s.ctx); err != nil {
		return nil, err
	}
	h.logger = s.Logger
	return h, nil
}

// HandlerFromCaddyfile provisions a handler from its directive, e.g.
// "billbridge bill24_webhook { … }".
func (s *Standalone) HandlerFromCaddyfile(src string) (*Handler, error) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
		return nil, err
	}
	return s.provision(&h)
}

// Context is the Caddy context its modules are provisioned in, for tests
// that provision a flow on its own.
func (s *Standalone) Context() caddy.Context { return s.ctx }

// Close cleans up every module provisioned.
func (s *Standalone) Close() {
	s.end()
	_ = s.App.Cleanup()
}

// standaloneApp is the app of a Standalone context.
func standaloneApp(ctx caddy.Context) (*App, bool) {
	a, ok := ctx.Value(standaloneKey{}).(*App)
	return a, ok && a != nil
}

// PlayLegacy answers the handlers' legacy calls with fn instead of sending
// them: contract tests play recorded answers back, benchmarks measure the
// pipeline without a network. fn sees the request exactly as it would
// have left.
func (s *Standalone) PlayLegacy(fn func(*http.Request) (*http.Response, error)) {
	s.App.Legacy.intercept = func(r *http.Request) (*http.Response, error) {
		resp, err := fn(r)
		if resp != nil && resp.ContentLength == 0 && resp.Body != nil {
			resp.ContentLength = -1 // a played answer need not count its bytes
		}
		return resp, err
	}
}
