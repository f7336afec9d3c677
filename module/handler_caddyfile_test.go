package billbridge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
	"github.com/billbridge/caddy-billbridge/module/flows/bill24"
	_ "github.com/billbridge/caddy-billbridge/module/flows/qm"
)

// cfTicks lets the Caddyfiles below be Go raw strings: every ´ (acute
// accent) becomes a ` (backtick), the Caddyfile's expression quote.
func cfTicks(s string) string { return strings.ReplaceAll(s, "´", "`") }

func cfHandler(input string) (*billbridge.Handler, error) {
	var h billbridge.Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(cfTicks(input)))
	return &h, err
}

// cfWant is a handler as a test expects it: its max_body and its flow.
type cfWant struct {
	name    string
	maxBody int64
	flow    any
}

// cfFlow decodes a handler's flow into a fresh value of want's type, so a
// test compares typed settings, not JSON text.
func cfFlow(t *testing.T, h *billbridge.Handler, want cfWant) any {
	t.Helper()
	var named struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(h.FlowRaw, &named); err != nil {
		t.Fatal(err)
	}
	if named.Name != want.name {
		t.Fatalf("flow %q, want %q", named.Name, want.name)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(h.FlowRaw, &m)
	delete(m, "name")
	b, _ := json.Marshal(m)
	got := reflect.New(reflect.TypeOf(want.flow).Elem()).Interface()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(got); err != nil {
		t.Fatalf("flow JSON %s: %v", b, err)
	}
	return got
}

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

func TestUnmarshalHandler(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  cfWant
	}{
		{
			name: "proxy, everything",
			input: `billbridge bill24_proxy {
	max_body 16KiB
	call get ´"/customers/" + urlpath(req.consumer_code)´ {
		query merchant ´req.query.merchant_id´
		query lang km
		header Accept "application/json"
		header X-Trace ´req.raw.trace_id´
	}
	when ´res.status == 404´ not_found
	when ´res.body.overdue == true´ bill_overdue
	when "res.body.due == 0" no_amount_to_pay
	message not_found "Customer not found" "រកមិនឃើញអតិថិជន"
	message bill_overdue Overdue
	reply {
		consumer_code       ´res.body.code´
		consumer_name       ´res.body.name_kh´
		consumer_name_latin ´res.body.name´
		phone               ´res.body.phone´
		currency            USD
		due_amount          ´res.body.due´
		min_amount          ´res.body.min´
		max_amount          ´res.body.max´
		balance             ´res.body.credit´
		description         "Monthly bill"
		last_bill_date      ´res.body.bill_date´
		last_due_date <<EXPR
			res.body.due_date
			EXPR
		last_pay_date       ´res.body.paid_date´
	}
}`,
			want: cfWant{name: "bill24_proxy", maxBody: 16 << 10, flow: &bill24.Proxy{
				Call: &billbridge.Call{
					Method: "GET",
					Path:   `"/customers/" + urlpath(req.consumer_code)`,
					Query: []billbridge.NamedExpr{
						{Name: "merchant", Expr: "req.query.merchant_id"},
						{Name: "lang", Expr: `"km"`},
					},
					Headers: []billbridge.NamedExpr{
						{Name: "Accept", Expr: `"application/json"`},
						{Name: "X-Trace", Expr: "req.raw.trace_id"},
					},
				},
				Rules: []bill24.Rule{
					{When: "res.status == 404", Outcome: "not_found"},
					{When: "res.body.overdue == true", Outcome: "bill_overdue"},
					// <expr> positions take any token as the expression,
					// double-quoted or not.
					{When: "res.body.due == 0", Outcome: "no_amount_to_pay"},
				},
				Messages: map[string]wire.Message{
					"not_found":    {EN: "Customer not found", KH: "រកមិនឃើញអតិថិជន"},
					"bill_overdue": {EN: "Overdue"},
				},
				Reply: map[string]string{
					"consumer_code":       "res.body.code",
					"consumer_name":       "res.body.name_kh",
					"consumer_name_latin": "res.body.name",
					"phone":               "res.body.phone",
					"currency":            `"USD"`,
					"due_amount":          "res.body.due",
					"min_amount":          "res.body.min",
					"max_amount":          "res.body.max",
					"balance":             "res.body.credit",
					"description":         `"Monthly bill"`,
					"last_bill_date":      "res.body.bill_date",
					"last_due_date":       "res.body.due_date",
					"last_pay_date":       "res.body.paid_date",
				},
			}},
		},
		{
			name: "proxy, minimal call on one line",
			input: `billbridge bill24_proxy {
	call GET /api/customers
}`,
			want: cfWant{name: "bill24_proxy", flow: &bill24.Proxy{Call: &billbridge.Call{Method: "GET", Path: `"/api/customers"`}}},
		},
		{
			name: "proxy, literal amounts in reply",
			input: `billbridge bill24_proxy {
	call GET /x
	reply {
		currency KHR
		due_amount 0
		min_amount "1000"
	}
}`,
			want: cfWant{name: "bill24_proxy", flow: &bill24.Proxy{
				Call: &billbridge.Call{Method: "GET", Path: `"/x"`},
				// A literal amount is a string, which an amount accepts.
				Reply: map[string]string{"currency": `"KHR"`, "due_amount": `"0"`, "min_amount": `"1000"`},
			}},
		},
		{
			name: "webhook, everything",
			input: `billbridge bill24_webhook {
	max_body 1MB
	call POST /api/payments {
		encode form
		header X-Source bill24
		query channel ´req.bank_code´
		field txn_ref ´req.id´
		field amount ´req.amount´
		field ccy USD
		field note "paid via Bill24"
		field payer <<EXPR
			first(req.customers)?.customer_name ?? req.customer_name
			EXPR
	}
	success ´res.status == 200 && res.body.result == "OK"´
	lookup get ´"/api/payments?txn_ref=" + urlquery(req.id)´ {
		header X-Source bill24
		found ´res.status == 200´
	}
	on_duplicate       error
	duplicate_wait     3s
	lease              1m
	retention          7d
	idempotency_header X-Request-Id
	on_store_error     allow
}`,
			want: cfWant{name: "bill24_webhook", maxBody: 1000 * 1000, flow: &bill24.Webhook{Payment: billbridge.Payment{
				Call: &billbridge.Call{
					Method:  "POST",
					Path:    `"/api/payments"`,
					Encode:  "form",
					Headers: []billbridge.NamedExpr{{Name: "X-Source", Expr: `"bill24"`}},
					Query:   []billbridge.NamedExpr{{Name: "channel", Expr: "req.bank_code"}},
					Fields: []billbridge.NamedExpr{
						{Name: "txn_ref", Expr: "req.id"},
						{Name: "amount", Expr: "req.amount"},
						{Name: "ccy", Expr: `"USD"`},
						{Name: "note", Expr: `"paid via Bill24"`},
						{Name: "payer", Expr: "first(req.customers)?.customer_name ?? req.customer_name"},
					},
				},
				Success: `res.status == 200 && res.body.result == "OK"`,
				Lookup: &billbridge.Lookup{
					Call: billbridge.Call{
						Method:  "GET",
						Path:    `"/api/payments?txn_ref=" + urlquery(req.id)`,
						Headers: []billbridge.NamedExpr{{Name: "X-Source", Expr: `"bill24"`}},
					},
					Found: "res.status == 200",
				},
				OnDuplicate:       "error",
				DuplicateWait:     caddy.Duration(3 * time.Second),
				Lease:             caddy.Duration(time.Minute),
				Retention:         caddy.Duration(7 * 24 * time.Hour),
				IdempotencyHeader: "X-Request-Id",
				OnStoreError:      "allow",
			}}},
		},
		{
			name: "webhook, json body and idempotency_header off",
			input: `billbridge bill24_webhook {
	call PUT ´"/api/payments/" + urlpath(req.id)´ {
		encode json
		body ´{"amount": req.amount, "customers": req.customers}´
	}
	idempotency_header off
	on_duplicate replay
	on_store_error reject
}`,
			want: cfWant{name: "bill24_webhook", flow: &bill24.Webhook{Payment: billbridge.Payment{
				Call: &billbridge.Call{
					Method: "PUT",
					Path:   `"/api/payments/" + urlpath(req.id)`,
					Encode: "json",
					Body:   `{"amount": req.amount, "customers": req.customers}`,
				},
				IdempotencyHeader: "-",
				OnDuplicate:       "replay",
				OnStoreError:      "reject",
			}}},
		},
		{
			name: "webhook, a list is a json field",
			input: `billbridge bill24_webhook {
	call POST /p {
		field customers ´req.customers´
	}
}`,
			want: cfWant{name: "bill24_webhook", flow: &bill24.Webhook{Payment: billbridge.Payment{
				Call: &billbridge.Call{Method: "POST", Path: `"/p"`, Fields: []billbridge.NamedExpr{{Name: "customers", Expr: "req.customers"}}},
			}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cfHandler(tc.input)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.MaxBody != tc.want.maxBody {
				t.Errorf("max_body %d, want %d", got.MaxBody, tc.want.maxBody)
			}
			if flow := cfFlow(t, got, tc.want); !reflect.DeepEqual(flow, tc.want.flow) {
				t.Errorf("got\n%s\nwant\n%s", cfDump(flow), cfDump(tc.want.flow))
			}
		})
	}
}

// TestUnmarshalHandlerLiteralOrExpression pins the value rule: a bare or
// double-quoted value is a literal string, a backtick value or a heredoc is
// an expression. Text with dots, slashes, dashes, words or placeholders
// stays text; what reads as an expression is refused (see
// TestUnmarshalHandlerExprWithoutBackticks).
func TestUnmarshalHandlerLiteralOrExpression(t *testing.T) {
	for _, tc := range []struct {
		value string // as written in the Caddyfile
		want  string // the expression stored
	}{
		{`USD`, `"USD"`},
		{`"USD"`, `"USD"`},
		{`"two words"`, `"two words"`},
		{`""`, `""`},
		{`42`, `"42"`}, // text, not a number
		{`-5`, `"-5"`},
		{`true`, `"true"`},
		{`application/json`, `"application/json"`},
		{`"text/html; charset=utf-8"`, `"text/html; charset=utf-8"`},
		{`no-cache`, `"no-cache"`},
		{`2024-01-01`, `"2024-01-01"`},
		{`shop.example.com`, `"shop.example.com"`},
		{`request.id`, `"request.id"`},
		{`res`, `"res"`},
		{`"paid via Bill24"`, `"paid via Bill24"`},
		{`"paid in full"`, `"paid in full"`},
		{`"cash and card"`, `"cash and card"`},
		{`"Paid (partial)"`, `"Paid (partial)"`},
		{`"A & B Co"`, `"A & B Co"`},
		{`"50% off"`, `"50% off"`},
		{`"1 + 2"`, `"1 + 2"`},
		{`!important`, `"!important"`},
		// Resolved when the config loads, not when it is adapted: the
		// adapted JSON keeps the placeholder, never the secret.
		{`{env.API_KEY}`, `"{env.API_KEY}"`},
		{`"Bearer {file./run/secrets/key}"`, `"Bearer {file./run/secrets/key}"`},
		{`សួស្តី`, `"សួស្តី"`},
		{`"ព្រះរាជាណាចក្រកម្ពុជា"`, `"ព្រះរាជាណាចក្រកម្ពុជា"`},
		{`"say \"hi\""`, `"say \"hi\""`},
		{`ម៉ោង`, `"ម៉ោង"`},
		{"´req.currency´", `req.currency`},
		{"´\"USD\"´", `"USD"`},
		{"´'USD'´", `'USD'`},
		{"´req.currency + \"-\" + req.bank_code´", `req.currency + "-" + req.bank_code`},
		{"<<EXPR\n\t\treq.currency\n\t\tEXPR", `req.currency`},
		{"<<EXPR\n\t\treq.bank_code != \"\"\n\t\t\t? req.bank_code\n\t\t\t: \"none\"\n\t\tEXPR", "req.bank_code != \"\"\n\t? req.bank_code\n\t: \"none\""},
	} {
		t.Run(tc.value, func(t *testing.T) {
			h, err := cfHandler("billbridge bill24_webhook {\n\tcall POST /p {\n\t\tfield f " + tc.value + "\n\t}\n}")
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			f := cfFlow(t, h, cfWant{name: "bill24_webhook", flow: &bill24.Webhook{}}).(*bill24.Webhook)
			if got := f.Call.Fields[0].Expr; got != tc.want {
				t.Errorf("field f %s: got expression %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

func TestUnmarshalHandlerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  string
		line  int
	}{
		// The flow.
		{"missing flow", "billbridge", "a flow is required (one of bill24_proxy, bill24_webhook, qm_callback, qm_create_bill, qm_redirect)", 1},
		{"missing flow before block", "billbridge {\n\tcall GET /x\n}", "a flow is required", 1},
		{"unknown flow", "billbridge bill24_refund {\n\tcall GET /x\n}", `unknown flow "bill24_refund" (want one of bill24_proxy, bill24_webhook, qm_callback, qm_create_bill, qm_redirect)`, 1},
		{"extra flow args", "billbridge bill24_proxy extra {\n\tcall GET /x\n}", "wrong argument count", 1},

		// Subdirectives.
		{"unknown subdirective", "billbridge bill24_proxy {\n\tcall GET /x\n\trespond 200\n}", "unrecognized subdirective 'respond'", 3},
		{"unknown call subdirective", "billbridge bill24_proxy {\n\tcall GET /x {\n\t\tcookie a b\n\t}\n}", "unrecognized subdirective 'cookie'", 3},
		{"found outside lookup", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfound ´res.status == 200´\n\t}\n}", "unrecognized subdirective 'found'", 3},
		{"missing call block", "billbridge bill24_proxy {\n\tmax_body 1KiB\n}", "a call <method> <path> block is required", 1},
		{"missing call, no block", "billbridge bill24_proxy", "a call <method> <path> block is required", 1},

		// Duplicates.
		{"duplicate call", "billbridge bill24_proxy {\n\tcall GET /x\n\tcall GET /y\n}", "call already specified", 3},
		{"duplicate max_body", "billbridge bill24_proxy {\n\tmax_body 1KiB\n\tcall GET /x\n\tmax_body 2KiB\n}", "max_body already specified", 4},
		{"duplicate success", "billbridge bill24_webhook {\n\tcall POST /x\n\tsuccess ´true´\n\tsuccess ´false´\n}", "success already specified", 4},
		{"duplicate lookup", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y {\n\t\tfound ´true´\n\t}\n\tlookup GET /z {\n\t\tfound ´true´\n\t}\n}", "lookup already specified", 6},
		{"duplicate reply", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t}\n\treply {\n\t}\n}", "reply already specified", 5},
		{"duplicate reply field", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tcurrency USD\n\t\tcurrency KHR\n\t}\n}", "reply currency already specified", 5},
		{"duplicate message outcome", "billbridge bill24_proxy {\n\tcall GET /x\n\tmessage not_found A\n\tmessage not_found B\n}", "message not_found already specified", 4},
		{"duplicate field name", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a 1\n\t\tfield a 2\n\t}\n}", "field a already specified", 4},
		{"duplicate query name", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tquery a 1\n\t\tquery a 2\n\t}\n}", "query a already specified", 4},
		{"duplicate header name", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\theader A 1\n\t\theader A 2\n\t}\n}", "header A already specified", 4},
		{"duplicate encode", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tencode form\n\t\tencode form\n\t}\n}", "encode already specified", 4},
		{"duplicate body", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tbody ´{}´\n\t\tbody ´{}´\n\t}\n}", "body already specified", 4},
		{"duplicate found", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y {\n\t\tfound ´true´\n\t\tfound ´true´\n\t}\n}", "found already specified", 5},
		{"duplicate lease", "billbridge bill24_webhook {\n\tcall POST /x\n\tlease 1m\n\tlease 2m\n}", "lease already specified", 4},

		// Argument counts.
		{"call without method", "billbridge bill24_proxy {\n\tcall\n}", "wrong argument count", 2},
		{"call without path", "billbridge bill24_proxy {\n\tcall GET {\n\t}\n}", "wrong argument count or unexpected line ending after 'GET'", 2},
		{"call with extra arg", "billbridge bill24_proxy {\n\tcall GET /x /y\n}", "wrong argument count", 2},
		{"max_body without size", "billbridge bill24_proxy {\n\tmax_body\n\tcall GET /x\n}", "wrong argument count", 2},
		{"when with one arg", "billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´res.status == 404´\n}", "wrong argument count", 3},
		{"when with three args", "billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´true´ not_found now\n}", "wrong argument count", 3},
		{"message with one arg", "billbridge bill24_proxy {\n\tcall GET /x\n\tmessage not_found\n}", "wrong argument count", 3},
		{"message with four args", "billbridge bill24_proxy {\n\tcall GET /x\n\tmessage not_found a b c\n}", "wrong argument count", 3},
		{"reply with an arg", "billbridge bill24_proxy {\n\tcall GET /x\n\treply json {\n\t}\n}", "wrong argument count", 3},
		{"reply field without value", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tcurrency\n\t}\n}", "wrong argument count", 4},
		{"reply field with two values", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tcurrency USD KHR\n\t}\n}", "wrong argument count", 4},
		{"field without value", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a\n\t}\n}", "wrong argument count", 3},
		{"field with two values", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a b c\n\t}\n}", "wrong argument count", 3},
		{"header without name", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\theader\n\t}\n}", "wrong argument count", 3},
		{"success without expr", "billbridge bill24_webhook {\n\tcall POST /x\n\tsuccess\n}", "wrong argument count", 3},
		{"on_duplicate with two args", "billbridge bill24_webhook {\n\tcall POST /x\n\ton_duplicate replay error\n}", "wrong argument count", 3},
		{"idempotency_header without name", "billbridge bill24_webhook {\n\tcall POST /x\n\tidempotency_header\n}", "wrong argument count", 3},

		// Values.
		{"bad method", "billbridge bill24_proxy {\n\tcall FETCH /x\n}", `call: invalid method "FETCH"`, 2},
		{"bad lookup method", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup OPTIONS /y {\n\t\tfound ´true´\n\t}\n}", `lookup: invalid method "OPTIONS"`, 3},
		{"bad encode", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tencode xml\n\t}\n}", `encode must be json, form or query, not "xml"`, 3},
		{"encode after fields", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a 1\n\t\tencode form\n\t}\n}", "encode must come before the fields", 4},
		{"field and body", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a 1\n\t\tbody ´{}´\n\t}\n}", "call: use field or body, not both", 5},
		{"body with encode form", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tencode form\n\t\tbody ´{}´\n\t}\n}", "call: body is for encode json; use fields for form", 5},
		{"unknown when outcome", "billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´true´ paid\n}", `when: unknown outcome "paid"`, 3},
		{"unknown message outcome", "billbridge bill24_proxy {\n\tcall GET /x\n\tmessage expired Expired\n}", `message: unknown outcome "expired"`, 3},
		{"unknown reply field", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tamount 1\n\t}\n}", `reply: unknown field "amount" (want one of balance, consumer_code,`, 4},
		{"bad duration", "billbridge bill24_webhook {\n\tcall POST /x\n\tlease soon\n}", `lease: invalid duration "soon"`, 3},
		{"negative duration", "billbridge bill24_webhook {\n\tcall POST /x\n\tretention -1h\n}", `retention: invalid duration "-1h"`, 3},
		{"zero duration", "billbridge bill24_webhook {\n\tcall POST /x\n\tduplicate_wait 0s\n}", `duplicate_wait: invalid duration "0s"`, 3},
		{"bad size", "billbridge bill24_proxy {\n\tmax_body lots\n\tcall GET /x\n}", `max_body: invalid size "lots"`, 2},
		{"zero size", "billbridge bill24_proxy {\n\tmax_body 0\n\tcall GET /x\n}", `max_body: invalid size "0"`, 2},
		// 10EB fits a uint64 but not the int64 the limit is kept in.
		{"size past int64", "billbridge bill24_proxy {\n\tmax_body 10EB\n\tcall GET /x\n}", `max_body: invalid size "10EB"`, 2},
		{"bad namespace", "billbridge bill24_webhook {\n\tnamespace shop:a\n\tcall POST /x\n}", `namespace "shop:a": use letters, digits, '-' and '_'`, 2},
		{"namespace named after a gateway", "billbridge bill24_webhook {\n\tnamespace qm\n\tcall POST /x\n}", `namespace "qm" is a gateway's name`, 2},
		{"bad on_duplicate", "billbridge bill24_webhook {\n\tcall POST /x\n\ton_duplicate ignore\n}", `on_duplicate must be replay or error, not "ignore"`, 3},
		{"bad on_store_error", "billbridge bill24_webhook {\n\tcall POST /x\n\ton_store_error retry\n}", `on_store_error must be reject or allow, not "retry"`, 3},
		{"lookup without found", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y {\n\t\theader A b\n\t}\n}", "lookup: found <expr> is required", 5},
		{"lookup without block", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y\n}", "lookup: found <expr> is required", 3},

		// Expressions are compiled while parsing.
		{"typo in a field name", "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + req.consumer_cod´\n}", "has no field consumer_cod", 2},
		{"typo in a webhook field", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield id ´req.tran_idd´\n\t}\n}", "has no field tran_idd", 3},
		{"res in a call mapping", "billbridge bill24_proxy {\n\tcall GET /x {\n\t\tquery s ´res.text´\n\t}\n}", "unknown name res", 3},
		{"res in a call path", "billbridge bill24_webhook {\n\tcall POST ´\"/p/\" + res.text´\n}", "unknown name res", 2},
		{"res in a body", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tbody ´res.body´\n\t}\n}", "unknown name res", 3},
		{"due_amount given a bool", "billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tdue_amount ´res.status == 200´\n\t}\n}", "gives bool, want an amount", 4},
		{"when given a non-bool", "billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´res.status´ not_found\n}", "gives int, want a condition (bool)", 3},
		{"when given a bare word", "billbridge bill24_proxy {\n\tcall GET /x\n\twhen notfound not_found\n}", "unknown name notfound", 3},
		{"success given a non-bool", "billbridge bill24_webhook {\n\tcall POST /x\n\tsuccess ´res.text´\n}", "gives string, want a condition (bool)", 3},
		{"found given a non-bool", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y {\n\t\tfound ´res.status´\n\t}\n}", "gives int, want a condition (bool)", 4},
		{"list in a form field", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tencode form\n\t\tfield c ´req.customers´\n\t}\n}", "want text", 4},
		{"empty expression", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a ´´\n\t}\n}", "empty expression", 3},
		{"syntax error", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield a ´req.amount +´\n\t}\n}", "`req.amount +`: unexpected token EOF", 3},
		{"heredoc error", "billbridge bill24_webhook {\n\tcall POST /x\n\tsuccess <<EXPR\n\t\tres.status == 200 &&\n\t\tres.bodyy.ok\n\t\tEXPR\n}", "has no field bodyy", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cfHandler(tc.input)
			cfWantErr(t, err, tc.want, tc.line)
		})
	}
}

