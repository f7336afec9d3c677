package mappings

import (
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// testReq is a gateway payload as a flow's typed struct would have it.
type testReq struct {
	Amount   Decimal        `expr:"amount"`
	Currency string         `expr:"currency"`
	Code     string         `expr:"code"`
	Count    int            `expr:"count"`
	Rate     float64        `expr:"rate"`
	Paid     bool           `expr:"paid"`
	When     time.Time      `expr:"when"`
	Raw      map[string]any `expr:"raw"`
}

type testEnv = ResponseEnv[testReq]

var testWhen = time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC) // 10:46:33 in Phnom Penh

func newTestReq() testReq {
	return testReq{
		Amount:   MustDecimal("50000.00"),
		Currency: "KHR",
		Code:     "CU003035",
		Count:    2,
		Rate:     0.5,
		When:     testWhen,
	}
}

// jsonEnv returns an answer-side env whose legacy body is the JSON body.
func jsonEnv(t *testing.T, body string) testEnv {
	t.Helper()
	res := NewResponse(200, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, []byte(body))
	if _, isText := res.Body.(string); isText && body != "" && body[0] != '"' {
		t.Fatalf("test body %s did not decode as JSON", body)
	}
	return testEnv{Req: newTestReq(), Res: res}
}

var testCompiler = NewCompiler(DefaultExponents())

func mustCompile(t *testing.T, src string, env any, kind Kind) *Program {
	t.Helper()
	p, err := testCompiler.Compile(src, env, kind)
	if err != nil {
		t.Fatalf("Compile(%q, %v): %v", src, kind, err)
	}
	if p.Source() != src {
		t.Fatalf("Source() = %q, want %q", p.Source(), src)
	}
	return p
}

// sameValue compares a mapping's result with want: Decimals by their exact
// text (scale included), everything else by type and value.
func sameValue(got, want any) bool {
	if wd, ok := want.(Decimal); ok {
		gd, ok := got.(Decimal)
		return ok && gd.String() == wd.String()
	}
	if wt, ok := want.(time.Time); ok {
		gt, ok := got.(time.Time)
		return ok && gt.Equal(wt)
	}
	return reflect.DeepEqual(got, want)
}

