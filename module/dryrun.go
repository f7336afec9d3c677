package billbridge

import (
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
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/mappings"
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
		payload, err = os.ReadFile(p)
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
// flow in the JSON config cfg would send for payload.
func DryRun(cfg []byte, flow string, n int, payload []byte, w io.Writer) error {
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return fmt.Errorf("config: %v", err)
	}
	var app App
	if raw := doc.Apps["billbridge"]; raw != nil {
		if err := json.Unmarshal(raw, &app); err != nil {
			return fmt.Errorf("billbridge app: %v", err)
		}
	}
	if app.Legacy == nil {
		return errors.New("the config has no billbridge legacy setting")
	}
	app.exps = mappings.DefaultExponents()
	for code, e := range app.Currencies {
		app.exps.SetExponent(code, e)
	}
	app.compiler = mappings.NewCompiler(app.exps)
	if err := app.Legacy.provision(); err != nil {
		return fmt.Errorf("legacy: %v", err)
	}
	defer app.Legacy.cleanup()
	if app.Bill24 != nil {
		app.Bill24.tokens = [][]byte{[]byte("dry-run")} // never checked here
	}

	var found []json.RawMessage
	findHandlers(doc.Apps["http"], flow, &found)
	if len(found) == 0 {
		return fmt.Errorf("no billbridge %s handler in the config", flow)
	}
	if n < 1 || n > len(found) {
		return fmt.Errorf("--handler %d: the config has %d %s handler(s)", n, len(found), flow)
	}
	var h Handler
	if err := json.Unmarshal(found[n-1], &h); err != nil {
		return fmt.Errorf("handler: %v", err)
	}
	f, ok := flows[h.Flow]
	if !ok {
		return fmt.Errorf("unknown flow %q", h.Flow)
	}
	h.flow, h.app, h.logger = f, &app, zap.NewNop()
	if err := f.provision(&h); err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, "http://dry-run/", nil)
	ev, err := f.decode(&h, req, payload)
	if err != nil {
		return fmt.Errorf("the gateway would be answered 400: %v", err)
	}
	if ev.noCall || h.compiled.call == nil {
		return fmt.Errorf("%s makes no legacy call of its own", h.Flow)
	}
	lr, err := h.compiled.call.build(ev.env)
	if err != nil {
		return fmt.Errorf("mapping: %v", err)
	}
	if ev.id != "" && h.IdempotencyHeader != "-" {
		if lr.header == nil {
			lr.header = http.Header{}
		}
		lr.header.Set(cmpOr(h.IdempotencyHeader, defaultIdemHeader), ev.idempotencyKey())
	}
	u, err := app.Legacy.resolveURL(lr.pathQuery, lr.query)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s\n", lr.method, u)
	hdr := app.Legacy.headers.Clone()
	for k, v := range lr.header {
		hdr[k] = v
	}
	if lr.contentType != "" {
		hdr.Set("Content-Type", lr.contentType)
	}
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(hdr[k], ", "))
	}
	if len(lr.body) > 0 {
		fmt.Fprintf(w, "\n%s\n", lr.body)
	}
	return nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
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
			if v["handler"] == "billbridge" && v["flow"] == flow {
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
