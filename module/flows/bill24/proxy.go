package bill24

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

func init() {
	caddy.RegisterModule(Proxy{})
}

// Proxy answers Bill24's lookup of what a customer owes, from the legacy
// API's answer: `when` rules choose the outcome (codes 0–4) and `reply`
// maps the data fields.
type Proxy struct {
	// Call is the legacy API call that looks the customer up.
	Call *billbridge.Call `json:"call,omitempty"`

	// Rules choose an outcome from a legacy answer below 500; the first
	// whose expression is true wins. With none true, a 2xx answer is
	// success, a 404 not_found, anything else a legacy failure (502). A
	// 5xx answer is always a legacy failure.
	Rules []Rule `json:"rules,omitempty"`

	// Messages overrides the English and Khmer message of an outcome.
	Messages map[string]wire.Message `json:"messages,omitempty"`

	// Reply maps data fields to expressions over req and res. A field
	// whose expression gives nil keeps its default: the consumer code
	// asked for, -1 (no limit) for min_amount and max_amount, 0 for
	// due_amount and balance, "" for texts and dates.
	Reply map[string]string `json:"reply,omitempty"`

	app      *billbridge.App
	call     *billbridge.CompiledCall
	rules    []compiledRule
	messages map[wire.Outcome]wire.Message
	reply    []replyField
	batch    *mappings.Batch
}

// Rule is one `when <expr> <outcome>` line.
type Rule struct {
	When    string `json:"when"`
	Outcome string `json:"outcome"`
}

type (
	proxyReqEnv = mappings.RequestEnv[wire.ProxyRequest]
	proxyResEnv = mappings.ResponseEnv[wire.ProxyRequest]
)

// compiledRule is one `when` line, compiled.
type compiledRule struct {
	when    *mappings.Program
	outcome wire.Outcome
}

// CaddyModule returns the Caddy module information.
func (Proxy) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.bill24_proxy",
		New: func() caddy.Module { return new(Proxy) },
	}
}

// Provision compiles the call, the rules and the reply.
func (f *Proxy) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFor(ctx, "bill24")
	if err != nil {
		return err
	}
	f.app = app
	comp := app.Compiler()
	if f.call, err = billbridge.CompileCall(f.Call, comp, proxyReqEnv{}, "call"); err != nil {
		return err
	}
	for i, rule := range f.Rules {
		o, err := wire.ParseOutcome(rule.Outcome)
		if err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
		p, err := comp.Compile(rule.When, proxyResEnv{}, mappings.KindBool)
		if err != nil {
			return fmt.Errorf("rule %d (when): %w", i+1, err)
		}
		f.rules = append(f.rules, compiledRule{p, o})
	}
	f.messages = make(map[wire.Outcome]wire.Message)
	for _, o := range wire.Outcomes() {
		f.messages[o] = o.DefaultMessage()
	}
	for name, m := range f.Messages {
		o, err := wire.ParseOutcome(name)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		def := o.DefaultMessage()
		if m.EN == "" {
			m.EN = def.EN
		}
		if m.KH == "" {
			m.KH = def.KH
		}
		f.messages[o] = m
	}
	f.reply, f.batch, err = compileReply(comp, f.Reply)
	return err
}

// Profile describes the flow to the pipeline.
func (f *Proxy) Profile() billbridge.Profile {
	return billbridge.Profile{Key: "bill24:proxy", Methods: []string{http.MethodPost}, ContentType: billbridge.JSONType,
		IDFields: []string{"consumer_code"}, MaskID: true}
}

// Authenticate checks Bill24's token header.
func (f *Proxy) Authenticate(r *http.Request, _ []byte) bool { return f.app.Bill24Token(r) }

// Decode parses the lookup; the request's query is kept for mappings.
func (f *Proxy) Decode(r *http.Request, body []byte) (*billbridge.Event, error) {
	p, err := wire.DecodeProxyRequest(body)
	if err != nil {
		return nil, err
	}
	if q := r.URL.Query(); len(q) > 0 {
		p.Query = make(map[string]string, len(q))
		for k, v := range q {
			p.Query[k] = v[0]
		}
	}
	return &billbridge.Event{
		Payload: p,
		Env:     proxyReqEnv{Req: p},
		Respond: func(res mappings.Response) any { return proxyResEnv{Req: p, Res: res} },
		LogID:   billbridge.Mask(p.ConsumerCode),
		Call:    f.call,
	}, nil
}