// TestUnmarshalHandlerExprWithoutBackticks: a value meant as an
// expression but written without backticks would be sent as its own text
// (the words "req.amount"); it is refused with its line and the fix.
func TestUnmarshalHandlerExprWithoutBackticks(t *testing.T) {
	for _, tc := range []struct {
		value string // as written after "field f"
		why   string
	}{
		{`req.amount`, "it reads req"},
		{`req.customers[0]`, "it reads req"},
		{`res.body.due`, "it reads res"},
		{`urlquery(req.id)`, "a call of urlquery"},
		{`urlquery(`, "a call of urlquery"},
		{`"len(req.customers)"`, "a call of len"},
		{`"upper(\"x\")"`, "a call of upper"},
		{`"res.status == 200"`, "it reads res"},
		{`"status == 200"`, "the operator =="},
		{`"a && b"`, "the operator &&"},
		{`"x ?? y"`, "the operator ??"},
		{`"ok ? 1 : 2"`, "a ternary"},
		{`'USD'`, "a quoted string"},
		{`"'USD' + code"`, "a string concatenation"},
		{`"[1, 2]"`, "a list or map"},
		{`"/c/{req.consumer_code}"`, "it reads req"},
		{`"1 + req.amount"`, "it reads req"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, err := cfHandler("billbridge bill24_webhook {\n\tcall POST /p {\n\t\tfield f " + tc.value + "\n\t}\n}")
			cfWantErr(t, err, "reads as an expression ("+tc.why+"), but without backticks it is sent as this text: write `", 3)
		})
	}
	// Every literal position has the rule: the path, a query, a header,
	// a reply field.
	for _, tc := range []struct {
		input string
		line  int
	}{
		{"billbridge bill24_proxy {\n\tcall GET req.path\n}", 2},
		{"billbridge bill24_proxy {\n\tcall GET /x {\n\t\tquery code req.consumer_code\n\t}\n}", 3},
		{"billbridge bill24_proxy {\n\tcall GET /x {\n\t\theader X-Code urlpath(req.consumer_code)\n\t}\n}", 3},
		{"billbridge bill24_proxy {\n\tcall GET /x\n\treply {\n\t\tdue_amount res.body.due\n\t}\n}", 4},
		{"billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET /y {\n\t\theader X-Id req.id\n\t\tfound ´true´\n\t}\n}", 4},
	} {
		_, err := cfHandler(tc.input)
		cfWantErr(t, err, "reads as an expression", tc.line)
	}
	// The hint's text form is a literal indeed.
	h, err := cfHandler("billbridge bill24_webhook {\n\tcall POST /p {\n\t\tfield f ´\"req.amount\"´\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	if f := cfFlow(t, h, cfWant{name: "bill24_webhook", flow: &bill24.Webhook{}}).(*bill24.Webhook); f.Call.Fields[0].Expr != `"req.amount"` {
		t.Errorf("got %s", f.Call.Fields[0].Expr)
	}
}

