package billbridge

import (
	"crypto/subtle"
	"fmt"
	"github.com/caddyserver/caddy/v2"
	"net/http"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/qm"
)

// What the app shares with the flows, which find it with AppFrom in their
// Provision.

// AppFor returns the app of the config being provisioned, with the
// settings gateway's flows need ("bill24": a token; "qm": QM's API).
func AppFor(ctx caddy.Context, gateway string) (*App, error) {
	app, err := AppFrom(ctx)
	if err != nil {
		return nil, err
	}
	switch gateway {
	case "bill24":
		err = app.NeedBill24()
	case "qm":
		err = app.NeedQM()
	default:
		err = fmt.Errorf("unknown gateway %q", gateway)
	}
	if err != nil {
		return nil, err
	}
	return app, nil
}

// Compiler compiles mappings with the app's currency exponents.
func (a *App) Compiler() *mappings.Compiler { return a.compiler }

// Exponents are the currencies' decimal places.
func (a *App) Exponents() mappings.Exponents { return a.exps }

// NeedBill24 is the error of a Bill24 flow configured without a token.
func (a *App) NeedBill24() error {
	if a.Bill24 == nil || len(a.Bill24.tokens) == 0 {
		return fmt.Errorf("no Bill24 token: %w", errNoApp)
	}
	return nil
}

// Bill24Token checks the `token` header against every configured token in
// constant time, so a timing probe learns nothing about any of them.
func (a *App) Bill24Token(r *http.Request) bool {
	got := []byte(r.Header.Get("token"))
	ok := 0
	for _, t := range a.Bill24.tokens {
		ok |= subtle.ConstantTimeCompare(got, t)
	}
	return ok == 1 && len(got) > 0
}

// Bill24Verifier is Bill24's Transaction Verify client, nil when the
// bill24 settings have no verify block.
func (a *App) Bill24Verifier() *bill24.Verifier {
	if a.Bill24 == nil || a.Bill24.Verify == nil {
		return nil
	}
	return a.Bill24.Verify.verifier
}

// NeedQM is the error of a QM flow configured without QM's settings.
func (a *App) NeedQM() error {
	if a.QM == nil {
		return fmt.Errorf("no qm settings: %w", errNoApp)
	}
	return nil
}

// QMClient is Quantum Metal's API client.
func (a *App) QMClient() *qm.Client { return a.QM.client }

// QMSecret is QM's resolved signing secret.
func (a *App) QMSecret() string { return a.QM.secretValue }