// Answer maps the legacy answer to Bill24's proxy answer.
func (f *Proxy) Answer(ev *billbridge.Event, out billbridge.Outcome) billbridge.Result {
	status := out.Res.Status
	if status >= 500 {
		// A 5xx is never a business answer: rules are not asked.
		return billbridge.Result{Verdict: billbridge.LegacyFailed, Message: fmt.Sprintf("legacy system answered HTTP %d", status), Legacy: status}
	}
	env := ev.Respond(out.Res)
	outcome, err := chooseOutcome(f.rules, env)
	if err != nil {
		return billbridge.Result{Verdict: billbridge.AnswerUnreadable, Err: err, Legacy: status}
	}
	if outcome == "" {
		switch {
		case status >= 200 && status < 300:
			outcome = wire.OutcomeSuccess
		case status == http.StatusNotFound:
			outcome = wire.OutcomeNotFound
		default:
			return billbridge.Result{Verdict: billbridge.LegacyFailed, Message: fmt.Sprintf("legacy system answered HTTP %d", status), Legacy: status}
		}
	}
	msg := f.messages[outcome]
	reply := wire.ProxyReply{Code: outcome.Code(), Message: msg.EN, MessageKH: msg.KH}
	if outcome == wire.OutcomeSuccess {
		data, err := f.data(ev, env)
		if err != nil {
			return billbridge.Result{Verdict: billbridge.AnswerUnreadable, Message: "cannot map the legacy answer", Err: err, Legacy: status}
		}
		reply.Data = &data
	}
	return billbridge.Result{Verdict: billbridge.Answered, Body: reply.AppendJSON(make([]byte, 0, 512)), Label: string(outcome), Legacy: status}
}

// data runs the reply mappings into the answer's data.
func (f *Proxy) data(ev *billbridge.Event, env any) (wire.ProxyData, error) {
	data := wire.NewProxyData(ev.Payload.(wire.ProxyRequest).ConsumerCode)
	vals, bad, err := f.batch.Run(env)
	if err != nil {
		return data, fmt.Errorf("reply %s: %w", f.reply[bad].name, err)
	}
	for i, r := range f.reply {
		if err := r.set(&data, vals[i]); err != nil {
			return data, fmt.Errorf("reply %s: %w", r.name, err)
		}
	}
	return data, checkProxyData(f.app.Exponents(), &data)
}

// Envelope is Bill24's proxy answer with the HTTP status as its code.
func (f *Proxy) Envelope(status int, msg string) []byte {
	return wire.ProxyReply{Code: wire.Code(status), Message: msg}.AppendJSON(nil)
}

// checkProxyData is strict on output: a currency Bill24 cannot read or an
// amount with more places than its currency has is a mapping bug, not
// something to round silently.
func checkProxyData(exps mappings.Exponents, d *wire.ProxyData) error {
	if d.Currency == "" {
		return errors.New("reply currency is empty")
	}
	if !mappings.ValidCurrencyCode(d.Currency) {
		return fmt.Errorf("reply currency %q is not an ISO 4217 code", d.Currency)
	}
	exp, ok := exps.Exponent(d.Currency)
	if !ok {
		exp = 2
	}
	for _, a := range []struct {
		name string
		v    mappings.Decimal
	}{{"due_amount", d.DueAmount}, {"min_amount", d.MinAmount}, {"max_amount", d.MaxAmount}, {"balance", d.Balance}} {
		if !a.v.FitsExponent(exp) {
			return fmt.Errorf("reply %s %s has more decimal places than %s allows (%d)", a.name, a.v, d.Currency, exp)
		}
	}
	return nil
}

func chooseOutcome(rules []compiledRule, env any) (wire.Outcome, error) {
	for i, r := range rules {
		ok, err := r.when.Bool(env)
		if err != nil {
			return "", fmt.Errorf("rule %d: %w", i+1, err)
		}
		if ok {
			return r.outcome, nil
		}
	}
	return "", nil
}

// Interface guards
var (
	_ billbridge.Flow     = (*Proxy)(nil)
	_ billbridge.Answerer = (*Proxy)(nil)
	_ caddy.Provisioner   = (*Proxy)(nil)
)