// TestUnmarshalHandlerCallTraps: call settings that would validate and
// then fail (or misbehave) on the first payment are refused while parsing,
// with their line.
func TestUnmarshalHandlerCallTraps(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
		line              int
	}{
		// The path must start with /.
		{"relative literal path", "billbridge bill24_proxy {\n\tcall GET api/customers\n}", `call path: legacy path "api/customers" must start with /`, 2},
		{"relative path prefix", "billbridge bill24_proxy {\n\tcall GET ´\"api/\" + urlpath(req.consumer_code)´\n}", "must start with / (with each escaped value as \"x\")", 2},
		{"path that is one escaped value", "billbridge bill24_proxy {\n\tcall GET ´urlpath(req.consumer_code)´\n}", "must start with /", 2},
		{"relative lookup path", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET ´\"p?id=\" + urlquery(req.id)´ {\n\t\tfound ´true´\n\t}\n}", "lookup path: legacy path \"p?id=x\" must start with /", 3},
		{"relative on_failed path", "billbridge qm_callback {\n\tcall POST /paid\n\ton_failed POST failed\n}", "must start with /", 3},
		{"one branch relative", "billbridge bill24_proxy {\n\tcall GET ´req.consumer_code == \"\" ? \"/a\" : \"b\"´\n}", `legacy path "b" must start with /`, 2},
		{"host in the path", "billbridge bill24_proxy {\n\tcall GET //evil.example/x\n}", "is not a plain path", 2},
		{"dot segments", "billbridge bill24_proxy {\n\tcall GET /api/../admin\n}", "has dot segments", 2},
		{"dot segments in a prefix", "billbridge bill24_proxy {\n\tcall GET ´\"/api/../\" + urlpath(req.consumer_code)´\n}", "has dot segments", 2},
		{"space in the path", "billbridge bill24_proxy {\n\tcall GET \"/api/a b\"\n}", "is not a plain path", 2},
		{"fragment in the path", "billbridge bill24_proxy {\n\tcall GET ´\"/c#\" + urlpath(req.consumer_code)´\n}", "is not a plain path", 2},

		// Gateway data must be escaped into a path or query.
		{"unescaped in the path", "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + req.consumer_code´\n}", "gateway data `req.consumer_code` in a call path must be escaped: wrap it in urlpath(…) before the ? or urlquery(…) after it", 2},
		{"unescaped in the query", "billbridge bill24_proxy {\n\tcall GET ´\"/c?code=\" + req.consumer_code´\n}", "must be escaped", 2},
		{"unescaped after an escaped one", "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + urlpath(req.consumer_code) + \"?q=\" + text(req.consumer_code)´\n}", "gateway data `text(req.consumer_code)` in a call path must be escaped", 2},
		{"unescaped in a branch", "billbridge bill24_proxy {\n\tcall GET ´req.consumer_code == \"\" ? \"/a\" : \"/b/\" + req.consumer_code´\n}", "must be escaped", 2},
		{"unescaped through let", "billbridge bill24_proxy {\n\tcall GET ´let c = req.consumer_code; \"/c/\" + c´\n}", "gateway data `c` in a call path must be escaped", 2},
		{"the whole path from data", "billbridge bill24_webhook {\n\tcall POST ´req.id´\n}", "gateway data `req.id` in a call path must be escaped", 2},
		{"urlpath after ?", "billbridge bill24_proxy {\n\tcall GET ´\"/c?code=\" + urlpath(req.consumer_code)´\n}", "after the ? of a call path, escape values with urlquery, not urlpath", 2},
		{"urlquery in the path", "billbridge bill24_proxy {\n\tcall GET ´\"/c/\" + urlquery(req.consumer_code)´\n}", "in the path part of a call path, escape a segment with urlpath, not urlquery", 2},
		{"unescaped lookup", "billbridge bill24_webhook {\n\tcall POST /x\n\tlookup GET ´\"/p?id=\" + req.id´ {\n\t\tfound ´true´\n\t}\n}", "must be escaped", 3},

		// Placeholders that nothing would replace.
		{"placeholder in an expression", "billbridge bill24_proxy {\n\tcall GET /x {\n\t\theader Authorization ´\"Bearer \" + \"{env.TOKEN}\"´\n\t}\n}", "{env.TOKEN} is not replaced inside an expression; give the whole value as a literal, outside backticks", 3},
		{"placeholder in a path expression", "billbridge bill24_proxy {\n\tcall GET ´\"/{env.TENANT}/c/\" + urlpath(req.consumer_code)´\n}", "{env.TENANT} is not replaced inside an expression", 2},
		{"placeholder in a body", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tbody ´{\"key\": \"{env.KEY}\"}´\n\t}\n}", "{env.KEY} is not replaced", 3},
		{"request placeholder in a query", "billbridge bill24_proxy {\n\tcall GET /x {\n\t\tquery trace {http.request.header.traceparent}\n\t}\n}", "{http.request.header.traceparent}: request placeholders ({http.*}, {time.*}) are resolved per request only in header values", 3},
		{"request placeholder in a field", "billbridge bill24_webhook {\n\tcall POST /x {\n\t\tfield at \"{time.now.unix}\"\n\t}\n}", "{time.now.unix}: request placeholders", 3},
		{"request placeholder in the path", "billbridge bill24_proxy {\n\tcall GET /x/{http.request.host}\n}", "{http.request.host}: request placeholders", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cfHandler(tc.input)
			cfWantErr(t, err, tc.want, tc.line)
		})
	}
}

