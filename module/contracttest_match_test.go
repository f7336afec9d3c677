package billbridge

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func TestCompareMoney(t *testing.T) {
	for _, tc := range []struct {
		name, want, ct, got string
		subset              bool
		diff                string // "" means equal
	}{
		{"decimal equal", `{"a":45}`, "application/json", `{"a":45.00}`, false, ""},
		{"decimal differs", `{"a":45}`, "application/json", `{"a":45.01}`, false, "body.a: want 45, got 45.01"},
		{"string where a number is due", `{"a":10}`, "application/json", `{"a":"10.00"}`, false, `body.a: want 10, got "10.00"`},
		{"form text as an amount", `{"a":50000}`, "application/x-www-form-urlencoded", `a=50000.00`, false, ""},
		{"form text spelled exactly", `{"a":"50000.00"}`, "application/x-www-form-urlencoded", `a=50000`, false, `body.a: want "50000.00", got "50000"`},
		{"big amounts stay exact", `{"a":99999999999999999.99}`, "application/json", `{"a":99999999999999999.98}`, false, "body.a: want 99999999999999999.99, got 99999999999999999.98"},
		{"extra key, exact", `{"a":1}`, "application/json", `{"a":1,"b":2}`, false, `body.b: unexpected 2`},
		{"extra key, subset", `{"a":1}`, "application/json", `{"a":1,"b":2}`, true, ""},
		{"missing key", `{"a":1,"b":"x"}`, "application/json", `{"a":1}`, true, `body.b: missing (want "x")`},
		{"nested array", `{"l":[{"x":1}]}`, "application/json", `{"l":[{"x":"1"}]}`, false, `body.l[0].x: want 1, got "1"`},
		{"text body", `"OK"`, "text/plain", `OK!`, false, `body: want text "OK", got "OK!"`},
		{"not JSON", `{"a":1}`, "text/html", `<p>`, false, `body: want JSON {"a":1}, got "<p>"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d diffs
			compareBody(&d, "body", json.RawMessage(tc.want), tc.ct, []byte(tc.got), tc.subset)
			got := strings.Join(d, "\n")
			if tc.diff == "" && got != "" || tc.diff != "" && !strings.Contains(got, tc.diff) {
				t.Errorf("diff %q, want %q", got, tc.diff)
			}
		})
	}
}

func TestCompareHeaders(t *testing.T) {
	k, absent := "k", (*string)(nil)
	var d diffs
	compareHeaders(&d, "h", map[string]*string{"X-Api-Key": &k, "x-secret": absent, "Retry-After": &k},
		http.Header{"X-Api-Key": {"k"}, "X-Secret": {"s"}})
	want := []string{`h.Retry-After: missing (want "k")`, `h.x-secret: want absent, got "s"`}
	if strings.Join(d, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", d, want)
	}
}

func TestLoadCaseErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, src, err string }{
		{"unknown key", `{"handler":{"flow":"x"},"steps":[{"request":{},"expect":{"status":200}}],"stpes":[]}`, `unknown field "stpes"`},
		{"no handler", `{"steps":[{"request":{},"expect":{"status":200}}]}`, "handler: give path"},
		{"no steps", `{"handler":{"flow":"x"}}`, "no steps"},
		{"no status", `{"handler":{"flow":"x"},"steps":[{"request":{},"expect":{}}]}`, "step 1: expect.status is required"},
		{"two bodies", `{"handler":{"flow":"x"},"steps":[{"request":{"body":{},"form":{}},"expect":{"status":200}}]}`, "one of payload, body, form"},
		{"bad error kind", `{"handler":{"flow":"x"},"steps":[{"request":{},"legacy":[{"error":"boom"}],"expect":{"status":200}}]}`, `error "boom"`},
		{"answer and error", `{"handler":{"flow":"x"},"steps":[{"request":{},"legacy":[{"error":"cut","answer":{}}],"expect":{"status":200}}]}`, "give answer or error"},
		{"bad match", `{"handler":{"flow":"x"},"steps":[{"request":{},"legacy":[{"expect":{"match":"some"},"answer":{}}],"expect":{"status":200}}]}`, `match "some"`},
		{"not JSON", `handler: x`, "invalid character"},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
		if err := os.WriteFile(f, []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadCase(f)
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %v, want %q with the file name", tc.name, err, tc.err)
		}
	}
}

func TestBodyKeys(t *testing.T) {
	h := `{"flow":{"name":"bill24_proxy","when":[{"if":"res.body.customer.overdue == true"}],
		"reply":{"a":"res.body.customer.amt_due","b":"len(res.body.items ?? []) > 0","c":"res.body.items[0].ref","d":"res.body?.x?.y","e":"\"res.body.literal\"","f":"req.body.not_res"}}}`
	got := strings.Join(bodyKeys([]byte(h)), ",")
	if want := "customer.amt_due,customer.overdue,items,x.y"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestCmdContractTest checks the command's exit status: 0 only if every
// case passes.
func TestCmdContractTest(t *testing.T) {
	var out strings.Builder
	contractOut = &out
	t.Cleanup(func() { contractOut = os.Stdout })
	run := func(args ...string) (int, error) {
		out.Reset()
		cmd := &cobra.Command{}
		cmd.Flags().StringP("config", "c", "", "")
		cmd.Flags().StringP("adapter", "a", "", "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmdContractTest(caddycmd.Flags{FlagSet: cmd.Flags()})
	}
	cfg := filepath.Join("testdata", "contract", "Caddyfile")
	if code, err := run("--config", cfg, filepath.Join("testdata", "contract", "cases", "proxy_owes.json")); code != 0 || err != nil {
		t.Errorf("passing case: %d %v", code, err)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	src, _ := os.ReadFile(filepath.Join("testdata", "contract", "cases", "proxy_owes.json"))
	if err := os.WriteFile(broken, []byte(strings.Replace(string(src), `"due_amount": 10.2`, `"due_amount": 10.21`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, err := run("--config", cfg, broken); code != 1 || err == nil || !strings.Contains(err.Error(), "1 case(s) failed") ||
		!strings.Contains(out.String(), "data.due_amount: want 10.21, got 10.2") {
		t.Errorf("failing case: %d %v\n%s", code, err, out.String())
	}
	if code, err := run("--config", cfg); code != 1 || err == nil {
		t.Errorf("no cases: %d %v", code, err)
	}
}
