package billbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "billbridge-events",
		Usage: "list|show|redeliver|discard [--address <admin>] ...",
		Short: "Lists the events billbridge holds in custody, and redelivers or discards them",
		Long: `
Talks to the admin endpoint of a running Caddy (GET and POST
/billbridge/events...). An event is named by its flow and the gateway's id,
with the handler's namespace first if it has one:

	[<namespace>/]<gateway>/<flow>/<id>      e.g. bill24/webhook/348b4b16-...

  list        the events in custody, newest first (--state, --flow, --limit, --after)
  show        one event's record: state, attempts and their errors, next attempt
  redeliver   puts a dead, released or queued event back in the queue, due now
  discard     closes an event for good: the payment will not be delivered
              (--reason is required, and kept with the record)

The payload (customers' names and codes) is never shown. --json prints the
admin API's JSON. The admin address is --address, else the one in --config,
else Caddy's default (localhost:2019).`,
		CobraFunc: func(cmd *cobra.Command) {
			pf := cmd.PersistentFlags()
			pf.String("address", "", "Address of Caddy's admin endpoint (default: the one in --config, else "+defaultAdminHint+")")
			pf.StringP("config", "c", "", "Configuration file, to find the admin address in")
			pf.StringP("adapter", "a", "", "Name of config adapter to apply to --config")
			pf.Bool("json", false, "Print the admin API's JSON")

			list := &cobra.Command{Use: "list", Short: "Lists the events in custody, newest first", Args: cobra.NoArgs,
				RunE: caddycmd.WrapCommandFuncForCobra(cmdEventsList)}
			list.Flags().String("state", "", "Only events in this state: queued, processing, dead, discarded")
			list.Flags().String("flow", "", "Only events of this flow: [<namespace>/]<gateway>/<flow>, e.g. bill24/webhook")
			list.Flags().Int("limit", 0, "Events per page, 1 to 1000 (default 50)")
			list.Flags().String("after", "", "Cursor of the next page, printed at the end of the one before")

			show := &cobra.Command{Use: "show <gateway>/<flow>/<id>", Short: "Shows one event's record", Args: cobra.ExactArgs(1),
				RunE: caddycmd.WrapCommandFuncForCobra(cmdEventsShow)}
			redeliver := &cobra.Command{Use: "redeliver <gateway>/<flow>/<id>", Short: "Puts an event back in the queue, due now", Args: cobra.ExactArgs(1),
				RunE: caddycmd.WrapCommandFuncForCobra(cmdEventsRedeliver)}
			discard := &cobra.Command{Use: "discard <gateway>/<flow>/<id> --reason <text>", Short: "Closes an event for good, with the reason", Args: cobra.ExactArgs(1),
				RunE: caddycmd.WrapCommandFuncForCobra(cmdEventsDiscard)}
			discard.Flags().String("reason", "", "Why the payment need not be delivered (required; at most 500 bytes)")
			cmd.AddCommand(list, show, redeliver, discard)
		},
	})
}

// defaultAdminHint names Caddy's default admin address in the help.
const defaultAdminHint = "localhost:2019"

// eventsOut takes the commands' output; tests read it.
var eventsOut io.Writer = os.Stdout

