package billbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func cfDump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// cfWantErr checks an error's text and that it names its Caddyfile line.
func cfWantErr(t *testing.T, err error, want string, line int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\n  does not contain %q", err, want)
	}
	if loc := fmt.Sprintf(", at Testfile:%d", line); !strings.HasSuffix(err.Error(), loc) {
		t.Errorf("error %q\n  does not name line %s", err, loc)
	}
}

func cfApp(input string) (*App, error) {
	var a App
	err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return &a, err
}

func TestUnmarshalGlobal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  App
		store string // StoreRaw, compared as JSON
	}{
		{
			name:  "empty",
			input: "billbridge {\n}",
		},
		{
			name:  "store memory",
			input: "billbridge {\n\tstore memory\n}",
			store: `{"type":"memory"}`,
		},
		{
			name:  "store redis url inline",
			input: "billbridge {\n\tstore redis {env.REDIS_URL}\n}",
			store: `{"type":"redis","url":"{env.REDIS_URL}"}`,
		},
		{
			name:  "store file",
			input: "billbridge {\n\tstore file /var/lib/billbridge/events.db\n\tcurrency KHR 0\n}",
			store: `{"type":"file","path":"/var/lib/billbridge/events.db"}`,
			want:  App{Currencies: map[string]int32{"KHR": 0}},
		},
		{
			name:  "store file from a placeholder",
			input: "billbridge {\n\tstore file {env.BILLBRIDGE_STORE_PATH}\n}",
			store: `{"type":"file","path":"{env.BILLBRIDGE_STORE_PATH}"}`,
		},
		{
			name: "store redis with a block",
			input: `billbridge {
	store redis redis://cache.internal:6379/0 {
		key_prefix billbridge:prod:
		password {env.REDIS_PASSWORD}
		dial_timeout 2s
		pool_size 20
		tls {
			server_name redis.internal
		}
	}
	currency KHR 0
}`,
			store: `{"type":"redis","url":"redis://cache.internal:6379/0","key_prefix":"billbridge:prod:",
				"password":"{env.REDIS_PASSWORD}","dial_timeout":2000000000,"pool_size":20,
				"tls":{"enabled":true,"server_name":"redis.internal"}}`,
			want: App{Currencies: map[string]int32{"KHR": 0}},
		},
		{
			name: "legacy and bill24",
			input: `billbridge {
	legacy https://billing.internal/api {
		timeout 5s
		header X-Api-Key {env.LEGACY_API_KEY}
		header Accept application/json
		max_response_size 512KiB
	}
	bill24 {
		token {env.BILL24_TOKEN} {env.BILL24_TOKEN_PREVIOUS}
		token literal-token
	}
	currency KHR 0 12
	currency XAU 4
}`,
			want: App{
				Legacy: &Legacy{
					BaseURL:         "https://billing.internal/api",
					Timeout:         caddy.Duration(5 * time.Second),
					Headers:         map[string]string{"X-Api-Key": "{env.LEGACY_API_KEY}", "Accept": "application/json"},
					MaxResponseSize: 512 << 10,
				},
				Bill24:         &Bill24{Tokens: []string{"{env.BILL24_TOKEN}", "{env.BILL24_TOKEN_PREVIOUS}", "literal-token"}},
				Currencies:     map[string]int32{"KHR": 0, "XAU": 4},
				CurrencyDigits: map[string]int32{"KHR": 12},
			},
		},
		{
			name:  "legacy from a placeholder, no block",
			input: "billbridge {\n\tlegacy {env.LEGACY_URL}\n}",
			want:  App{Legacy: &Legacy{BaseURL: "{env.LEGACY_URL}"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cfApp(tc.input)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.store == "" {
				if got.StoreRaw != nil {
					t.Errorf("store: got %s, want none", got.StoreRaw)
				}
			} else {
				var g, w any
				if err := json.Unmarshal(got.StoreRaw, &g); err != nil {
					t.Fatalf("store JSON %s: %v", got.StoreRaw, err)
				}
				if err := json.Unmarshal([]byte(tc.store), &w); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("store: got %s, want %s", got.StoreRaw, tc.store)
				}
			}
			got.StoreRaw = nil
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", cfDump(got), cfDump(tc.want))
			}
		})
	}
}

func TestUnmarshalGlobalErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  string
		line  int
	}{
		{"args after option", "billbridge on {\n}", "wrong argument count", 1},
		{"unknown subdirective", "billbridge {\n\tstorage redis\n}", "unrecognized subdirective 'storage'", 2},
		{"duplicate store", "billbridge {\n\tstore memory\n\tstore memory\n}", "store already specified", 3},
		{"store without type", "billbridge {\n\tstore\n}", "wrong argument count", 2},
		{"unknown store type", "billbridge {\n\tstore etcd\n}", "getting module named 'billbridge.stores.etcd'", 2},
		{"memory store with a block", "billbridge {\n\tstore memory {\n\t\tsize 10\n\t}\n}", "unrecognized subdirective 'size'", 3},
		{"file store without a path", "billbridge {\n\tstore file\n}", "file store: a path is required", 2},
		{"file store with two paths", "billbridge {\n\tstore file a.db b.db\n}", "wrong argument count", 2},
		{"file store with a block", "billbridge {\n\tstore file a.db {\n\t\tsync off\n\t}\n}", "unrecognized subdirective 'sync'", 3},
		{"redis store error", "billbridge {\n\tstore redis {\n\t\tpool_size many\n\t}\n}", "invalid pool_size 'many'", 3},
		{"duplicate legacy", "billbridge {\n\tlegacy http://a\n\tlegacy http://b\n}", "legacy already specified", 3},
		{"legacy without url", "billbridge {\n\tlegacy\n}", "wrong argument count", 2},
		{"legacy with two urls", "billbridge {\n\tlegacy http://a http://b\n}", "wrong argument count", 2},
		{"bad base URL scheme", "billbridge {\n\tlegacy ftp://billing.internal\n}", `legacy: base URL "ftp://billing.internal" must start with http:// or https://`, 2},
		{"base URL without scheme", "billbridge {\n\tlegacy billing.internal:8080\n}", "must start with http:// or https://", 2},
		{"unknown legacy subdirective", "billbridge {\n\tlegacy http://a {\n\t\tretries 3\n\t}\n}", "unrecognized legacy subdirective 'retries'", 3},
		{"duplicate legacy timeout", "billbridge {\n\tlegacy http://a {\n\t\ttimeout 1s\n\t\ttimeout 2s\n\t}\n}", "legacy timeout already specified", 4},
		{"duplicate legacy header", "billbridge {\n\tlegacy http://a {\n\t\theader A 1\n\t\theader A 2\n\t}\n}", "legacy header A already specified", 4},
		{"legacy header without value", "billbridge {\n\tlegacy http://a {\n\t\theader A\n\t}\n}", "wrong argument count", 3},
		{"bad legacy timeout", "billbridge {\n\tlegacy http://a {\n\t\ttimeout forever\n\t}\n}", `legacy timeout: invalid duration "forever"`, 3},
		{"bad legacy max_response_size", "billbridge {\n\tlegacy http://a {\n\t\tmax_response_size huge\n\t}\n}", `legacy max_response_size: invalid size "huge"`, 3},
		// 10EB fits a uint64 but not the int64 the limit is kept in.
		{"legacy max_response_size past int64", "billbridge {\n\tlegacy http://a {\n\t\tmax_response_size 10EB\n\t}\n}", `legacy max_response_size: invalid size "10EB"`, 3},
		{"duplicate bill24", "billbridge {\n\tbill24 {\n\t\ttoken a\n\t}\n\tbill24 {\n\t\ttoken b\n\t}\n}", "bill24 already specified", 5},
		{"bill24 without token", "billbridge {\n\tbill24 {\n\t}\n}", "bill24: at least one token is required", 3},
		{"bill24 without block", "billbridge {\n\tbill24\n}", "bill24: at least one token is required", 2},
		{"bill24 with an arg", "billbridge {\n\tbill24 tok {\n\t}\n}", "wrong argument count", 2},
		{"bill24 empty token line", "billbridge {\n\tbill24 {\n\t\ttoken\n\t}\n}", "wrong argument count", 3},
		{"unknown bill24 subdirective", "billbridge {\n\tbill24 {\n\t\tsecret a\n\t}\n}", "unrecognized bill24 subdirective 'secret'", 3},
		{"currency without places", "billbridge {\n\tcurrency KHR\n}", "wrong argument count", 2},
		{"bad currency places", "billbridge {\n\tcurrency KHR two\n}", `currency KHR: decimal places must be 0–8, not "two"`, 2},
		{"currency places too many", "billbridge {\n\tcurrency BTC 9\n}", `currency BTC: decimal places must be 0–8, not "9"`, 2},
		{"negative currency places", "billbridge {\n\tcurrency KHR -1\n}", `not "-1"`, 2},
		{"currency digits zero", "billbridge {\n\tcurrency KHR 0 0\n}", `currency KHR: max integer digits must be 1–30, not "0"`, 2},
		{"currency with four args", "billbridge {\n\tcurrency KHR 0 12 3\n}", "wrong argument count", 2},
		{"duplicate currency", "billbridge {\n\tcurrency KHR 0\n\tcurrency KHR 2\n}", "currency KHR already specified", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cfApp(tc.input)
			cfWantErr(t, err, tc.want, tc.line)
		})
	}
}

