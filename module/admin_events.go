package billbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// The events routes (admin_path.go says how an event is named):
//
//	GET  /billbridge/events?state=&flow=&limit=&after=   the records in custody, newest first, paged
//	GET  /billbridge/events/[<namespace>/]<gateway>/<flow>/<id>             one record
//	POST /billbridge/events/[<namespace>/]<gateway>/<flow>/<id>/redeliver   back in the queue, due now
//	POST /billbridge/events/[<namespace>/]<gateway>/<flow>/<id>/discard     closed for good; body {"reason":"…"}
//
// For example /billbridge/events/bill24/webhook/348b4b16-… and, under the
// namespace shop-a, /billbridge/events/shop-a/bill24/webhook/348b4b16-….
// Reads are GET only and actions POST only (405 otherwise).
func (a *adminAPI) events(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), eventsPath)
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		if err := allow(w, r, http.MethodGet); err != nil {
			return err
		}
		return a.list(w, r)
	}
	ref, action, err := parseEventPath(rest)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	if action == "" {
		if r.Method == http.MethodPost {
			w.Header().Set("Allow", http.MethodGet)
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
				Err: fmt.Errorf("POST is for the actions: %s/redeliver or %[1]s/discard", ref.Path())}
		}
		if err := allow(w, r, http.MethodGet); err != nil {
			return err
		}
		return a.show(w, r, ref)
	}
	if err := allow(w, r, http.MethodPost); err != nil {
		return err
	}
	return a.act(w, r, ref, action)
}

// show serves one record, of any store.
func (a *adminAPI) show(w http.ResponseWriter, r *http.Request, ref eventRef) error {
	app, err := a.app()
	if err != nil {
		return err
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	v, err := app.event(ctx, ref)
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

// event reads ref's record, of any store: what the admin API and the
// console show of one event.
func (a *App) event(ctx context.Context, ref eventRef) (eventView, error) {
	rec, found, err := a.store.Get(ctx, ref.Key())
	if err != nil {
		return eventView{}, storeFailed(err)
	}
	if !found {
		return eventView{}, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no record of %s (never seen, or older than retention)", ref.Key())}
	}
	return viewOf(ref, rec), nil
}

// listPage is the answer of the list.
type listPage struct {
	Items []eventView `json:"items"`
	// Next is the cursor of the next page (after=); "" on the last one.
	Next string `json:"next"`
}

// maxListLimit is the largest page the list serves (the stores' bound).
const maxListLimit = 1000

// list serves the records in custody, newest first.
func (a *adminAPI) list(w http.ResponseWriter, r *http.Request) error {
	f, err := parseListFilter(r.URL.Query())
	if err != nil {
		return err
	}
	app, err := a.app()
	if err != nil {
		return err
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	p, err := app.listEvents(ctx, f)
	if err != nil {
		return err
	}
	return writeJSON(w, p)
}

// listEvents pages the records in custody, newest first: the list of the
// admin API and of the console.
func (a *App) listEvents(ctx context.Context, f store.Filter) (listPage, error) {
	q, err := a.queue()
	if err != nil {
		return listPage{}, err
	}
	p, err := q.List(ctx, f)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return listPage{}, caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: fmt.Errorf("after: %q is not a cursor of this store's list (pass the next of the page before)", f.After)}
	case err != nil:
		return listPage{}, storeFailed(err)
	}
	out := listPage{Items: make([]eventView, 0, len(p.Items)), Next: p.Next}
	for _, d := range p.Items {
		ref, ok := refOf(d.Key, d.Record.Flow)
		v := viewOf(ref, d.Record)
		if !ok { // never so: Hold checks that the flow prefixes the key
			v.Key, v.Event, v.Flow = d.Key, "", d.Record.Flow
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// parseListFilter reads the list's query (state, flow, limit, after);
// its errors are 400s.
func parseListFilter(q url.Values) (store.Filter, error) {
	f, err := listFilter(q)
	if err != nil {
		return f, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	return f, nil
}

func listFilter(q url.Values) (store.Filter, error) {
	var f store.Filter
	for k := range q {
		switch k {
		case "state", "flow", "limit", "after":
			if len(q[k]) > 1 {
				return f, fmt.Errorf("%s given %d times", k, len(q[k]))
			}
		default:
			return f, fmt.Errorf("unknown parameter %q (want state, flow, limit, after)", k)
		}
	}
	if s := store.State(q.Get("state")); s != "" {
		if !store.Listed(s) {
			return f, fmt.Errorf("state %q: want queued, processing, dead or discarded", s)
		}
		f.State = s
	}
	if s := q.Get("flow"); s != "" {
		key, err := parseFlow(s)
		if err != nil {
			return f, err
		}
		f.Flow = key
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return f, fmt.Errorf("limit %q: want a number from 1 to %d", s, maxListLimit)
		}
		f.Limit = n
	}
	f.After = q.Get("after")
	return f, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", JSONType)
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(v)
}
