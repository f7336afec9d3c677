package billbridge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// The console's pages: what each shows, built from the admin API's own
// functions (App.listEvents, App.event, App.operate), and rendered by
// console_render.go.

// consoleFrame is what every page has: its title and the summary at the
// top.
type consoleFrame struct {
	Title   string
	Summary consoleSummary
	// Bare leaves the summary out: for requests refused before anything
	// is read.
	Bare bool
}

// listView is the list of events in custody.
type listView struct {
	consoleFrame
	// The filter, as the form shows it: state and flow ("" for all, the
	// flow written as in an address), and the page size if one was asked.
	State, Flow, Limit string
	States, Flows      []string
	Rows               []listRow
	// NextLink and FirstLink page on; "" when there is no such page.
	NextLink, FirstLink string
	// Problem says why there is no list (400, 501, 503).
	Problem string
}

// listRow is one event of the list.
type listRow struct {
	State, Flow, ID, Link string
	Attempts              int
	// LastError is the reason of a dead or discarded event, the last
	// attempt's error of another.
	LastError string
	// When is the next attempt of a queued event, the end of a running
	// one's lease, the last change of any other.
	WhenLabel string
	When      shownTime
}

func (c *ConsoleHandler) listPage(w http.ResponseWriter, r *http.Request) error {
	v := listView{consoleFrame: consoleFrame{Title: "Payments in custody"}, States: stateNames()}
	q := r.URL.Query()
	v.State, v.Flow, v.Limit = q.Get("state"), q.Get("flow"), q.Get("limit")
	app, status := c.frame(r, &v.consoleFrame)
	for _, f := range v.Summary.Flows {
		v.Flows = append(v.Flows, f.Flow)
	}
	if v.Flow != "" && !slices.Contains(v.Flows, v.Flow) {
		v.Flows = append(v.Flows, v.Flow)
	}
	if app == nil {
		return c.render(w, status, "list", v)
	}
	f, err := parseListFilter(q)
	if err != nil {
		return c.renderProblem(w, "list", &v, err)
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	p, err := app.listEvents(ctx, f)
	if err != nil {
		return c.renderProblem(w, "list", &v, err)
	}
	now := c.now()
	for _, e := range p.Items {
		row := listRow{State: e.State, Flow: flowPath(e.Flow), ID: e.Key, Link: eventLink(e.Event),
			Attempts: e.Attempts}
		if ref, ok := refOf(e.Key, e.Flow); ok {
			row.ID = ref.ID
		}
		// A dead or discarded event's reason says why, usually with its
		// last error; a queued one's last attempt says what went wrong.
		if n := len(e.History); e.Reason == "" && n > 0 {
			last := e.History[n-1]
			row.LastError = last.Error
			if row.LastError == "" && last.Outcome != string(Posted) {
				row.LastError = last.Outcome
			}
		} else {
			row.LastError = e.Reason
		}
		switch {
		case !e.NextAttempt.IsZero():
			row.WhenLabel, row.When = "next attempt", timeOf(e.NextAttempt, now)
		case !e.LeaseUntil.IsZero():
			row.WhenLabel, row.When = "attempt running until", timeOf(e.LeaseUntil, now)
		default:
			row.WhenLabel, row.When = "updated", timeOf(e.UpdatedAt, now)
		}
		v.Rows = append(v.Rows, row)
	}
	keep := url.Values{}
	for _, k := range []string{"state", "flow", "limit"} {
		if s := q.Get(k); s != "" {
			keep.Set(k, s)
		}
	}
	if f.After != "" {
		v.FirstLink = "./?" + keep.Encode()
	}
	if p.Next != "" {
		keep.Set("after", p.Next)
		v.NextLink = "./?" + keep.Encode()
	}
	return c.render(w, http.StatusOK, "list", v)
}

// eventView is one event's page.
type eventPageView struct {
	consoleFrame
	Address, Flow, ID, Key string
	Event                  eventView
	// Flash says what the operator's last action did.
	Flash    string
	Timeline []step
	// Older is how many attempts the record no longer keeps.
	Older int
	// Response is the answer replayed to the gateway, as text.
	Response       string
	ResponseStatus int
	// Actions: a token for each the record's state allows; Note says why
	// none is offered.
	RedeliverToken string
	CanDiscard     bool
	Note           string
	Problem        string
}

// step is one line of an event's timeline.
type step struct {
	At           shownTime
	What         string
	Outcome      string
	LegacyStatus int
	Detail       string
	// Class colours the line: ok, fail, wait, or "".
	Class string
}

// flashes are the messages an action's redirect names (never text from
// the query, which anybody can write into a link).
var flashes = map[string]string{
	"redelivered": "Redelivered: the payment is back in the queue, due now.",
	"discarded":   "Discarded: the payment will not be delivered.",
}

func (c *ConsoleHandler) eventPage(w http.ResponseWriter, r *http.Request) error {
	v := eventPageView{consoleFrame: consoleFrame{Title: "Event"}}
	q := r.URL.Query()
	v.Flash = flashes[q.Get("flash")]
	app, status := c.frame(r, &v.consoleFrame)
	ref, err := parseEventArg(q.Get("e"))
	if err != nil {
		v.Problem = "The link names no event: " + err.Error()
		return c.render(w, http.StatusBadRequest, "event", v)
	}
	v.Address, v.Flow, v.ID, v.Key = ref.String(), flowPath(ref.Flow), ref.ID, ref.Key()
	v.Title = "Event " + ref.ID
	if app == nil {
		return c.render(w, status, "event", v)
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	e, err := app.event(ctx, ref)
	if err != nil {
		return c.renderProblem(w, "event", &v, err)
	}
	v.Event = e
	now := c.now()
	v.Timeline, v.Older = timeline(e, now)
	if e.Response != nil {
		v.ResponseStatus = e.Response.Status
		v.Response = string(e.Response.Body)
	}
	return c.offer(w, &v, app, isCustody(app), authUser(r), now)
}

// offer fills in the actions the record allows and renders the page.
func (c *ConsoleHandler) offer(w http.ResponseWriter, v *eventPageView, app *App, custody bool, user string, now time.Time) error {
	e := v.Event
	switch {
	case !custody:
		v.Note = fmt.Sprintf("The store (%s) keeps no events in custody: nothing here can be redelivered or discarded.", app.storeName())
	case e.State == string(store.StateProcessing):
		v.Note = "A delivery attempt is running: its outcome decides what comes next. Reload the page when it ends."
	case e.State == string(store.StateDone):
		v.Note = "Done: the legacy system has the payment."
	case e.State == string(store.StateDiscarded):
		v.Note = "Discarded: closed for good, it will not be delivered."
	default: // queued, dead, released
		if e.PayloadBytes > 0 {
			v.RedeliverToken = c.token(actionRedeliver, v.Key, user, now)
		} else {
			v.Note = "It was delivered synchronously and kept no payload: it cannot be redelivered from here; the gateway's own retry delivers it again."
		}
		v.CanDiscard = true
	}
	return c.render(w, http.StatusOK, "event", *v)
}

// timeline lists what happened to e, oldest first, and how many attempts
// it no longer keeps.
func timeline(e eventView, now time.Time) ([]step, int) {
	held := "claimed for delivery"
	if e.Custody {
		held = "held in custody; the gateway was answered"
	}
	steps := []step{{At: timeOf(e.CreatedAt, now), What: "received", Detail: held}}
	for _, a := range e.History {
		s := step{At: timeOf(a.At, now), What: "attempt", Outcome: a.Outcome, LegacyStatus: a.LegacyStatus, Detail: a.Error, Class: "fail"}
		if a.Outcome == string(Posted) || a.Outcome == string(Already) || a.Outcome == string(FoundByLookup) {
			s.Class = "ok"
		}
		steps = append(steps, s)
	}
	switch store.State(e.State) {
	case store.StateQueued:
		steps = append(steps, step{At: timeOf(e.NextAttempt, now), What: "next attempt", Detail: "due", Class: "wait"})
	case store.StateProcessing:
		steps = append(steps, step{At: timeOf(e.LeaseUntil, now), What: "attempt running", Detail: "its lease ends", Class: "wait"})
	case store.StateDead:
		steps = append(steps, step{At: timeOf(e.UpdatedAt, now), What: "dead", Detail: e.Reason, Class: "fail"})
	case store.StateDiscarded:
		steps = append(steps, step{At: timeOf(e.UpdatedAt, now), What: "discarded", Detail: e.Reason})
	case store.StateDone:
		steps = append(steps, step{At: timeOf(e.UpdatedAt, now), What: "done", Detail: "the legacy system has the payment", Class: "ok"})
	case store.StateReleased:
		steps = append(steps, step{At: timeOf(e.UpdatedAt, now), What: "released", Detail: "the last attempt failed; the gateway's retry delivers it", Class: "wait"})
	}
	older := e.Attempts - len(e.History)
	if e.State == string(store.StateProcessing) {
		older-- // the running attempt is counted, not yet kept
	}
	return steps, max(older, 0)
}

// discardView is the form that asks why an event is discarded.
type discardView struct {
	eventPageView
	Token string
}

func (c *ConsoleHandler) discardPage(w http.ResponseWriter, r *http.Request, user string) error {
	v := discardView{eventPageView: eventPageView{consoleFrame: consoleFrame{Title: "Discard"}}}
	app, status := c.frame(r, &v.consoleFrame)
	ref, err := parseEventArg(r.URL.Query().Get("e"))
	if err != nil {
		v.Problem = "The link names no event: " + err.Error()
		return c.render(w, http.StatusBadRequest, "discard", v)
	}
	v.Address, v.Flow, v.ID, v.Key = ref.String(), flowPath(ref.Flow), ref.ID, ref.Key()
	v.Title = "Discard " + ref.ID
	if app == nil {
		return c.render(w, status, "discard", v)
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	e, err := app.event(ctx, ref)
	if err != nil {
		return c.renderProblem(w, "discard", &v, err)
	}
	v.Event = e
	v.Token = c.token(actionDiscard, v.Key, user, c.now())
	return c.render(w, http.StatusOK, "discard", v)
}

// action runs an operator's POST: the token must be the page's, for this
// action on this event; then App.operate does it, and the answer is a
// redirect (303) to the event's page, which says what was done.
func (c *ConsoleHandler) action(w http.ResponseWriter, r *http.Request, action, user string) error {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return c.fail(w, r, http.StatusForbidden, "Refused: the form was sent from another site ("+err.Error()+").", "")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxActionBody)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, big := errors.AsType[*http.MaxBytesError](err); big {
			status = http.StatusRequestEntityTooLarge
		}
		return c.fail(w, r, status, "The form could not be read: "+err.Error(), "")
	}
	ref, err := parseEventArg(r.PostForm.Get("e"))
	if err != nil {
		return c.fail(w, r, http.StatusBadRequest, "The form names no event: "+err.Error(), "")
	}
	back := eventLink(ref.String())
	if err := c.checkToken(r.PostForm.Get("token"), action, ref.Key(), user, c.now()); err != nil {
		return c.fail(w, r, http.StatusForbidden,
			"Refused: "+err.Error()+". Open the event's page again and use its button.", back)
	}
	app, err := runningApp(c.running)
	if err != nil {
		return c.failWith(w, r, err, back)
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	op := operation{ref: ref, action: action, reason: r.PostForm.Get("reason"), remote: r.RemoteAddr, user: user, via: "console"}
	if _, err := app.operate(ctx, c.logger, op); err != nil {
		return c.failWith(w, r, err, back)
	}
	w.Header().Set("Location", back+"&flash="+action+"ed")
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// eventLink is the link to an event's page, relative to the console.
func eventLink(address string) string {
	return "event?e=" + url.QueryEscape(address)
}

// stateNames are the states the list filters on.
func stateNames() []string {
	out := make([]string, len(custodyStates))
	for i, s := range custodyStates {
		out[i] = string(s)
	}
	return out
}

// shownTime is a time as a page shows it: local, to the second, and how long
// ago or from now.
type shownTime struct {
	At, ISO, Rel string
}

func timeOf(t, now time.Time) shownTime {
	if t.IsZero() {
		return shownTime{}
	}
	s := shownTime{At: t.Local().Format("2006-01-02 15:04:05 MST"), ISO: t.UTC().Format(time.RFC3339)}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d == 0:
		s.Rel = "now"
	case d > 0:
		s.Rel = shortDuration(d) + " ago"
	default:
		s.Rel = "in " + shortDuration(-d)
	}
	return s
}

// shortDuration writes d to the largest unit or two: 45s, 3m20s, 5h12m, 3d4h.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

// apiStatus is an error's HTTP status and message.
func apiStatus(err error) (int, string) {
	if ae, ok := errors.AsType[caddy.APIError](err); ok {
		return ae.HTTPStatus, ae.Err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}