func TestParseGlobalTwice(t *testing.T) {
	d := caddyfile.NewTestDispenser("billbridge {\n\tstore memory\n}")
	v, err := parseGlobal(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, ok := v.(httpcaddyfile.App)
	if !ok || app.Name != "billbridge" {
		t.Fatalf("got %#v, want an httpcaddyfile.App named billbridge", v)
	}
	if want := `{"store":{"type":"memory"}}`; string(app.Value) != want {
		t.Errorf("app JSON: got %s, want %s", app.Value, want)
	}
	_, err = parseGlobal(caddyfile.NewTestDispenser("billbridge {\n}"), v)
	cfWantErr(t, err, "billbridge global option already specified", 1)
}

func cfProvisionApp(t *testing.T, a *App) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(func() {
		_ = a.Cleanup()
		cancel()
	})
	return a.Provision(ctx)
}

func TestProvisionAppResolvesEnv(t *testing.T) {
	t.Setenv("BB_TEST_TOKEN", "tok-current")
	t.Setenv("BB_TEST_TOKEN_OLD", "tok-previous")
	t.Setenv("BB_TEST_API_KEY", "key-123")
	t.Setenv("BB_TEST_LEGACY", "http://127.0.0.1:8081/api/")
	a := &App{
		StoreRaw: json.RawMessage(`{"type":"memory"}`),
		Legacy: &Legacy{
			BaseURL: "{env.BB_TEST_LEGACY}",
			Headers: map[string]string{"X-Api-Key": "{env.BB_TEST_API_KEY}"},
		},
		Bill24:     &Bill24{Tokens: []string{"{env.BB_TEST_TOKEN}", "{env.BB_TEST_TOKEN_OLD}", "literal"}},
		Currencies: map[string]int32{"KHR": 1},
	}
	if err := cfProvisionApp(t, a); err != nil {
		t.Fatalf("provision: %v", err)
	}
	var toks []string
	for _, b := range a.Bill24.tokens {
		toks = append(toks, string(b))
	}
	if want := []string{"tok-current", "tok-previous", "literal"}; !reflect.DeepEqual(toks, want) {
		t.Errorf("tokens: got %q, want %q", toks, want)
	}
	// The configured values stay placeholders: they are what the admin
	// API shows.
	if a.Bill24.Tokens[0] != "{env.BB_TEST_TOKEN}" {
		t.Errorf("configured token rewritten to %q", a.Bill24.Tokens[0])
	}
	if got := a.Legacy.headers.Get("X-Api-Key"); got != "key-123" {
		t.Errorf("legacy header: got %q, want key-123", got)
	}
	if got := a.Legacy.base.String(); got != "http://127.0.0.1:8081/api" {
		t.Errorf("legacy base: got %q", got)
	}
	if a.store == nil {
		t.Error("no store backend")
	}
	if e, _ := a.exps.Exponent("KHR"); e != 1 {
		t.Errorf("KHR exponent: got %d, want 1", e)
	}
}

func TestProvisionAppEmptyToken(t *testing.T) {
	t.Setenv("BB_TEST_TOKEN", "tok-secret-value")
	t.Setenv("BB_TEST_EMPTY", "")
	a := &App{
		StoreRaw: json.RawMessage(`{"type":"memory"}`),
		Bill24:   &Bill24{Tokens: []string{"{env.BB_TEST_TOKEN}", "prefix-{env.BB_TEST_EMPTY}", "{env.BB_TEST_EMPTY}"}},
	}
	// Token 2 resolves to "prefix-", which is not empty; token 3 is.
	err := cfProvisionApp(t, a)
	if err == nil {
		t.Fatal("provisioned with an empty token")
	}
	msg := err.Error()
	if !strings.Contains(msg, "token 3 is empty") {
		t.Errorf("error %q does not name token 3", msg)
	}
	for _, secret := range []string{"tok-secret-value", "prefix-", "BB_TEST"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows %q", msg, secret)
		}
	}
}

func TestProvisionAppUnsetToken(t *testing.T) {
	a := &App{Bill24: &Bill24{Tokens: []string{"{env.BB_TEST_SURELY_UNSET_TOKEN}"}}}
	err := cfProvisionApp(t, a)
	if err == nil || !strings.Contains(err.Error(), "token 1 is empty") {
		t.Fatalf("got %v, want token 1 is empty", err)
	}
	// With no store given, the memory store is the default.
	if a.store == nil {
		t.Error("no default store")
	}
}
