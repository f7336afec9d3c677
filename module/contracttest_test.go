package billbridge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

const suite = "testdata/contract"

// runSuite adapts the suite's Caddyfile after edit and runs its cases.
func runSuite(t *testing.T, edit func(string) string) (int, string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(suite, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if edit != nil {
		edited := edit(text)
		if edited == text {
			t.Fatal("the mutation changed nothing")
		}
		text = edited
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var out strings.Builder
	failed, err := billbridge.ContractTest(cfg, []string{filepath.Join(suite, "cases")}, &out)
	if err != nil {
		t.Fatal(err)
	}
	return failed, out.String()
}

func TestContractTestPasses(t *testing.T) {
	failed, out := runSuite(t, nil)
	if failed != 0 || strings.Count("\n"+out, "\nPASS ") != 4 {
		t.Fatalf("want 4 passing cases, got %d failed:\n%s", failed, out)
	}
	if strings.Contains(out, "warning:") {
		t.Errorf("the suite's playback holds every key its mappings read, yet:\n%s", out)
	}
	if !strings.HasSuffix(out, "4 case(s), 0 failed\n") {
		t.Errorf("summary line missing:\n%s", out)
	}
}

// TestContractTestMutations breaks one mapping at a time, as a merchant's
// engineer might, and checks that the suite fails and says where.
func TestContractTestMutations(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		want           []string // lines (or parts) the output must hold
	}{
		{
			name: "misspelt res.body key",
			from: "due_amount `res.body.customer.amt_due`", to: "due_amount `res.body.customer.amt_dew`",
			want: []string{
				"FAIL " + filepath.Join(suite, "cases", "proxy_owes.json"),
				"step 1 answer.body.data.due_amount: want 10.2, got ",
				"warning: the mappings read res.body keys that no legacy answer (below 400) of this case holds; misspelt, or not played: customer.amt_dew",
				"1 failed",
			},
		},
		{
			name: "wrong outcome",
			from: "`res.status == 404` not_found", to: "`res.status == 404` no_amount_to_pay",
			want: []string{
				"FAIL " + filepath.Join(suite, "cases", "proxy_not_found.json"),
				"step 1 answer.body.code: want 1, got ",
				"1 failed",
			},
		},
		{
			name: "wrong amount format",
			from: "field amount `format_amount(req.amount, req.currency)`", to: "field amount `req.amount`",
			want: []string{
				"FAIL " + filepath.Join(suite, "cases", "webhook_retried.json"),
				`step 1 (500) legacy call 1.body.amount: want "45.00", got "45"`,
				`step 2 (retry) legacy call 2.body.amount: want "45.00", got "45"`,
				"FAIL " + filepath.Join(suite, "cases", "webhook_refused.json"),
				"2 failed",
			},
		},
		{
			name: "lookup that finds what is not there",
			from: "found `res.status == 200 && res.body.result == \"OK\"`", to: "found `res.status == 200 && res.body.result == \"NONE\"`",
			want: []string{
				// Found by mistake: the retry is answered without posting.
				"step 2 (retry): 1 more legacy call(s) expected, 1 made",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed, out := runSuite(t, func(s string) string { return strings.Replace(s, tc.from, tc.to, 1) })
			if failed == 0 {
				t.Fatalf("the broken mapping passed:\n%s", out)
			}
			t.Log("\n" + out)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
