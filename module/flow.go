package billbridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// flow is what makes one gateway conversation differ from another; the
// pipeline in handler.go and once.go does the rest.
type flow interface {
	// envs returns zero values of the environments its request-side and
	// answer-side mappings are compiled against.
	envs() (req, res any)
	// subdirectives lists the handler subdirectives the flow uses beyond
	// max_body and call; the Caddyfile parser refuses the others.
	subdirectives() []string
	// movesMoney reports whether the flow posts payments (and so claims
	// events in the store and logs each one at info).
	movesMoney() bool
	// provision compiles the flow's mappings and checks its settings.
	provision(h *Handler) error
	// authenticate checks the gateway's credentials.
	authenticate(h *Handler, r *http.Request) bool
	// decode parses and validates the request. An event with an id moves
	// money and goes through the store; one without is a lookup.
	decode(h *Handler, r *http.Request, body []byte) (event, error)
	// verify confirms the event with the gateway, where the flow can: it
	// returns the event to act on (QM's verified bill replaces what the
	// callback claimed), or the answer to give instead.
	verify(h *Handler, r *http.Request, ev event) (event, *result)
	// settle turns the legacy call's outcome into the gateway's answer.
	settle(h *Handler, ev event, c callOutcome) result
	// envelope writes an error message in the gateway's format, of
	// contentType.
	envelope(status int, msg string) []byte
	contentType() string
	// duplicate is the answer to a finished event under on_duplicate error.
	duplicate() []byte
}

// flows are the flows a handler can run, by name.
var flows = map[string]flow{
	"bill24_proxy":   bill24Proxy{},
	"bill24_webhook": bill24Webhook{},
	"qm_callback":    qmCallback{},
	"qm_redirect":    qmRedirect{},
	"qm_create_bill": qmCreateBill{},
}

func flowNames() string {
	names := make([]string, 0, len(flows))
	for n := range flows {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// event is a decoded gateway request.
type event struct {
	payload     any
	env         any                         // the request environment mappings run in
	respond     func(mappings.Response) any // the answer environment for a legacy answer
	id          string                      // store key for flows that move money; "" otherwise
	fingerprint string
	logID       string        // what the log shows of it
	call        *compiledCall // the legacy call to make, if not the flow's call
	noCall      bool          // nothing to send to the legacy API: settle at once
}

// callOutcome is what a legacy call produced.
type callOutcome struct {
	answer *legacyAnswer
	res    mappings.Response // answer decoded for mappings
	err    error             // a mapping error or a *callError
	known  bool              // the legacy system has it (lookup), or has nothing to be told
}

// callLegacy builds the flow's call from its mappings and sends it.
func (h *Handler) callLegacy(r *http.Request, ev event, idempotent bool) callOutcome {
	if ev.noCall {
		return callOutcome{known: true}
	}
	cc := h.compiled.call
	if ev.call != nil {
		cc = ev.call
	}
	ctx := r.Context()
	if idempotent {
		// A payment post runs to its end (bounded by the legacy timeout)
		// even if the gateway hangs up: then it is recorded as done and the
		// gateway's retry is a replay, rather than a cut call that leaves
		// the payment ambiguous.
		ctx = context.WithoutCancel(ctx)
	}
	return h.runCall(ctx, cc, ev, idempotent)
}

func (h *Handler) runCall(ctx context.Context, cc *compiledCall, ev event, idempotent bool) callOutcome {
	lr, err := cc.build(ev.env)
	if err != nil {
		return callOutcome{err: &mappingError{err}}
	}
	if idempotent && h.IdempotencyHeader != "-" {
		if lr.header == nil {
			lr.header = make(http.Header, 1)
		}
		if lr.header.Get(h.IdempotencyHeader) == "" {
			lr.header.Set(h.IdempotencyHeader, ev.idempotencyKey())
		}
	}
	start := time.Now()
	ans, err := h.app.Legacy.do(ctx, lr)
	h.metrics.observeLegacy(h.Flow, ans.status, err, time.Since(start))
	if err != nil {
		return callOutcome{err: err}
	}
	return callOutcome{answer: &ans, res: mappings.NewResponse(ans.status, ans.header, ans.body)}
}

// mappingError is a mapping that failed to run on this request.
type mappingError struct{ err error }

func (e *mappingError) Error() string { return "mapping: " + e.err.Error() }
func (e *mappingError) Unwrap() error { return e.err }

// idempotencyKey is what the legacy API is told identifies the payment.
func (ev event) idempotencyKey() string {
	if i := strings.LastIndexByte(ev.id, ':'); i >= 0 {
		return ev.id[i+1:]
	}
	return ev.id
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads at most limit bytes of the request body; more is an
// *http.MaxBytesError.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return bytes.Clone(buf.Bytes()), nil
}