func TestCompileErrors(t *testing.T) {
	reqEnv := RequestEnv[testReq]{}
	resEnv := testEnv{}
	tests := []struct {
		name string
		src  string
		env  any
		kind Kind
		want string // in the error
	}{
		{"typo in req field", `req.amuont`, resEnv, KindDecimal, "amuont"},
		{"typo in res field", `res.stauts == 200`, resEnv, KindBool, "stauts"},
		{"res in a request env", `res.status == 200`, reqEnv, KindBool, "res"},
		// expr's checker skips call arguments once a patcher has typed the
		// call: typos inside helpers and patched operators must still fail.
		{"typo in a helper", `"/c?code=" + urlquery(req.cdoe)`, reqEnv, KindString, "cdoe"},
		{"typo in text()", `text(req.amuont)`, reqEnv, KindString, "amuont"},
		{"typo in a decimal sum", `req.amount + req.amuont`, reqEnv, KindDecimal, "amuont"},
		{"typo in a division", `req.amuont / 2`, reqEnv, KindDecimal, "amuont"},
		{"typo in a condition", `req.amuont > 0 && req.paid`, reqEnv, KindBool, "amuont"},
		{"typo beside a legacy field", `res.body.balance == req.amuont`, resEnv, KindBool, "amuont"},
		{"typo negated", `-req.amuont`, reqEnv, KindDecimal, "amuont"},
		{"typo in a ternary", `res.status == 200 ? req.amount : req.amuont`, resEnv, KindDecimal, "amuont"},
		{"unknown function", `urlescape(req.code)`, reqEnv, KindString, "urlescape"},
		{"bool for an amount", `req.paid`, reqEnv, KindDecimal, "want an amount"},
		{"comparison for an amount", `req.amount > 5`, reqEnv, KindDecimal, "want an amount"},
		{"float field for an amount", `req.rate`, reqEnv, KindDecimal, "float"},
		{"float arithmetic for an amount", `req.rate * 2`, reqEnv, KindDecimal, "float"},
		{"float field for text", `req.rate`, reqEnv, KindString, "float64"},
		{"time for an amount", `req.when`, reqEnv, KindDecimal, "time.Time"},
		{"string for a condition", `req.code`, reqEnv, KindBool, "want a condition (bool)"},
		{"amount for a condition", `req.amount`, reqEnv, KindBool, "want a condition (bool)"},
		{"string for a whole number", `req.code`, reqEnv, KindInt, "want a whole number"},
		{"amount for a date", `req.amount`, reqEnv, KindDate, "want a date"},
		{"map for text", `req.raw`, reqEnv, KindString, "want text"},
		{"empty", ``, reqEnv, KindAny, "empty expression"},
		{"blank", " \t\n ", reqEnv, KindAny, "empty expression"},
		{"syntax", `req.amount +`, reqEnv, KindAny, "unexpected"},
		{"string plus amount", `req.code + req.amount`, reqEnv, KindAny, "mismatched types string and mappings.Decimal"},
		{"amount equals string", `req.amount == "10"`, reqEnv, KindBool, "mismatched types mappings.Decimal and string"},
		{"amount less than time", `req.amount < req.when`, reqEnv, KindBool, "mismatched types"},
		{"string divided", `req.code / 2`, reqEnv, KindDecimal, "mismatched types string and int"},
		{"helper argument type", `round(req.amount, "2")`, reqEnv, KindDecimal, "round"},
		{"helper argument count", `truncate(req.code)`, reqEnv, KindString, "truncate"},
		{"format_date of an amount", `format_date(req.amount, "2006")`, reqEnv, KindString, "format_date"},
		{"too big", "1" + strings.Repeat(" + 1", maxNodes), reqEnv, KindAny, "exceeds maximum allowed nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := testCompiler.Compile(tt.src, tt.env, tt.kind)
			if err == nil {
				t.Fatalf("Compile(%q, %v) succeeded, want an error with %q", tt.src, tt.kind, tt.want)
			}
			if p != nil {
				t.Errorf("Compile returned a program with its error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile(%q) error %q does not mention %q", tt.src, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestCompileKinds(t *testing.T) {
	env := testEnv{}
	tests := []struct {
		src  string
		kind Kind
	}{
		{`1/3`, KindDecimal},
		{`req.count / 2`, KindDecimal}, // division is decimal, never float
		{`req.count`, KindDecimal},
		{`req.code`, KindDecimal}, // a numeric string is read when it runs
		{`1.5`, KindDecimal},      // a float literal is a Decimal constant
		{`req.amount`, KindString},
		{`req.count`, KindString},
		{`req.paid`, KindString},
		{`req.when`, KindString},
		{`res.body.balance`, KindDecimal}, // untyped: checked when it runs
		{`res.body.ok`, KindBool},
		{`res.body`, KindString},
		{`req.count`, KindInt},
		{`req.amount`, KindInt},
		{`req.when`, KindDate},
		{`res.body.paid_at`, KindDate},
		{`req.code`, KindDate},
		{`{"a": req.amount, "b": [1, 2]}`, KindAny},
		{`req.rate`, KindAny},
	}
	for _, tt := range tests {
		if _, err := testCompiler.Compile(tt.src, env, tt.kind); err != nil {
			t.Errorf("Compile(%q, %v): %v", tt.src, tt.kind, err)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{
		KindAny: "any value", KindString: "text", KindDecimal: "an amount",
		KindBool: "a condition (bool)", KindInt: "a whole number", KindDate: "a date",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), k.String(), s)
		}
	}
}

// TestDecimalExpressions runs arithmetic and comparisons and checks that
// money stays exact: Decimal results keep their scale, ints stay ints, and
// nothing is ever a float64.
func TestDecimalExpressions(t *testing.T) {
	tests := []struct {
		src  string
		body string // legacy JSON answer
		want any
	}{
		{`0.1 + 0.2 == 0.3`, `{}`, true},
		{`0.1 + 0.2`, `{}`, MustDecimal("0.3")},
		{`0.1 + 0.2 != 0.3`, `{}`, false},
		{`decimal("10.20")`, `{}`, MustDecimal("10.20")},
		{`req.amount * 2`, `{}`, MustDecimal("100000.00")},
		{`req.amount - 0.01`, `{}`, MustDecimal("49999.99")},
		{`req.amount + req.count`, `{}`, MustDecimal("50002.00")},
		{`req.amount == 50000`, `{}`, true},
		{`req.amount > 49999.99`, `{}`, true},
		{`req.amount <= 49999.99`, `{}`, false},
		{`res.body.balance == 0`, `{"balance":0}`, true},
		{`res.body.balance == 0`, `{"balance":0.00}`, true},
		{`res.body.balance == 0`, `{"balance":0.01}`, false},
		{`res.body.balance != 0`, `{"balance":0.00}`, false},
		{`res.body.amt > 5`, `{"amt":10.20}`, true},
		{`res.body.amt < 10.2`, `{"amt":10.20}`, false},
		{`res.body.amt >= 10.2`, `{"amt":10.20}`, true},
		{`res.body.amt <= 10.19`, `{"amt":10.20}`, false},
		{`res.body.amt == req.amount`, `{"amt":50000}`, true},
		{`res.body.a + res.body.b`, `{"a":1,"b":2}`, 3},
		{`res.body.a - res.body.b`, `{"a":1,"b":2}`, -1},
		{`res.body.a * res.body.b`, `{"a":3,"b":2}`, 6},
		{`res.body.a + res.body.b`, `{"a":0.1,"b":0.2}`, MustDecimal("0.3")},
		{`res.body.a + res.body.b`, `{"a":1,"b":0.50}`, MustDecimal("1.50")},
		{`res.body.a * res.body.b`, `{"a":10.20,"b":3}`, MustDecimal("30.60")},
		{`res.body.a - res.body.b`, `{"a":10.20,"b":0.2}`, MustDecimal("10.00")},
		{`"a" + res.body.s`, `{"s":"x"}`, "ax"},
		{`res.body.s + res.body.s`, `{"s":"ជា"}`, "ជាជា"},
		{`res.body.s == "x"`, `{"s":"x"}`, true},
		{`10 / 4`, `{}`, MustDecimal("2.5")},
		{`1 / 3`, `{}`, MustDecimal("0.3333333333333333")},
		{`req.count / 4`, `{}`, MustDecimal("0.5")},
		{`res.body.a / res.body.b`, `{"a":10,"b":4}`, MustDecimal("2.5")},
		{`res.body.a / 3`, `{"a":10.20}`, MustDecimal("3.40")},
		{`-req.amount`, `{}`, MustDecimal("-50000.00")},
		{`-res.body.amt`, `{"amt":10.20}`, MustDecimal("-10.20")},
		{`-res.body.a`, `{"a":7}`, -7},
		{`99999999999.99 + 0.01`, `{}`, MustDecimal("100000000000.00")},
		{`-1`, `{}`, -1},
		{`-1.5`, `{}`, MustDecimal("-1.5")},
		{`0 - res.body.amt`, `{"amt":10.20}`, MustDecimal("-10.20")},
		{`req.count + 1`, `{}`, 3},
		{`res.body.amt ?? 0`, `{"amt":10.20}`, MustDecimal("10.20")},
		{`res.body.missing ?? 0`, `{"amt":10.20}`, 0},
		{`res.body.missing == nil`, `{}`, true},
		{`req.amount == nil`, `{}`, false},
		{`res.body.items[0].amount + res.body.items[1].amount`, `{"items":[{"amount":0.10},{"amount":0.20}]}`, MustDecimal("0.30")},
		{`len(filter(res.body.items, .amount > 0.15))`, `{"items":[{"amount":0.10},{"amount":0.20},{"amount":1}]}`, 2},
		{`res.body.result == "OK" && res.status == 200`, `{"result":"OK"}`, true},
		{`res.body.amt > 5 ? "pay" : "skip"`, `{"amt":10.20}`, "pay"},
	}
	for _, tt := range tests {
		t.Run(tt.src+" "+tt.body, func(t *testing.T) {
			env := jsonEnv(t, tt.body)
			p := mustCompile(t, tt.src, env, KindAny)
			got, err := p.Run(env)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !sameValue(got, tt.want) {
				t.Errorf("%s = %T %v, want %T %v", tt.src, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		src  string
		body string
		want string
	}{
		{`req.rate == req.amount`, `{}`, errFloatMoney.Error()},
		{`req.amount < req.rate`, `{}`, errFloatMoney.Error()},
		{`req.amount + req.rate`, `{}`, errFloatMoney.Error()},
		{`res.body.amt == req.rate`, `{"amt":10.20}`, errFloatMoney.Error()},
		{`1 / 0`, `{}`, "division by zero"},
		{`res.body.a / res.body.b`, `{"a":1,"b":0}`, "division by zero"},
		{`res.body.amt + "x"`, `{"amt":10.20}`, "invalid operation"},
		{`res.body.s / 2`, `{"s":"x"}`, "cannot compute div of string and int"},
		{`-res.body.s`, `{"s":"x"}`, "cannot negate string"},
		{`res.body.amt % 2`, `{"amt":10.20}`, "invalid operation"},
	}
	for _, tt := range tests {
		env := jsonEnv(t, tt.body)
		p := mustCompile(t, tt.src, env, KindAny)
		got, err := p.Run(env)
		if err == nil {
			t.Errorf("%s = %v, want an error with %q", tt.src, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line with %q", tt.src, err, tt.want)
		}
	}
}

func TestProgramBool(t *testing.T) {
	env := jsonEnv(t, `{"ok":true,"word":"yes"}`)
	for src, want := range map[string]bool{
		`res.status == 200`:      true,
		`res.status == 404`:      false,
		`res.body.ok`:            true,
		`!res.body.ok`:           false,
		`res.body.word == "yes"`: true,
	} {
		got, err := mustCompile(t, src, env, KindBool).Bool(env)
		if err != nil || got != want {
			t.Errorf("Bool(%s) = %v, %v, want %v", src, got, err, want)
		}
	}
	_, err := mustCompile(t, `res.body.word`, env, KindBool).Bool(env)
	if err == nil || !strings.Contains(err.Error(), "gave string, want a condition (bool)") {
		t.Errorf("Bool(res.body.word) error = %v", err)
	}
	_, err = mustCompile(t, `res.body.missing`, env, KindBool).Bool(env)
	if err == nil || !strings.Contains(err.Error(), "gave <nil>") {
		t.Errorf("Bool(res.body.missing) error = %v", err)
	}
}

func TestProgramString(t *testing.T) {
	env := jsonEnv(t, `{"amt":10.20,"n":7,"name":"ញ៉េប នីម","ok":false,"list":[1]}`)
	env.Req.Raw = map[string]any{"x": "y"}
	for src, want := range map[string]string{
		`req.amount`:           "50000.00",
		`res.body.amt`:         "10.20",
		`res.body.amt * 2`:     "20.40",
		`req.count`:            "2",
		`res.body.n`:           "7",
		`req.paid`:             "false",
		`res.body.ok`:          "false",
		`res.body.name`:        "ញ៉េប នីម",
		`req.when`:             "2024-03-30T03:46:33Z",
		`res.body.missing`:     "",
		`"/api/" + req.code`:   "/api/CU003035",
		`text(res.body.amt)`:   "10.20",
		`req.amount / 3 > 0.1`: "true",
	} {
		got, err := mustCompile(t, src, env, KindString).String(env)
		if err != nil || got != want {
			t.Errorf("String(%s) = %q, %v, want %q", src, got, err, want)
		}
	}
	for src, want := range map[string]string{
		`res.body.list`: "cannot write []interface {} as text",
		`req.raw`:       "cannot write map[string]interface {} as text",
	} {
		p := mustCompile(t, src, env, KindAny)
		if got, err := p.String(env); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), src+": ") {
			t.Errorf("String(%s) = %q, %v, want an error with %q", src, got, err, want)
		}
	}
	// A float never becomes text: it has already lost the exact amount.
	if got, err := mustCompile(t, `req.rate`, env, KindAny).String(env); err == nil || !strings.Contains(err.Error(), errFloatMoney.Error()) {
		t.Errorf("String(req.rate) = %q, %v, want errFloatMoney", got, err)
	}
}

func TestProgramDecimal(t *testing.T) {
	env := jsonEnv(t, `{"amt":10.20,"n":7,"s":"12.50","bad":"12,50","list":[]}`)
	for src, want := range map[string]string{
		`req.amount`:         "50000.00",
		`res.body.amt`:       "10.20",
		`res.body.n`:         "7",
		`res.body.s`:         "12.50",
		`" 3.10 "`:           "3.10",
		`req.count`:          "2",
		`1/3`:                "0.3333333333333333",
		`res.body.amt + 0.8`: "11.00",
	} {
		got, err := mustCompile(t, src, env, KindDecimal).Decimal(env)
		if err != nil || got.String() != want {
			t.Errorf("Decimal(%s) = %s, %v, want %s", src, got, err, want)
		}
	}
	for src, want := range map[string]string{
		`res.body.bad`:     "invalid decimal",
		`res.body.missing`: "no amount (nil)",
		`res.body.list`:    "cannot use []interface {} as an amount",
		`req.code`:         "invalid decimal",
	} {
		if got, err := mustCompile(t, src, env, KindDecimal).Decimal(env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decimal(%s) = %s, %v, want an error with %q", src, got, err, want)
		}
	}
	if got, err := mustCompile(t, `req.rate`, env, KindAny).Decimal(env); err == nil || !strings.Contains(err.Error(), errFloatMoney.Error()) {
		t.Errorf("Decimal(req.rate) = %s, %v, want errFloatMoney", got, err)
	}
}

func TestProgramBill24Date(t *testing.T) {
	env := jsonEnv(t, `{"due":"2024-3-30 10:46:33","n":5,"iso":"2024-03-30T03:46:33Z"}`)
	for src, want := range map[string]string{
		`req.when`:               "2024-03-30 10:46:33",
		`res.body.due`:           "2024-03-30 10:46:33",
		`res.body.iso`:           "2024-03-30 10:46:33",
		`"2024-2-29 10:46:33"`:   "2024-02-29 10:46:33",
		`"2024-03-30"`:           "2024-03-30 00:00:00",
		`""`:                     "",
		`res.body.missing`:       "",
		`parse_date("2024-3-1")`: "2024-03-01 00:00:00",
	} {
		got, err := mustCompile(t, src, env, KindDate).Bill24Date(env)
		if err != nil || got != want {
			t.Errorf("Bill24Date(%s) = %q, %v, want %q", src, got, err, want)
		}
	}
	for src, want := range map[string]string{
		`res.body.n`:   "cannot use int as a date",
		`"30/03/2024"`: "cannot read",
	} {
		if got, err := mustCompile(t, src, env, KindDate).Bill24Date(env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Bill24Date(%s) = %q, %v, want an error with %q", src, got, err, want)
		}
	}
}

// TestFunctions runs every helper of functions.go through an expression.
func TestFunctions(t *testing.T) {
	body := `{"amt":10.20,"a":1020,"name":"ញ៉េប នីម","empty":"","zero":0}`
	tests := []struct {
		src  string
		want any
	}{
		{`decimal(10)`, MustDecimal("10")},
		{`decimal("10.20")`, MustDecimal("10.20")},
		{`decimal(" 7.50 ")`, MustDecimal("7.50")},
		{`decimal(res.body.amt)`, MustDecimal("10.20")},
		{`decimal(req.amount)`, MustDecimal("50000.00")},
		{`decimal("1e3")`, MustDecimal("1000")},

		{`round(10.005, 2)`, MustDecimal("10.01")},
		{`round(-10.005, 2)`, MustDecimal("-10.01")},
		{`round(2.5, 0)`, MustDecimal("3")},
		{`round(res.body.amt, 0)`, MustDecimal("10")},
		{`round("1.234", 2)`, MustDecimal("1.23")},
		{`round(7, 2)`, MustDecimal("7.00")},
		{`round_bank(2.5, 0)`, MustDecimal("2")},
		{`round_bank(3.5, 0)`, MustDecimal("4")},
		{`round_bank(10.005, 2)`, MustDecimal("10.00")},
		{`round_bank(10.015, 2)`, MustDecimal("10.02")},
		{`round_bank(-2.5, 0)`, MustDecimal("-2")},
		// places beyond int32 saturate, never wrap (2^32+1 would be 1, -2^32-2 would be -2)
		{`round(1.25, 4294967297)`, MustDecimal("1.25").Round(1000)},
		{`round_bank(125, -4294967298)`, MustDecimal("0")},

		{`format_amount(10.2, "USD")`, "10.20"},
		{`format_amount(decimal("10.20"), "USD")`, "10.20"},
		{`format_amount(res.body.amt, "USD")`, "10.20"},
		{`format_amount(5, "USD")`, "5.00"},
		{`format_amount(50000.00, "KHR")`, "50000"},
		{`format_amount(req.amount, req.currency)`, "50000"},
		{`format_amount("1.234", "BHD")`, "1.234"},
		{`format_amount(10.200, "USD")`, "10.20"},

		{`minor(10.20, "USD")`, 1020},
		{`minor(res.body.amt, "USD")`, 1020},
		{`minor(req.amount, "KHR")`, 50000},
		{`minor(1.5, "BHD")`, 1500},
		{`from_minor(1020, "USD")`, MustDecimal("10.20")},
		{`from_minor(res.body.a, "USD")`, MustDecimal("10.20")},
		{`from_minor(50000, "KHR")`, MustDecimal("50000")},
		{`from_minor("5", "USD")`, MustDecimal("0.05")},

		{`urlquery("a b&c=d/ជា?")`, "a+b%26c%3Dd%2F%E1%9E%87%E1%9E%B6%3F"},
		{`urlquery(req.amount)`, "50000.00"},
		{`urlquery(res.body.missing)`, ""},
		{`urlpath(res.body.name + "/x")`, "%E1%9E%89%E1%9F%89%E1%9F%81%E1%9E%94%20%E1%9E%93%E1%9E%B8%E1%9E%98%2Fx"},
		{`urlpath("ជា សំណាង")`, "%E1%9E%87%E1%9E%B6%20%E1%9E%9F%E1%9F%86%E1%9E%8E%E1%9E%B6%E1%9E%84"},
		{`urlpath("a+b?c")`, "a+b%3Fc"},
		{`"/customers/" + urlpath(req.code)`, "/customers/CU003035"},

		{`text(req.amount)`, "50000.00"},
		{`text(res.body.amt)`, "10.20"},
		{`text(10)`, "10"},
		{`text(true)`, "true"},
		{`text(nil)`, ""},
		{`text(req.when)`, "2024-03-30T03:46:33Z"},
		{`text(res.body.name)`, "ញ៉េប នីម"},

		{`bill24_date(req.when)`, "2024-03-30 10:46:33"},
		{`bill24_date("2024-2-29 10:46:33")`, "2024-02-29 10:46:33"},
		{`bill24_date("2024-03-30")`, "2024-03-30 00:00:00"},
		{`bill24_date("2024-03-30T03:00:00+00:00")`, "2024-03-30 10:00:00"},
		{`bill24_date("2024-03-30T03:00:00Z")`, "2024-03-30 10:00:00"},
		{`bill24_date("2024-03-30T10:00:00+07:00")`, "2024-03-30 10:00:00"},
		{`bill24_date("2024-03-29T20:00:00-05:00")`, "2024-03-30 08:00:00"},
		{`bill24_date("2023-05-10T15:47:12.890062")`, "2023-05-10 15:47:12"},
		{`bill24_date("2024-03-30 10:46")`, "2024-03-30 10:46:00"},
		{`bill24_date("")`, ""},
		{`bill24_date(nil)`, ""},

		{`parse_date("2024-03-30")`, time.Date(2024, 3, 30, 0, 0, 0, 0, PhnomPenh)},
		{`parse_date("2024-03-30")`, time.Date(2024, 3, 29, 17, 0, 0, 0, time.UTC)},
		{`parse_date(" 2024-3-1 ")`, time.Date(2024, 3, 1, 0, 0, 0, 0, PhnomPenh)},
		{`parse_date("2024-03-30T03:00:00Z")`, time.Date(2024, 3, 30, 3, 0, 0, 0, time.UTC)},
		{`parse_date("2024-02-29 10:46:33")`, time.Date(2024, 2, 29, 10, 46, 33, 0, PhnomPenh)},
		{`parse_date("2024-03-30") < parse_date("2024-03-31")`, true},

		{`format_date(parse_date("2024-03-30 10:46:33"), "02/01/2006 15:04")`, "30/03/2024 10:46"},
		{`format_date(req.when, "2006-01-02T15:04:05Z07:00")`, "2024-03-30T10:46:33+07:00"},
		{`format_date(parse_date("2024-03-30T23:30:00Z"), "2006-01-02")`, "2024-03-31"},

		{`truncate("ជា សំណាង", 2)`, "ជា"},
		{`truncate("ជា សំណាង", 3)`, "ជា "},
		{`truncate(res.body.name, 100)`, "ញ៉េប នីម"},
		{`truncate("abc", 0)`, ""},
		{`truncate("abc", -1)`, ""},
		{`truncate("abc", 3)`, "abc"},

		{`digits("010-888 999")`, "010888999"},
		{`digits("+855 (0)12 345")`, "855012345"},
		{`digits("abc")`, ""},
		{`digits("០១២-៣")`, "០១២៣"}, // Khmer digits are digits too

		{`coalesce(nil, "", "x")`, "x"},
		{`coalesce(res.body.missing, res.body.empty, res.body.name)`, "ញ៉េប នីម"},
		{`coalesce(res.body.zero, 1)`, 0},
		{`coalesce(res.body.missing, res.body.amt)`, MustDecimal("10.20")},
		{`coalesce(nil, "")`, nil},
		{`coalesce(res.body.missing) ?? "default"`, "default"},
	}
	env := jsonEnv(t, body)
	for _, tt := range tests {
		p := mustCompile(t, tt.src, env, KindAny)
		got, err := p.Run(env)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if !sameValue(got, tt.want) {
			t.Errorf("%s = %T %v, want %T %v", tt.src, got, got, tt.want, tt.want)
		}
		if s, ok := got.(string); ok && !utf8.ValidString(s) {
			t.Errorf("%s gave invalid UTF-8 %q", tt.src, s)
		}
	}
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{`decimal("abc")`, "invalid decimal"},
		{`decimal("10,20")`, "invalid decimal"},
		{`decimal(nil)`, "no amount"},
		{`decimal(req.rate)`, errFloatMoney.Error()},
		{`decimal(true)`, "cannot use bool as an amount"},
		{`round("x", 2)`, "invalid decimal"},
		{`round_bank(nil, 2)`, "no amount"},
		{`format_amount(10.005, "USD")`, "more decimal places than USD allows (2)"},
		{`format_amount(100.5, "KHR")`, "more decimal places than KHR allows (0)"},
		{`format_amount(1, "XXX")`, `unknown currency "XXX"`},
		{`format_amount(1, "usd")`, `unknown currency "usd"`},
		{`format_amount("ten", "USD")`, "invalid decimal"},
		{`minor(10.205, "USD")`, "more decimal places"},
		{`minor(1, "XXX")`, `unknown currency "XXX"`},
		{`from_minor(10.5, "USD")`, "minor units must be a whole number"},
		{`from_minor(1, "XXX")`, `unknown currency "XXX"`},
		{`urlquery(req.rate)`, errFloatMoney.Error()},
		{`text(req.rate)`, errFloatMoney.Error()},
		{`text([1])`, "cannot write"},
		{`bill24_date("30/03/2024")`, `cannot read "30/03/2024" as a date`},
		{`bill24_date("2024-02-30")`, "cannot read"},
		{`bill24_date(5)`, "cannot use int as a date"},
		{`parse_date("tomorrow")`, "cannot read"},
		{`parse_date(res.body.n)`, "int"},
		{`format_date(res.body.n, "2006")`, "int"},
		{`truncate(res.body.n, 2)`, "int"},
	}
	env := jsonEnv(t, `{"n":5}`)
	for _, tt := range tests {
		p := mustCompile(t, tt.src, env, KindAny)
		got, err := p.Run(env)
		if err == nil {
			t.Errorf("%s = %v, want an error with %q", tt.src, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.src, err, tt.want)
		}
	}
}

// TestConfigurableExponents: a configuration may change an exponent.
func TestConfigurableExponents(t *testing.T) {
	exps := DefaultExponents()
	exps.SetExponent("KHR", 2)
	c := NewCompiler(exps)
	env := RequestEnv[testReq]{Req: newTestReq()}
	p, err := c.Compile(`format_amount(req.amount, "KHR")`, env, KindString)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.String(env); err != nil || got != "50000.00" {
		t.Errorf("KHR with exponent 2: %q, %v", got, err)
	}
	if DefaultExponents()["KHR"].Exponent != 0 {
		t.Errorf("changing a copy changed the defaults")
	}
	// The default compiler still writes whole riel.
	p = mustCompile(t, `format_amount(req.amount, "KHR")`, env, KindString)
	if got, err := p.String(env); err != nil || got != "50000" {
		t.Errorf("KHR with exponent 0: %q, %v", got, err)
	}
}

func TestRequestEnv(t *testing.T) {
	env := RequestEnv[testReq]{Req: newTestReq()}
	env.Req.Raw = map[string]any{"extra": map[string]any{"fee": MustDecimal("0.50")}}
	p := mustCompile(t, `"/api/customers?code=" + urlquery(req.code) + "&fee=" + text(req.raw.extra.fee + 1)`, env, KindString)
	got, err := p.String(env)
	if err != nil || got != "/api/customers?code=CU003035&fee=1.50" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestNewResponse(t *testing.T) {
	h := http.Header{}
	h.Add("Content-Type", "application/json")
	h.Add("X-Trace", "one")
	h.Add("X-Trace", "two")
	h["X-Empty"] = []string{}
	res := NewResponse(201, h, []byte(`{"name":"ជា សំណាង","balance":0.00}`))
	if res.Status != 201 || res.Header["X-Trace"] != "one" || res.Header["Content-Type"] != "application/json" {
		t.Errorf("status/header = %d %v", res.Status, res.Header)
	}
	if _, ok := res.Header["X-Empty"]; ok {
		t.Errorf("a header without values is in res.header")
	}
	if res.Text != `{"name":"ជា សំណាង","balance":0.00}` {
		t.Errorf("text = %q", res.Text)
	}
	m, ok := res.Body.(map[string]any)
	if !ok || m["name"] != "ជា សំណាង" || !sameValue(m["balance"], MustDecimal("0.00")) {
		t.Errorf("body = %#v", res.Body)
	}
	env := testEnv{Res: res}
	p := mustCompile(t, `res.header["X-Trace"] + " " + res.body.name`, env, KindString)
	if got, err := p.String(env); err != nil || got != "one ជា សំណាង" {
		t.Errorf("got %q, %v", got, err)
	}
}

// TestProgramConcurrent runs one program from many goroutines, as handlers
// do; run with -race.
func TestProgramConcurrent(t *testing.T) {
	p := mustCompile(t, `res.body.amt * res.body.n`, testEnv{}, KindDecimal)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := DecodeJSON([]byte(`{"amt":10.20}`))
			body.(map[string]any)["n"] = g
			env := testEnv{Res: Response{Body: body}}
			want := MustDecimal("10.20").Mul(DecimalFromInt(int64(g)))
			for range 200 {
				d, err := p.Decimal(env)
				if err != nil || d.String() != want.String() {
					errs <- d.String() + " want " + want.String()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