// adminCall sends one request to the admin endpoint fl names and returns
// the answer's body; an error answer becomes the API's own message.
func adminCall(fl caddycmd.Flags, method, uri string, body []byte) ([]byte, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return nil, fmt.Errorf("finding the admin address: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, rd)
	if err != nil {
		return nil, apiMessage(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the admin API's answer: %w", err)
	}
	return out, nil
}

// apiMessage turns AdminAPIRequest's error for an error answer ("caddy
// responded with error: HTTP 409: {"error":"…"}") into the API's message
// and status; other errors (nothing listening) stay as they are.
func apiMessage(err error) error {
	msg := err.Error()
	i := strings.Index(msg, "HTTP ")
	if i < 0 {
		return err
	}
	code, body, ok := strings.Cut(msg[i+len("HTTP "):], ": ")
	if _, cerr := strconv.Atoi(code); !ok || cerr != nil {
		return err
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		return err
	}
	return fmt.Errorf("%s (HTTP %s)", e.Error, code)
}

func cmdEventsList(fl caddycmd.Flags) (int, error) {
	q := url.Values{}
	for _, name := range []string{"state", "flow", "after"} {
		if v := fl.String(name); v != "" {
			q.Set(name, v)
		}
	}
	if n := fl.Int("limit"); n != 0 {
		q.Set("limit", strconv.Itoa(n))
	}
	uri := eventsPath
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	body, err := adminCall(fl, http.MethodGet, uri, nil)
	if err != nil {
		return 1, err
	}
	if fl.Bool("json") {
		return writeRaw(body)
	}
	var p listPage
	if err := json.Unmarshal(body, &p); err != nil {
		return 1, fmt.Errorf("the admin API's answer: %w", err)
	}
	if err := writeList(eventsOut, p); err != nil {
		return 1, err
	}
	return 0, nil
}

// writeRaw prints the admin API's JSON as it came.
func writeRaw(body []byte) (int, error) {
	if _, err := eventsOut.Write(body); err != nil {
		return 1, err
	}
	return 0, nil
}

// writeList prints a page as a table.
func writeList(w io.Writer, p listPage) error {
	if len(p.Items) == 0 {
		_, err := fmt.Fprintln(w, "no events in custody")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	out := &printer{w: tw}
	out.f("STATE\tEVENT\tATTEMPTS\tLAST ERROR\tNEXT ATTEMPT / UPDATED\n")
	for _, v := range p.Items {
		when := "updated " + stamp(v.UpdatedAt)
		if v.State == "queued" && !v.NextAttempt.IsZero() {
			when = "next " + stamp(v.NextAttempt)
		}
		out.f("%s\t%s\t%d\t%s\t%s\n", v.State, oneLine(v.Event, 100), v.Attempts, oneLine(lastError(v), 60), when)
	}
	if out.err != nil {
		return out.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Next != "" {
		_, err := fmt.Fprintf(w, "more: --after %s\n", shellQuote(p.Next))
		return err
	}
	return nil
}

// printer writes until the first error, and keeps it.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// lastError is what went wrong last with v: its last attempt's error, or
// the reason it is dead or discarded.
func lastError(v eventView) string {
	if n := len(v.History); n > 0 && v.History[n-1].Error != "" {
		return v.History[n-1].Error
	}
	if v.Reason != "" {
		return v.Reason
	}
	return "-"
}

func cmdEventsShow(fl caddycmd.Flags) (int, error) {
	return eventCall(fl, http.MethodGet, "", nil)
}

func cmdEventsRedeliver(fl caddycmd.Flags) (int, error) {
	return eventCall(fl, http.MethodPost, actionRedeliver, nil)
}

func cmdEventsDiscard(fl caddycmd.Flags) (int, error) {
	reason := strings.TrimSpace(fl.String("reason"))
	if reason == "" {
		return 1, errors.New(`discard needs --reason "…": why the payment need not be delivered`)
	}
	body, err := json.Marshal(map[string]string{"reason": reason})
	if err != nil {
		return 1, err
	}
	return eventCall(fl, http.MethodPost, actionDiscard, body)
}

// eventCall sends a read (action "") or an action on the event the
// argument names, and prints the record it answers.
func eventCall(fl caddycmd.Flags, method, action string, body []byte) (int, error) {
	if len(fl.Args()) != 1 {
		return 1, errors.New("name one event: [<namespace>/]<gateway>/<flow>/<id>")
	}
	ref, err := parseEventArg(fl.Arg(0))
	if err != nil {
		return 1, err
	}
	uri := ref.Path()
	if action != "" {
		uri += "/" + action
	}
	out, err := adminCall(fl, method, uri, body)
	if err != nil {
		return 1, err
	}
	if fl.Bool("json") {
		return writeRaw(out)
	}
	var v eventView
	if err := json.Unmarshal(out, &v); err != nil {
		return 1, fmt.Errorf("the admin API's answer: %w", err)
	}
	var done string
	switch action {
	case actionRedeliver:
		done = "redelivered " + v.Event + ": queued, due now\n"
	case actionDiscard:
		done = "discarded " + v.Event + ": " + oneLine(v.Reason, MaxDiscardReason) + "\n"
	}
	if _, err := io.WriteString(eventsOut, done); err != nil {
		return 1, err
	}
	if err := writeEvent(eventsOut, v); err != nil {
		return 1, err
	}
	return 0, nil
}

// writeEvent prints one record for a person.
func writeEvent(w io.Writer, v eventView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	out := &printer{w: tw}
	row := func(k, val string) {
		if val != "" {
			out.f("%s:\t%s\n", k, val)
		}
	}
	row("event", v.Event)
	row("key", v.Key)
	row("state", v.State)
	row("custody", strconv.FormatBool(v.Custody))
	row("ambiguous", strconv.FormatBool(v.Ambiguous))
	row("attempts", strconv.Itoa(v.Attempts))
	row("reason", oneLine(v.Reason, MaxDiscardReason))
	row("created", stamp(v.CreatedAt))
	row("updated", stamp(v.UpdatedAt))
	row("next attempt", stamp(v.NextAttempt))
	row("lease until", stamp(v.LeaseUntil))
	row("payload", strconv.Itoa(v.PayloadBytes)+" bytes (not shown)")
	if v.Response != nil {
		row("response", strconv.Itoa(v.Response.Status)+" "+oneLine(string(v.Response.Body), 200))
	}
	if len(v.History) > 0 {
		out.f("history:\n")
	}
	for _, a := range v.History {
		legacy := "-"
		if a.LegacyStatus != 0 {
			legacy = strconv.Itoa(a.LegacyStatus)
		}
		out.f("  %s\t%s\t%s\t%s\n", stamp(a.At), a.Outcome, legacy, oneLine(a.Error, 200))
	}
	if out.err != nil {
		return out.err
	}
	return tw.Flush()
}

// stamp writes a time in UTC to the second; "" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// oneLine makes s safe for one cell of a table: control characters
// become spaces, and it is cut to max bytes on a rune boundary.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// shellQuote quotes a cursor for pasting into a shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
