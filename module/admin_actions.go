package billbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// An operator's actions on an event in custody: redeliver puts it back in
// the queue, due now; discard closes it for good, with a reason (a payment
// booked by hand, a test event). Each is logged at warn level and emitted
// as a Caddy event, billbridge.redelivered or billbridge.discarded.

// MaxDiscardReason bounds a discard's reason, in bytes.
const MaxDiscardReason = 500

// maxActionBody bounds an action's request body: a reason of
// MaxDiscardReason bytes written entirely in \u escapes fits.
const maxActionBody = 8 << 10

// act runs action on ref's record.
func (a *adminAPI) act(w http.ResponseWriter, r *http.Request, ref eventRef, action string) error {
	app, err := a.app()
	if err != nil {
		return err
	}
	op := operation{ref: ref, action: action, remote: r.RemoteAddr, via: "admin api"}
	if action == actionDiscard {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxActionBody+1))
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("reading the body: %w", err)}
		}
		if len(body) > maxActionBody {
			return caddy.APIError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: fmt.Errorf("the body is over %d bytes", maxActionBody)}
		}
		if op.reason, err = parseDiscard(body); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
		}
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	v, err := app.operate(ctx, a.logger, op)
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

// operation is an operator's action on one event, from the admin API or
// the console.
type operation struct {
	ref    eventRef
	action string // actionRedeliver or actionDiscard
	// reason is a discard's, as the operator gave it: operate checks it.
	reason string
	// remote is the operator's address; user is who they signed in as,
	// "" where nobody signs in (the admin endpoint).
	remote, user string
	// via names what they used: "admin api", "console".
	via string
}

// operate does op to its record, logs it at warn level to logger (if not
// nil) and emits it as a Caddy event. Its errors are caddy.APIErrors: 400
// for a bad reason, 404, 409 for a record in a state that does not allow
// it, 501 for a store without custody, 503 for a store that did not
// answer.
func (a *App) operate(ctx context.Context, logger *zap.Logger, op operation) (eventView, error) {
	q, err := a.queue()
	if err != nil {
		return eventView{}, err
	}
	ref, action, reason := op.ref, op.action, ""
	switch action {
	case actionRedeliver:
	case actionDiscard:
		if reason, err = checkReason(op.reason); err != nil {
			return eventView{}, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
		}
	default:
		return eventView{}, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("unknown action %q (want redeliver or discard)", action)}
	}
	retention := a.retentionOf(ref.Flow)
	var rec store.Record
	if action == actionRedeliver {
		rec, err = q.Redeliver(ctx, ref.Key(), retention)
	} else {
		rec, err = q.Discard(ctx, ref.Key(), reason, retention)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return eventView{}, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no record of %s (never seen, or older than retention)", ref.Key())}
	case errors.Is(err, store.ErrNoPayload):
		return eventView{}, caddy.APIError{HTTPStatus: http.StatusConflict,
			Err: fmt.Errorf("cannot %s %s: it was delivered synchronously and kept no payload; the gateway's own retry delivers it again", action, ref.Key())}
	case errors.Is(err, store.ErrWrongState):
		return eventView{}, caddy.APIError{HTTPStatus: http.StatusConflict, Err: wrongState(action, ref, rec, err)}
	case err != nil:
		return eventView{}, storeFailed(err)
	}

	name := map[string]string{actionRedeliver: "billbridge.redelivered", actionDiscard: "billbridge.discarded"}[action]
	fields := []zap.Field{zap.String("remote", op.remote), zap.String("key", ref.Key()), zap.String("state", string(rec.State)), zap.String("via", op.via)}
	data := map[string]any{"key": ref.Key(), "flow": ref.Flow, "remote": op.remote, "via": op.via}
	if op.user != "" {
		fields = append(fields, zap.String("user", op.user))
		data["user"] = op.user
	}
	if action == actionDiscard {
		fields = append(fields, zap.String("reason", reason))
		data["reason"] = reason
	}
	if logger != nil {
		logger.Warn("operator: "+action, fields...)
	}
	a.emit(name, data)
	if action == actionRedeliver {
		a.custody.wake() // due now: this instance's workers take it at once
	}
	return viewOf(ref, rec), nil
}

// wrongState says why action cannot be done to rec now.
func wrongState(action string, ref eventRef, rec store.Record, err error) error {
	switch rec.State {
	case store.StateProcessing:
		return fmt.Errorf("cannot %s %s: a delivery attempt is running; try again when it ends", action, ref.Key())
	case store.StateDone:
		return fmt.Errorf("cannot %s %s: it is done, the legacy system has it", action, ref.Key())
	case store.StateDiscarded:
		return fmt.Errorf("cannot %s %s: it was discarded (%s)", action, ref.Key(), rec.Reason)
	case "":
		return fmt.Errorf("cannot %s %s: %w", action, ref.Key(), err)
	}
	return fmt.Errorf("cannot %s %s: it is %s", action, ref.Key(), rec.State)
}

// parseDiscard reads a discard's body, {"reason":"…"}; the reason is
// required (checkReason says what it may hold).
func parseDiscard(body []byte) (string, error) {
	// encoding/json would turn bad UTF-8 into U+FFFD without a word.
	if !utf8.Valid(body) {
		return "", errors.New(`the body is not UTF-8; want {"reason":"…"}`)
	}
	var in struct {
		Reason *string `json:"reason"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return "", fmt.Errorf(`want {"reason":"…"}: %w`, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New(`want one JSON object, {"reason":"…"}`)
	}
	if in.Reason == nil {
		return "", errors.New(`a reason is required: {"reason":"…"}, saying why the payment need not be delivered`)
	}
	return checkReason(*in.Reason)
}

// checkReason checks a discard's reason, however it came (the admin API's
// JSON, the console's form): UTF-8, one line of at most MaxDiscardReason
// bytes, not empty. It returns the reason trimmed.
func checkReason(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("the reason is not UTF-8")
	}
	reason := strings.TrimSpace(s)
	switch {
	case reason == "":
		return "", errors.New("the reason is empty; say why the payment need not be delivered")
	case len(reason) > MaxDiscardReason:
		return "", fmt.Errorf("the reason is %d bytes; at most %d", len(reason), MaxDiscardReason)
	case strings.ContainsFunc(reason, func(c rune) bool { return c < ' ' || c == 0x7f }):
		return "", errors.New("the reason must be one line of text, without control characters")
	}
	return reason, nil
}