// TestUnmarshalHandlerCallPathsAccepted: the escaped forms the errors
// above point to parse, and so do literal placeholders.
func TestUnmarshalHandlerCallPathsAccepted(t *testing.T) {
	for _, src := range []string{
		"call GET ´\"/c/\" + urlpath(req.consumer_code)´",
		"call GET ´\"/c?code=\" + urlquery(req.consumer_code) + \"&lang=km\"´",
		"call GET ´\"/c/\" + urlpath(req.consumer_code) + \"/bills?from=\" + urlquery(req.consumer_code)´",
		"call GET ´req.consumer_code == \"\" ? \"/all\" : \"/c/\" + urlpath(req.consumer_code)´",
		"call GET ´\"/c/\" + urlpath(req.consumer_code)´ {\n\t\theader X-Trace {http.request.header.traceparent}\n\t\theader X-Key {env.KEY}\n\t\tquery key \"{file./run/key}\"\n\t}",
		"call GET /{env.TENANT}/customers",
	} {
		if _, err := cfHandler("billbridge bill24_proxy {\n\t" + src + "\n}"); err != nil {
			t.Errorf("%s: %v", cfTicks(src), err)
		}
	}
}

// TestUnmarshalHandlerExprInFunctionArgs covers mistakes inside function
// arguments and rewritten comparisons. With a patcher installed, expr-lang
// v1.17.8 stops reporting them (`urlquery(req.cdoe)` compiled and failed
// only when a payment ran); mappings' strict check brings them back, with
// the line.
func TestUnmarshalHandlerExprInFunctionArgs(t *testing.T) {
	for _, tc := range []struct{ input, want string }{
		{"billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´res.status == req.consumer_cod´ not_found\n}", "consumer_cod"},
		{"billbridge bill24_proxy {\n\tcall GET /x\n\twhen ´text(req.consumer_cod) == \"404\"´ not_found\n}", "consumer_cod"},
		{"billbridge bill24_proxy {\n\tcall GET /x {\n\t\tquery code ´urlquery(req.consumer_cod)´\n\t}\n}", "consumer_cod"},
		{"billbridge bill24_proxy {\n\tcall GET /x {\n\t\tquery status ´text(res.status)´\n\t}\n}", "unknown name res"},
	} {
		_, err := cfHandler(tc.input)
		if err == nil {
			t.Fatalf("this compiles, but must not:\n%s", cfTicks(tc.input))
		}
		cfWantErr(t, err, tc.want, 3)
	}
}
