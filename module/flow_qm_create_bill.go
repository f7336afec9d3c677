package billbridge

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/qm"
)

// qmCreateBill lets the legacy system create a QM bill in its own format:
// mappings build QM's create request, billbridge signs and sends it, and
// QM's answer is mapped back, so the legacy system never learns MD5
// signing.
type qmCreateBill struct{}

// LegacyRequest is what the legacy system sent, as mappings see it (req).
type LegacyRequest struct {
	// Body is decoded by content type, like a legacy answer's.
	Body   any               `expr:"body"`
	Query  map[string]string `expr:"query"`
	Header map[string]string `expr:"header"`
	// Host is the host the legacy system called, for building URLs.
	Host string `expr:"host"`
}

// createEnv is what reply mappings see: the legacy request and QM's bill.
type createEnv struct {
	Req LegacyRequest  `expr:"req"`
	Res qm.CreatedBill `expr:"res"`
}

type createReqEnv = mappings.RequestEnv[LegacyRequest]

// billFields are the create request's fields and their kinds.
var billFields = map[string]mappings.Kind{
	"amount": mappings.KindDecimal, "merchant_reference": mappings.KindString,
	"callback_url": mappings.KindString, "redirect_url": mappings.KindString,
}

// Default paths of the callback and redirect routes, on the host the
// legacy system called, when the bill block does not give URLs.
const (
	defaultCallbackPath = "/qm/callback"
	defaultRedirectPath = "/qm/return"
)

func (qmCreateBill) envs() (req, res any) { return createReqEnv{}, createEnv{} }

func (qmCreateBill) movesMoney() bool { return true }

func (qmCreateBill) subdirectives() []string { return []string{"bill", "reply"} }

func (qmCreateBill) provision(h *Handler) error {
	if h.app.QM == nil {
		return fmt.Errorf("%s: no qm settings: %w", h.Flow, errNoApp)
	}
	if h.Bill["amount"] == "" {
		return errors.New("bill: amount is required")
	}
	h.compiled.bill = map[string]*mappings.Program{}
	for _, name := range sortedKeys(h.Bill) {
		kind, ok := billFields[name]
		if !ok {
			return fmt.Errorf("bill: unknown field %q (want amount, merchant_reference, callback_url, redirect_url)", name)
		}
		p, err := h.app.compiler.Compile(h.Bill[name], createReqEnv{}, kind)
		if err != nil {
			return fmt.Errorf("bill %s: %v", name, err)
		}
		h.compiled.bill[name] = p
	}
	for _, name := range sortedKeys(h.Reply) {
		p, err := h.app.compiler.Compile(h.Reply[name], createEnv{}, mappings.KindAny)
		if err != nil {
			return fmt.Errorf("reply %s: %v", name, err)
		}
		h.compiled.reply = append(h.compiled.reply, replyField{name: name, prog: p})
	}
	return nil
}

// authenticate accepts the legacy system; restrict this route to it with
// Caddy's remote_ip matcher.
func (qmCreateBill) authenticate(h *Handler, r *http.Request) bool { return true }

func (qmCreateBill) decode(h *Handler, r *http.Request, body []byte) (event, error) {
	req := LegacyRequest{
		Body:   mappings.DecodeBody(r.Header.Get("Content-Type"), body),
		Query:  firstValues(r.URL.Query()),
		Header: firstValues(r.Header),
		Host:   r.Host,
	}
	return event{payload: req, env: createReqEnv{Req: req}, noCall: true}, nil
}

func firstValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func (qmCreateBill) verify(h *Handler, r *http.Request, ev event) (event, *result) {
	req := ev.payload.(LegacyRequest)
	cb, err := buildBill(h, ev.env, req, r)
	if err != nil {
		res := h.fail(http.StatusBadRequest, "bad_request", err.Error(), nil)
		return ev, &res
	}
	bill, err := h.app.QM.client.CreateBill(r.Context(), cb)
	if err != nil {
		var apiErr *qm.APIError
		switch {
		case errors.As(err, &apiErr) && !apiErr.Temporary():
			res := h.fail(http.StatusBadGateway, "qm_refused", "Quantum Metal refused the bill: "+apiErr.Message, err)
			return ev, &res
		case qm.IsTemporary(err):
			// A create that may have reached QM is not retried here: the
			// legacy system decides, knowing its own order.
			res := h.retryable("qm_unavailable", "Quantum Metal is unavailable; the bill may or may not exist, check before retrying", err)
			return ev, &res
		}
		res := h.fail(http.StatusBadGateway, "qm_failed", "unexpected answer from Quantum Metal", err)
		return ev, &res
	}
	if bill.BillAmount.Cmp(cb.Amount) != 0 {
		res := h.fail(http.StatusBadGateway, "qm_amount_mismatch",
			fmt.Sprintf("Quantum Metal billed %s, not %s", bill.BillAmount, cb.Amount), nil)
		return ev, &res
	}
	ev.payload = createEnv{Req: req, Res: bill}
	return ev, nil
}

// buildBill runs the bill mappings into QM's create request.
func buildBill(h *Handler, env any, req LegacyRequest, r *http.Request) (qm.CreateBillRequest, error) {
	var cb qm.CreateBillRequest
	var err error
	if cb.Amount, err = h.compiled.bill["amount"].Decimal(env); err != nil {
		return cb, fmt.Errorf("amount: %w", err)
	}
	if cb.Amount.Sign() <= 0 {
		return cb, fmt.Errorf("amount must be positive, got %s", cb.Amount)
	}
	str := func(name, def string) (string, error) {
		p := h.compiled.bill[name]
		if p == nil {
			return def, nil
		}
		v, err := p.String(env)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return v, nil
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	if cb.MerchantReference, err = str("merchant_reference", ""); err != nil {
		return cb, err
	}
	if cb.CallbackURL, err = str("callback_url", scheme+"://"+req.Host+defaultCallbackPath); err != nil {
		return cb, err
	}
	if cb.RedirectURL, err = str("redirect_url", scheme+"://"+req.Host+defaultRedirectPath); err != nil {
		return cb, err
	}
	return cb, nil
}

func (qmCreateBill) settle(h *Handler, ev event, _ callOutcome) result {
	env := ev.payload.(createEnv)
	var body []byte
	var err error
	if len(h.compiled.reply) == 0 {
		body, err = mappings.EncodeJSONValue(map[string]any{
			"billId": env.Res.BillID, "billUrl": env.Res.BillURL, "expiredOn": env.Res.ExpiredOn,
			"billAmount": env.Res.BillAmount, "requireGCAmount": env.Res.RequireGCAmount,
			"currency": env.Res.Currency, "merchantReference": env.Res.MerchantReference,
		})
	} else {
		out := make(map[string]any, len(h.compiled.reply))
		for _, f := range h.compiled.reply {
			v, err := f.prog.Run(env)
			if err != nil {
				return h.fail(http.StatusBadGateway, "mapping_failed", "cannot map Quantum Metal's answer", fmt.Errorf("reply %s: %w", f.name, err))
			}
			out[f.name] = v
		}
		body, err = mappings.EncodeJSONValue(out)
	}
	if err != nil {
		return h.fail(http.StatusInternalServerError, "internal", "cannot encode the answer", err)
	}
	return result{status: http.StatusOK, body: body, outcome: "created", eventID: env.Res.BillID}
}

func (qmCreateBill) contentType() string { return jsonType }

func (qmCreateBill) envelope(status int, msg string) []byte {
	b, _ := mappings.EncodeJSONValue(map[string]any{"error": msg})
	return b
}

func (qmCreateBill) duplicate() []byte { return nil }
