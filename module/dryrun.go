package billbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "billbridge-dryrun",
		Usage: "--config <path> --flow <flow> --payload <file|-> [--adapter <name>] [--handler <n>]",
		Short: "Prints the legacy request a billbridge mapping would send, without sending it",
		Long: `
Reads a config (a Caddyfile, or JSON), finds its billbridge handler for
--flow, decodes and validates the sample gateway payload as the handler
would, runs the mappings, and prints the legacy request: method, URL,
headers and body. Nothing is sent, no store is touched, and gateways are
not asked (for qm_callback the payload stands in for QM's verified bill).

When the config has several handlers of the flow, --handler picks one
(counted from 1, in config order).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
			cmd.Flags().StringP("flow", "f", "", "The flow, e.g. bill24_webhook")
			cmd.Flags().StringP("payload", "p", "", "The gateway's request body: a file, or - for stdin")
			cmd.Flags().IntP("handler", "n", 1, "Which handler of the flow, when there are several")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdDryRun)
		},
	})
}

func cmdDryRun(fl caddycmd.Flags) (int, error) {
	cfg, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return 1, err
	}
	var payload []byte
	switch p := fl.String("payload"); p {
	case "":
		return 1, errors.New("--payload is required")
	case "-":
		payload, err = io.ReadAll(os.Stdin)
	default:
		payload, err = os.ReadFile(p) //nolint:gosec // G304: the payload file the operator named with --payload
	}
	if err != nil {
		return 1, err
	}
	if err := DryRun(cfg, fl.String("flow"), fl.Int("handler"), payload, os.Stdout); err != nil {
		return 1, err
	}
	return 0, nil
}

// DryRun writes to w the legacy request that handler number n (from 1) of
// flow in the JSON config cfg would send for payload. It provisions the
// app and the handler as Caddy would (with a memory store) and runs the
// request through the same stages and the same legacy client as a real
// one, stopping just before the request would leave.
func DryRun(cfg []byte, flow string, n int, payload []byte, w io.Writer) error {
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var found []json.RawMessage
	findHandlers(doc.Apps["http"], flow, &found)
	if len(found) == 0 {
		return fmt.Errorf("no billbridge %s handler in the config", flow)
	}
	if n < 1 || n > len(found) {
		return fmt.Errorf("--handler %d: the config has %d %s handler(s)", n, len(found), flow)
	}
	s, err := NewStandalone(doc.Apps["billbridge"], func(a *App) {
		if a.Bill24 != nil {
			a.Bill24.Tokens = []string{"dry-run"} // never checked here
		}
	})
	if err != nil {
		return err
	}
	defer s.Close()
	h, err := s.Handler(found[n-1])
	if err != nil {
		return err
	}
	req, err := h.dryRun(payload)
	if err != nil {
		return err
	}
	// The printed request is the dry run's whole output: a failed write
	// is the run's error.
	if _, err := fmt.Fprintf(w, "%s %s\n", req.Method, req.URL); err != nil {
		return err
	}
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(w, "%s: %s\n", k, strings.Join(req.Header[k], ", ")); err != nil {
			return err
		}
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return err
		}
		if len(body) > 0 {
			if _, err := fmt.Fprintf(w, "\n%s\n", body); err != nil {
				return err
			}
		}
	}
	return nil
}

// errDryRun stops a dry run's request at the door.
var errDryRun = errors.New("dry run: not sent")

// dryRun decodes payload as the gateway's request and returns the legacy
// request the handler would send for it. Nothing is sent, the store is not
// touched and gateways are not asked (for qm_callback the payload stands
// in for QM's verified bill).
func (h *Handler) dryRun(payload []byte) (*http.Request, error) {
	r, _ := http.NewRequest(http.MethodPost, "http://dry-run/", bytes.NewReader(payload))
	ev, err := h.flow.Decode(r, payload)
	if err != nil {
		return nil, fmt.Errorf("the gateway would be answered 400: %w", err)
	}
	if _, ok := h.flow.(Sender); ok || ev.Call == nil {
		return nil, fmt.Errorf("%s makes no legacy call of its own", h.name)
	}
	var sent *http.Request
	h.app.Legacy.intercept = func(req *http.Request) (*http.Response, error) {
		sent = req
		return nil, errDryRun
	}
	defer func() { h.app.Legacy.intercept = nil }()
	out := h.call(context.Background(), ev.Call, ev, h.profile.Payment != nil)
	if sent == nil {
		return nil, out.Err
	}
	return sent, nil
}

// findHandlers collects, in order, the billbridge handlers of flow in a
// JSON document.
func findHandlers(raw json.RawMessage, flow string, out *[]json.RawMessage) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if f, ok := v["flow"].(map[string]any); ok && v["handler"] == "billbridge" && f["name"] == flow {
				delete(v, "handler") // the module's name, not one of its fields
				b, _ := json.Marshal(v)
				*out = append(*out, b)
				return
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}
