package billbridge

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
)

// What the app keeps for the operator's side of custody (the admin API's
// actions and the custody gauges), set up in Provision.
type custodyOps struct {
	// storeModule names the store's module, for the admin API's errors.
	storeModule caddy.ModuleID
	// events emits what operators did; nil when there is no events app
	// (a standalone app).
	events *caddyevents.App
	ctx    caddy.Context
}

// provisionCustody finds the events app and registers the custody gauges
// on this config's metrics registry. Only a configured events app is
// taken: without one, nothing subscribes to the operators' events.
func (a *App) provisionCustody(ctx caddy.Context, storeModule caddy.Module) error {
	a.ops.storeModule = storeModule.CaddyModule().ID
	a.ops.ctx = ctx
	eventsApp, err := ctx.AppIfConfigured("events")
	switch {
	case err == nil:
		a.ops.events = eventsApp.(*caddyevents.App)
	case !errors.Is(err, caddy.ErrNotConfigured):
		return err
	}
	registerCustodyMetrics(ctx.GetMetricsRegistry(), a.logger)
	return nil
}

// storeName names the store for a person: its module, or its type.
func (a *App) storeName() string {
	if a.ops.storeModule != "" {
		return string(a.ops.storeModule)
	}
	return fmt.Sprintf("%T", a.store)
}

// emit emits a Caddy event, if there is an events app.
func (a *App) emit(name string, data map[string]any) {
	if a.ops.events != nil {
		a.ops.events.Emit(a.ops.ctx, name, data)
	}
}
