package bill24_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func newDispenser(src string) *caddyfile.Dispenser { return caddyfile.NewTestDispenser(src) }

const proxySrc = "billbridge bill24_proxy {\n\tcall GET `\"/c/\" + urlpath(req.consumer_code)`\n\twhen `res.body.due == 0` no_amount_to_pay\n\treply {\n\t\tconsumer_name `res.body.name`\n\t\tcurrency `res.body.ccy`\n\t\tdue_amount `res.body.due`\n\t}\n}"

func TestProxyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		answer string
		code   int
		want   string
	}{
		{"success, Khmer intact", 200, `{"name":"ញ៉េប នីម","ccy":"USD","due":10.50}`, 200, `{"code":0,"message":"Success","message_kh":"ជោគជ័យ","data":{"consumer_code":"CU1","consumer_name":"ញ៉េប នីម","consumer_name_latin":"","phone":"","currency":"USD","due_amount":10.50,`},
		{"rule", 200, `{"name":"x","ccy":"USD","due":0}`, 200, `{"code":3,`},
		{"not found", 404, `{}`, 200, `{"code":1,"message":"Error Not Found"`},
		{"legacy 5xx", 503, `{}`, 502, `"message":"legacy system answered HTTP 503"`},
		{"legacy 4xx", 400, `{}`, 502, `"message":"legacy system answered HTTP 400"`},
		{"bad reply amount", 200, `{"name":"x","ccy":"USD","due":1.005}`, 502, `"message":"cannot map the legacy answer"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newFlowEnv(t, proxySrc, tc.status, tc.answer)
			status, body, _ := env.do(t, http.MethodPost, "t", `{"consumer_code":"CU1"}`)
			if status != tc.code || !strings.HasPrefix(body, tc.want) && !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want %d with %s", status, body, tc.code, tc.want)
			}
		})
	}
}

func TestProxyJSONIsStrict(t *testing.T) {
	s := standalone(t)
	for _, field := range []string{`"success":"true"`, `"lookup":{"method":"GET","path":"\"/x\"","found":"true"}`, `"lease":"1m"`, `"bill":{"amount":"1"}`} {
		_, err := s.Handler([]byte(`{"flow":{"name":"bill24_proxy","call":{"method":"GET","path":"\"/p\""},` + field + `}}`))
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("%s: error %v, want an unknown field", field, err)
		}
	}
}
