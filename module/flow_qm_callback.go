package billbridge

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/qm"
)

// qmCallback posts a Quantum Metal bill's final status to the legacy API
// exactly once. QM's own docs say never to trust the callback: the bill is
// asked for again (Requery) and only QM's answer is acted on.
type qmCallback struct{}

type (
	qmReqEnv = mappings.RequestEnv[qm.Bill]
	qmResEnv = mappings.ResponseEnv[qm.Bill]
)

var qmAck = []byte(`{"received":true}`)

func (qmCallback) envs() (req, res any) { return qmReqEnv{}, qmResEnv{} }

func (qmCallback) movesMoney() bool { return true }

func (qmCallback) subdirectives() []string {
	return append([]string{"call", "on_failed", "on_cancelled", "requery"}, paymentSubdirectives...)
}

func (qmCallback) provision(h *Handler) error {
	if h.app.QM == nil {
		return fmt.Errorf("%s: no qm settings: %w", h.Flow, errNoApp)
	}
	if err := compilePayment(h, qmReqEnv{}, qmResEnv{}); err != nil {
		return err
	}
	var err error
	if h.OnFailed != nil {
		if h.compiled.onFailed, err = compileCall(h.OnFailed, h.app.compiler, qmReqEnv{}, "on_failed"); err != nil {
			return err
		}
	}
	if h.OnCancelled != nil {
		if h.compiled.onCancelled, err = compileCall(h.OnCancelled, h.app.compiler, qmReqEnv{}, "on_cancelled"); err != nil {
			return err
		}
	}
	if h.SkipRequery {
		h.logger.Warn("qm_callback: requery is off: callbacks are trusted as sent, and anyone who can reach this route can mark a bill paid")
	}
	return nil
}

// authenticate accepts QM's callback: QM documents no credentials on it.
// A Sign header, if QM sends one, must be right (protocols.md C.4).
func (qmCallback) authenticate(h *Handler, r *http.Request) bool { return true }

func (qmCallback) decode(h *Handler, r *http.Request, body []byte) (event, error) {
	if sign := r.Header.Get("Sign"); sign != "" && !qm.VerifySign(body, h.app.QM.secret(), sign) {
		return event{}, errors.New("Sign header does not match the body")
	}
	b, err := qm.DecodeCallback(body, h.app.exps)
	if err != nil {
		return event{}, err
	}
	return qmEvent(b, "qm:callback:"+b.BillID), nil
}

// qmEvent makes the event mappings see from a bill.
func qmEvent(b qm.Bill, id string) event {
	return event{
		payload:     b,
		env:         qmReqEnv{Req: b},
		respond:     func(res mappings.Response) any { return qmResEnv{Req: b, Res: res} },
		id:          id,
		fingerprint: b.BillID + "|" + strconv.Itoa(b.Status) + "|" + b.BillAmount.Canonical() + "|" + b.Currency,
		logID:       b.BillID,
	}
}

func (qmCallback) verify(h *Handler, r *http.Request, ev event) (event, *result) {
	claimed := ev.payload.(qm.Bill)
	bill := claimed
	if !h.SkipRequery {
		var stop *result
		if bill, stop = requery(h, r, ev); stop != nil {
			return ev, stop
		}
		switch {
		case bill.Status != claimed.Status:
			return ev, h.mismatch(r, ev, fmt.Sprintf("status %d vs %d", claimed.Status, bill.Status))
		case bill.BillAmount.Cmp(claimed.BillAmount) != 0:
			return ev, h.mismatch(r, ev, "amount "+claimed.BillAmount.String()+" vs "+bill.BillAmount.String())
		case bill.Currency != claimed.Currency:
			return ev, h.mismatch(r, ev, "currency "+claimed.Currency+" vs "+bill.Currency)
		}
	}
	if !qm.FinalStatus(bill.Status) {
		h.metrics.verify(h.Flow, "not_final")
		res := h.retryable("not_final", "bill is not final yet; call again later", nil)
		return ev, &res
	}
	h.metrics.verify(h.Flow, "verified")
	out := qmEvent(bill, ev.id)
	switch bill.Status {
	case qm.StatusFailed:
		out.call, out.noCall = h.compiled.onFailed, h.compiled.onFailed == nil
	case qm.StatusCancelled:
		out.call, out.noCall = h.compiled.onCancelled, h.compiled.onCancelled == nil
	}
	return out, nil
}

// requery asks QM for the bill the event names. Concurrent requeries of
// one bill share a single call, to stay within QM's rate limit under a
// burst of duplicates.
func requery(h *Handler, r *http.Request, ev event) (qm.Bill, *result) {
	id := ev.payload.(qm.Bill).BillID
	bill, err := requeries.do(id, func() (qm.Bill, error) { return h.app.QM.client.Requery(r.Context(), id) })
	if err == nil {
		return bill, nil
	}
	if qm.IsTemporary(err) {
		h.metrics.verify(h.Flow, "error")
		res := h.retryable("verify_unavailable", "unable to confirm the bill with Quantum Metal; retry later", err)
		return bill, &res
	}
	h.metrics.verify(h.Flow, "unknown")
	return bill, h.mismatch(r, ev, "bill unknown to Quantum Metal: "+err.Error())
}

// flight shares one requery among concurrent callers for the same bill.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	bill qm.Bill
	err  error
}

var requeries = &flight{calls: map[string]*flightCall{}}

func (f *flight) do(key string, fn func() (qm.Bill, error)) (qm.Bill, error) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.bill, c.err
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	c.bill, c.err = fn()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.bill, c.err
}

func (qmCallback) settle(h *Handler, ev event, c callOutcome) result {
	return settlePayment(h, ev, c, qmAck)
}

func (qmCallback) contentType() string { return jsonType }

func (qmCallback) envelope(status int, msg string) []byte {
	b, _ := mappings.EncodeJSONValue(map[string]any{"error": msg})
	return b
}

func (qmCallback) duplicate() []byte { return qmAck }
