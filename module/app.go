// Package billbridge is the Caddy glue of billbridge: the `billbridge` app
// (the global option holding what every flow shares: the store, the legacy
// upstream, the gateways' credentials) and the `billbridge <flow>` handler.
package billbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/store"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `billbridge` app: settings that all billbridge handlers share.
// It is configured by the `billbridge` global option.
type App struct {
	// Store keeps the state that makes delivery exactly-once. Default: the
	// embedded memory store (one instance only; state dies with the process).
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=billbridge.stores inline_key=type"`

	// Legacy is the merchant's existing billing API.
	Legacy *Legacy `json:"legacy,omitempty"`

	// Bill24 holds the settings of Bill24's flows.
	Bill24 *Bill24 `json:"bill24,omitempty"`

	// QM holds Quantum Metal's API settings.
	QM *QM `json:"qm,omitempty"`

	// Currencies overrides or adds currency exponents (decimal places),
	// e.g. {"KHR": 0}. Defaults: mappings.DefaultExponents.
	Currencies map[string]int32 `json:"currencies,omitempty"`

	// CurrencyDigits bounds how many integer digits a gateway's amount in
	// a currency may have, e.g. {"KHR": 12}; more is refused with 400, so
	// 1e1000 never reaches a ledger. Default: 15 for every currency.
	CurrencyDigits map[string]int32 `json:"currency_digits,omitempty"`

	store    store.Store
	custody  *custody // nil unless a flow delivers queued
	calls    *upstreams
	compiler *mappings.Compiler
	exps     mappings.Exponents
	logger   *zap.Logger
	ops      custodyOps
}

// Bill24 holds Bill24 credentials.
type Bill24 struct {
	// Tokens are the accepted values of the `token` header Bill24 sends.
	// Several may be given, so a token can be rotated without downtime.
	// Use {env.*} placeholders; they are resolved when the config loads.
	Tokens []string `json:"tokens,omitempty"`

	// Verify, when set, confirms every webhook with Bill24's Transaction
	// Verify API before it is forwarded.
	Verify *Bill24Verify `json:"verify,omitempty"`

	tokens [][]byte
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets up the app.
func (a *App) Provision(ctx caddy.Context) error {
	a.calls = new(upstreams)
	a.logger = ctx.Logger()
	a.exps = mappings.DefaultExponents()
	for code, e := range a.Currencies {
		if !mappings.ValidCurrencyCode(code) {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code", code)
		}
		if e < 0 || e > 8 {
			return fmt.Errorf("currencies: %s exponent %d out of range 0–8", code, e)
		}
		a.exps.SetExponent(code, e)
	}
	for code, n := range a.CurrencyDigits {
		if !mappings.ValidCurrencyCode(code) {
			return fmt.Errorf("currency_digits: %q is not an ISO 4217 code", code)
		}
		if n < 1 || n > 30 {
			return fmt.Errorf("currency_digits: %s bound %d out of range 1–30", code, n)
		}
		a.exps.SetMaxIntDigits(code, n)
	}
	a.compiler = mappings.NewCompiler(a.exps)

	if a.StoreRaw == nil {
		a.StoreRaw = json.RawMessage(`{"type":"memory"}`)
	}
	mod, err := ctx.LoadModule(a, "StoreRaw")
	if err != nil {
		return fmt.Errorf("loading store: %w", err)
	}
	b, ok := mod.(store.Module)
	if !ok {
		return fmt.Errorf("store module %T has no backend", mod)
	}
	a.store = b.Backend()
	if err := a.provisionCustody(ctx, b); err != nil {
		return err
	}

	if a.Legacy != nil {
		if err := a.Legacy.provision(); err != nil {
			return fmt.Errorf("legacy: %w", err)
		}
		if err := a.Legacy.provisionTransport(ctx); err != nil {
			return fmt.Errorf("legacy: %w", err)
		}
	}
	if a.Bill24 != nil {
		if err := a.Bill24.provision(); err != nil {
			return fmt.Errorf("bill24: %w", err)
		}
	}
	if a.QM != nil {
		if err := a.QM.provision(); err != nil {
			return fmt.Errorf("qm: %w", err)
		}
	}
	return nil
}

func (b *Bill24) provision() error {
	repl := caddy.NewReplacer()
	b.tokens = nil
	for i, t := range b.Tokens {
		v := repl.ReplaceAll(t, "")
		if v == "" {
			return fmt.Errorf("token %d is empty after resolving placeholders (is the environment variable set?)", i+1)
		}
		b.tokens = append(b.tokens, []byte(v))
	}
	if b.Verify != nil {
		return b.Verify.provision()
	}
	return nil
}

// Cleanup releases the app's share of the legacy HTTP client.
func (a *App) Cleanup() error {
	if a.Legacy != nil {
		a.Legacy.cleanup()
	}
	if a.Bill24 != nil && a.Bill24.Verify != nil {
		releaseClient(a.Bill24.Verify.poolKey)
	}
	if a.QM != nil {
		releaseClient(a.QM.poolKey)
	}
	return nil
}

// Start makes this config's store the one the admin API reads, and starts
// the delivery workers if a flow holds payments.
func (a *App) Start() error {
	activeStore.Store(&a.store)
	activeApp.Store(a)
	if a.custody != nil {
		a.custody.start()
	}
	return nil
}

// Stop lets go of the admin API's store, unless a newer config (started
// before this one stops) has already replaced it, and stops the delivery
// workers, waiting for the deliveries in flight.
func (a *App) Stop() error {
	activeStore.CompareAndSwap(&a.store, nil)
	activeApp.CompareAndSwap(a, nil)
	if a.custody != nil {
		a.custody.shutdown()
	}
	return nil
}

// holdFor makes h the deliverer of its flow's held payments.
func (a *App) holdFor(h *Handler) error {
	q, ok := a.store.(store.Queue)
	if !ok {
		return fmt.Errorf("deliver queued: store %T cannot hold payments", a.store)
	}
	if _, ok := h.flow.(Keeper); !ok {
		return fmt.Errorf("deliver queued: flow %s cannot be held; use deliver sync", h.name)
	}
	if a.custody == nil {
		a.custody = newCustody(q, a.logger.Named("custody"))
	}
	a.custody.register(h)
	return nil
}

// errNoApp is returned by handlers when a setting they need is missing.
var errNoApp = errors.New("configure it in the billbridge global option")

// resolve replaces global placeholders ({env.*}) in s.
func resolve(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return caddy.NewReplacer().ReplaceAll(s, "")
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
