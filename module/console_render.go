package billbridge

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// The console's pages are html/template files embedded in the binary,
// each page a template set of its own: the layout (with the summary) and
// the page's "content". html/template escapes everything they show, ids,
// reasons and errors included, whoever wrote them.

//go:embed console_ui
var consoleUI embed.FS

// consoleCSS is the stylesheet, inlined in every page: the console loads
// nothing (no script, no image, no font), and works with JavaScript off.
var consoleCSS = func() string {
	b, err := consoleUI.ReadFile("console_ui/console.css")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	return string(b)
}()

// consoleCSP allows the one inline stylesheet (by its hash) and forms
// posted to the console itself, and nothing else.
var consoleCSP = func() string {
	sum := sha256.Sum256([]byte(consoleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// consolePages are the template sets, by page.
var consolePages = func() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"list", "event", "discard", "error"} {
		pages[name] = template.Must(template.New(name).ParseFS(consoleUI, "console_ui/layout.html", "console_ui/"+name+".html"))
	}
	return pages
}()

// pageData is what the layout gets: the page's view and the stylesheet.
type pageData struct {
	CSS template.CSS
	V   any
}

// render writes page name, with status, from its view v. The page is
// written whole or not at all: a template that fails is a 500, not half a
// page.
func (c *ConsoleHandler) render(w http.ResponseWriter, status int, name string, v any) error {
	var buf bytes.Buffer
	css := template.CSS(consoleCSS) //nolint:gosec // G203: the console's own embedded stylesheet, no input in it
	if err := consolePages[name].ExecuteTemplate(&buf, "layout", pageData{CSS: css, V: v}); err != nil {
		c.logger.Error("console: rendering a page", zap.String("page", name), zap.Error(err))
		http.Error(w, "the console could not render this page; see Caddy's log", http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// problemPage is a view that can say why it shows nothing.
type problemPage interface{ setProblem(string) }

func (v *listView) setProblem(s string)      { v.Problem = s }
func (v *eventPageView) setProblem(s string) { v.Problem = s }

// renderProblem renders page name saying what err says, with its status.
func (c *ConsoleHandler) renderProblem(w http.ResponseWriter, name string, v problemPage, err error) error {
	status, msg := apiStatus(err)
	v.setProblem(msg)
	return c.render(w, status, name, v)
}

// errorView is a page that says what went wrong.
type errorView struct {
	consoleFrame
	Status     int
	StatusText string
	Message    string
	// Back links to the page to go back to, "" for the list.
	Back string
}

// fail renders an error page, with the summary.
func (c *ConsoleHandler) fail(w http.ResponseWriter, r *http.Request, status int, msg, back string) error {
	v := errorView{consoleFrame: consoleFrame{Title: http.StatusText(status)}, Status: status, StatusText: http.StatusText(status), Message: msg, Back: back}
	c.frame(r, &v.consoleFrame)
	return c.render(w, status, "error", v)
}

// failWith renders err (a caddy.APIError of the admin functions).
func (c *ConsoleHandler) failWith(w http.ResponseWriter, r *http.Request, err error, back string) error {
	status, msg := apiStatus(err)
	return c.fail(w, r, status, msg, back)
}

// refuse renders an error page without the summary.
func (c *ConsoleHandler) refuse(w http.ResponseWriter, _ *http.Request, status int, msg string) error {
	v := errorView{consoleFrame: consoleFrame{Title: http.StatusText(status)}, Status: status, StatusText: http.StatusText(status), Message: msg}
	v.Bare = true
	return c.render(w, status, "error", v)
}

// consoleSummary is the top of every page: the events in custody by flow
// and state, the oldest not yet delivered, and the store's health.
type consoleSummary struct {
	// Problem says why some of it is missing.
	Problem string
	States  []string
	Flows   []flowCounts
	Totals  []countCell
	Total   int
	// Oldest is when the oldest queued (or processing) payment came; zero
	// if there is none.
	Oldest    shownTime
	OldestAge string
	Health    *healthView
	Now       shownTime
}

// flowCounts is one flow's line of the summary.
type flowCounts struct {
	Flow, Link string
	Cells      []countCell
	Total      int
}

// countCell is one count, linked to the list of what it counts.
type countCell struct {
	State string
	N     int
	Link  string
}

// healthView is what the summary says of the app's health.
type healthView struct {
	Status, StoreKind, Durable, Detail string
	Reachable                          bool
	Upstreams                          []upstreamLine
}

type upstreamLine struct {
	Name      string
	LastOK    shownTime
	LastError string
	ErrorAt   shownTime
}

// frame fills in f's summary from the running app and returns the app,
// or nil and the status that says none is running.
func (c *ConsoleHandler) frame(r *http.Request, f *consoleFrame) (*App, int) {
	now := c.now()
	s := &f.Summary
	s.Now = timeOf(now, now)
	s.States = stateNames()
	app, err := runningApp(c.running)
	if err != nil {
		status, msg := apiStatus(err)
		s.Problem = msg
		return nil, status
	}
	h := app.Health(r.Context())
	hv := &healthView{Status: h.Status, StoreKind: h.Store.Kind, Reachable: h.Store.Reachable, Detail: h.Store.Detail, Durable: "unknown"}
	if h.Store.Durable != nil {
		hv.Durable = map[bool]string{true: "durable", false: "not durable"}[*h.Store.Durable]
	}
	names := make([]string, 0, len(h.Calls))
	for name := range h.Calls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		u := h.Calls[name]
		hv.Upstreams = append(hv.Upstreams, upstreamLine{Name: name, LastOK: timeOf(u.LastOKAt, now), LastError: u.LastError, ErrorAt: timeOf(u.LastErrorAt, now)})
	}
	s.Health = hv

	q, err := app.queue()
	if err != nil {
		_, s.Problem = apiStatus(err)
		return app, http.StatusOK
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	st, err := q.Stats(ctx)
	if err != nil {
		_, s.Problem = apiStatus(storeFailed(err))
		return app, http.StatusOK
	}
	flows := make([]string, 0, len(st.Count))
	for flow := range st.Count {
		flows = append(flows, flow)
	}
	slices.SortFunc(flows, func(a, b string) int { return strings.Compare(flowPath(a), flowPath(b)) })
	s.Totals = make([]countCell, len(custodyStates))
	for i, state := range custodyStates {
		s.Totals[i] = countCell{State: string(state), Link: "./?" + url.Values{"state": {string(state)}}.Encode()}
	}
	for _, flow := range flows {
		fp := flowPath(flow)
		fc := flowCounts{Flow: fp, Link: "./?" + url.Values{"flow": {fp}}.Encode()}
		for i, state := range custodyStates {
			n := st.Count[flow][state]
			fc.Cells = append(fc.Cells, countCell{State: string(state), N: n, Link: "./?" + url.Values{"flow": {fp}, "state": {string(state)}}.Encode()})
			fc.Total += n
			s.Totals[i].N += n
		}
		s.Total += fc.Total
		s.Flows = append(s.Flows, fc)
	}
	if !st.OldestQueued.IsZero() {
		s.Oldest = timeOf(st.OldestQueued, now)
		s.OldestAge = shortDuration(now.Sub(st.OldestQueued).Round(1e9))
	}
	return app, http.StatusOK
}

// isCustody reports whether the running app's store keeps events in
// custody.
func isCustody(app *App) bool {
	_, ok := app.store.(store.Queue)
	return ok
}
