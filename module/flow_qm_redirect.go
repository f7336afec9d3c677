package billbridge

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/qm"
)

// qmRedirect is where the customer's browser comes back from QM, with
// ?billId=&merchantReference=&status=. The query's status is never
// believed: the bill is asked for again and the browser is sent (302) to a
// legacy page built from QM's answer.
type qmRedirect struct{}

func (qmRedirect) envs() (req, res any) { return qmReqEnv{}, qmResEnv{} }

func (qmRedirect) movesMoney() bool { return false }

func (qmRedirect) subdirectives() []string { return []string{"redirect"} }

func (qmRedirect) provision(h *Handler) error {
	if h.app.QM == nil {
		return fmt.Errorf("%s: no qm settings: %w", h.Flow, errNoApp)
	}
	if h.Redirect == "" {
		return errors.New("redirect <expr> is required: where to send the customer, built from the verified bill")
	}
	var err error
	h.compiled.redirect, err = h.app.compiler.Compile(h.Redirect, qmReqEnv{}, mappings.KindString)
	if err != nil {
		return fmt.Errorf("redirect: %v", err)
	}
	return nil
}

func (qmRedirect) authenticate(h *Handler, r *http.Request) bool { return true }

func (qmRedirect) decode(h *Handler, r *http.Request, body []byte) (event, error) {
	id := r.URL.Query().Get("billId")
	if id == "" {
		return event{}, errors.New("this link is missing its bill reference (billId)")
	}
	if len(id) > qm.MaxIDLen || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return event{}, errors.New("this link's bill reference is not valid")
	}
	ev := qmEvent(qm.Bill{BillID: id}, "")
	ev.noCall = true
	return ev, nil
}

func (qmRedirect) verify(h *Handler, r *http.Request, ev event) (event, *result) {
	bill, err := requeries.do(ev.logID, func() (qm.Bill, error) { return h.app.QM.client.Requery(r.Context(), ev.logID) })
	if err != nil {
		if qm.IsTemporary(err) {
			res := h.fail(http.StatusBadGateway, "verify_unavailable", "We could not confirm your payment just now. Please reload this page in a moment.", err)
			return ev, &res
		}
		res := h.fail(http.StatusBadRequest, "unknown_bill", "We could not find this bill. Please go back to the shop and try again.", err)
		return ev, &res
	}
	out := qmEvent(bill, "")
	out.noCall = true
	return out, nil
}

func (qmRedirect) settle(h *Handler, ev event, _ callOutcome) result {
	to, err := h.compiled.redirect.String(ev.env)
	if err == nil && !safeRedirect(to) {
		err = fmt.Errorf("redirect %q is neither a path nor an http(s) URL", truncateForLog(to))
	}
	if err != nil {
		return h.fail(http.StatusInternalServerError, "mapping_failed", "We could not send you back to the shop. Please contact the merchant.", err)
	}
	return result{
		status:  http.StatusFound,
		header:  http.Header{"Location": {to}, "Content-Type": {"text/html; charset=utf-8"}},
		body:    []byte(`<a href="` + html.EscapeString(to) + `">Continue</a>`),
		outcome: "redirected",
	}
}

// safeRedirect accepts a path on this site or an absolute http(s) URL.
func safeRedirect(to string) bool {
	if strings.ContainsAny(to, "\r\n") {
		return false
	}
	if strings.HasPrefix(to, "/") {
		return !strings.HasPrefix(to, "//") && !strings.HasPrefix(to, "/\\")
	}
	return strings.HasPrefix(to, "https://") || strings.HasPrefix(to, "http://")
}

func (qmRedirect) contentType() string { return "text/html; charset=utf-8" }

// envelope is a small page for a person, not a machine.
func (qmRedirect) envelope(status int, msg string) []byte {
	return []byte("<!doctype html><meta charset=utf-8><title>Payment</title><p>" + html.EscapeString(msg) + "</p>\n")
}

func (qmRedirect) duplicate() []byte { return nil }
