package billbridge

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
)

// bill24Proxy answers Bill24's lookup of what a customer owes.
type bill24Proxy struct{}

type (
	proxyReqEnv = mappings.RequestEnv[bill24.ProxyRequest]
	proxyResEnv = mappings.ResponseEnv[bill24.ProxyRequest]
)

// compiledRule is one `when` line, compiled.
type compiledRule struct {
	when    *mappings.Program
	outcome bill24.Outcome
}

// replyField is one reply data field, compiled, with where it goes.
type replyField struct {
	name string
	prog *mappings.Program
	set  func(d *bill24.ProxyData, v any) error
}

// proxyFields are the proxy answer's data fields and how each is typed.
var proxyFields = map[string]func(d *bill24.ProxyData) (kind mappings.Kind, str *string, dec *mappings.Decimal){
	"consumer_code": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.ConsumerCode, nil
	},
	"consumer_name": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.ConsumerName, nil
	},
	"consumer_name_latin": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.ConsumerNameLatin, nil
	},
	"phone": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.Phone, nil
	},
	"currency": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.Currency, nil
	},
	"due_amount": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDecimal, nil, &d.DueAmount
	},
	"min_amount": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDecimal, nil, &d.MinAmount
	},
	"max_amount": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDecimal, nil, &d.MaxAmount
	},
	"balance": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDecimal, nil, &d.Balance
	},
	"description": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, &d.Description, nil
	},
	"last_bill_date": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDate, &d.LastBillDate, nil
	},
	"last_due_date": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDate, &d.LastDueDate, nil
	},
	"last_pay_date": func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDate, &d.LastPayDate, nil
	},
}

// ProxyReplyFields lists the reply fields a bill24_proxy mapping may set.
func ProxyReplyFields() []string {
	names := make([]string, 0, len(proxyFields))
	for n := range proxyFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (bill24Proxy) envs() (req, res any) { return proxyReqEnv{}, proxyResEnv{} }

func (bill24Proxy) movesMoney() bool { return false }

func (bill24Proxy) subdirectives() []string { return []string{"call", "when", "message", "reply"} }

func (bill24Proxy) provision(h *Handler) error {
	if err := needBill24(h); err != nil {
		return err
	}
	if err := refuse(h, "success", h.Success != "", "lookup", h.Lookup != nil,
		"on_duplicate", h.OnDuplicate != "", "on_store_error", h.OnStoreError != "",
		"duplicate_wait", h.DuplicateWait != 0, "lease", h.Lease != 0, "retention", h.Retention != 0,
		"idempotency_header", h.IdempotencyHeader != ""); err != nil {
		return err
	}
	comp := h.app.compiler
	var err error
	if h.compiled.call, err = compileCall(h.Call, comp, proxyReqEnv{}, "call"); err != nil {
		return err
	}
	for i, rule := range h.Rules {
		o, err := bill24.ParseOutcome(rule.Outcome)
		if err != nil {
			return fmt.Errorf("rule %d: %v", i+1, err)
		}
		p, err := comp.Compile(rule.When, proxyResEnv{}, mappings.KindBool)
		if err != nil {
			return fmt.Errorf("rule %d (when): %v", i+1, err)
		}
		h.compiled.rules = append(h.compiled.rules, compiledRule{p, o})
	}
	h.compiled.messages = make(map[bill24.Outcome]bill24.Message)
	for _, o := range bill24.Outcomes() {
		h.compiled.messages[o] = o.DefaultMessage()
	}
	for name, m := range h.Messages {
		o, err := bill24.ParseOutcome(name)
		if err != nil {
			return fmt.Errorf("message: %v", err)
		}
		def := o.DefaultMessage()
		if m.EN == "" {
			m.EN = def.EN
		}
		if m.KH == "" {
			m.KH = def.KH
		}
		h.compiled.messages[o] = m
	}
	for _, name := range sortedKeys(h.Reply) {
		field, ok := proxyFields[name]
		if !ok {
			return fmt.Errorf("reply: unknown field %q (want one of %v)", name, ProxyReplyFields())
		}
		kind, _, _ := field(&bill24.ProxyData{})
		p, err := comp.Compile(h.Reply[name], proxyResEnv{}, kind)
		if err != nil {
			return fmt.Errorf("reply %s: %v", name, err)
		}
		h.compiled.reply = append(h.compiled.reply, replyField{name: name, prog: p, set: setter(field)})
	}
	h.compiled.replyBatch = replyBatch(comp, h.compiled.reply, proxyResEnv{})
	return nil
}

// setter stores a reply mapping's value in its typed field. nil means the
// legacy answer does not have it: the default stays.
func setter(field func(d *bill24.ProxyData) (mappings.Kind, *string, *mappings.Decimal)) func(*bill24.ProxyData, any) error {
	return func(d *bill24.ProxyData, v any) error {
		if v == nil {
			return nil
		}
		kind, str, dec := field(d)
		var err error
		switch kind {
		case mappings.KindDecimal:
			*dec, err = mappings.AsDecimal(v)
		case mappings.KindDate:
			*str, err = mappings.FormatBill24Date(v)
		default:
			*str, err = mappings.Text(v)
		}
		return err
	}
}

func (bill24Proxy) authenticate(h *Handler, r *http.Request) bool { return bill24Token(h, r) }

func (bill24Proxy) decode(h *Handler, r *http.Request, body []byte) (event, error) {
	p, err := bill24.DecodeProxyRequest(body)
	if err != nil {
		return event{}, err
	}
	if q := r.URL.Query(); len(q) > 0 {
		p.Query = make(map[string]string, len(q))
		for k, v := range q {
			p.Query[k] = v[0]
		}
	}
	return event{
		payload: p,
		env:     proxyReqEnv{Req: p},
		respond: func(res mappings.Response) any { return proxyResEnv{Req: p, Res: res} },
		logID:   mask(p.ConsumerCode),
	}, nil
}

func (bill24Proxy) verify(h *Handler, r *http.Request, ev event) (event, *result) { return ev, nil }

func (bill24Proxy) settle(h *Handler, ev event, c callOutcome) result {
	if c.err != nil {
		return callFailed(h, c.err)
	}
	if c.res.Status >= 500 {
		// A 5xx is never a business answer: rules are not asked.
		return withLegacy(h.fail(http.StatusBadGateway, "legacy_failed",
			fmt.Sprintf("legacy system answered HTTP %d", c.res.Status), nil), c.res.Status)
	}
	env := ev.respond(c.res)
	outcome, err := chooseOutcome(h.compiled.rules, env)
	if err != nil {
		return withLegacy(h.fail(http.StatusBadGateway, "mapping_failed", "cannot read the legacy answer", err), c.res.Status)
	}
	if outcome == "" {
		switch {
		case c.res.Status >= 200 && c.res.Status < 300:
			outcome = bill24.OutcomeSuccess
		case c.res.Status == http.StatusNotFound:
			outcome = bill24.OutcomeNotFound
		default:
			return withLegacy(h.fail(http.StatusBadGateway, "legacy_failed",
				fmt.Sprintf("legacy system answered HTTP %d", c.res.Status), nil), c.res.Status)
		}
	}
	msg := h.compiled.messages[outcome]
	reply := bill24.ProxyReply{Code: outcome.Code(), Message: msg.EN, MessageKH: msg.KH}
	if outcome == bill24.OutcomeSuccess {
		data := bill24.NewProxyData(ev.payload.(bill24.ProxyRequest).ConsumerCode)
		vals, bad, err := h.compiled.replyBatch.Run(env)
		if err != nil {
			return withLegacy(h.fail(http.StatusBadGateway, "mapping_failed",
				"cannot map the legacy answer", fmt.Errorf("reply %s: %w", h.compiled.reply[bad].name, err)), c.res.Status)
		}
		for i, f := range h.compiled.reply {
			if err := f.set(&data, vals[i]); err != nil {
				return withLegacy(h.fail(http.StatusBadGateway, "mapping_failed",
					"cannot map the legacy answer", fmt.Errorf("reply %s: %w", f.name, err)), c.res.Status)
			}
		}
		if err := checkProxyData(h.app.exps, &data); err != nil {
			return withLegacy(h.fail(http.StatusBadGateway, "mapping_failed", "cannot map the legacy answer", err), c.res.Status)
		}
		reply.Data = &data
	}
	body := reply.AppendJSON(make([]byte, 0, 512))
	return result{status: http.StatusOK, body: body, outcome: string(outcome), legacy: c.res.Status}
}

// checkProxyData is strict on output: a currency Bill24 cannot read or an
// amount with more places than its currency has is a mapping bug, not
// something to round silently.
func checkProxyData(exps mappings.Exponents, d *bill24.ProxyData) error {
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

func chooseOutcome(rules []compiledRule, env any) (bill24.Outcome, error) {
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

func (bill24Proxy) contentType() string { return jsonType }

func (bill24Proxy) envelope(status int, msg string) []byte {
	return bill24.ProxyReply{Code: bill24.Code(status), Message: msg}.AppendJSON(nil)
}

func (bill24Proxy) duplicate() []byte { return nil }

// callFailed answers a legacy call that produced no answer to judge.
func callFailed(h *Handler, err error) result {
	var me *mappingError
	if errors.As(err, &me) {
		return h.fail(http.StatusInternalServerError, "mapping_failed", "cannot build the legacy request", err)
	}
	var ce *callError
	if errors.As(err, &ce) && ce.timeout {
		res := h.fail(http.StatusGatewayTimeout, "legacy_timeout", "legacy system timed out", err)
		res.ambiguous = true
		return res
	}
	res := h.fail(http.StatusBadGateway, "legacy_unreachable", "legacy system unreachable", err)
	res.ambiguous = ce != nil && ce.sent
	return res
}

func withLegacy(res result, status int) result {
	res.legacy = status
	return res
}

// needBill24 checks that Bill24 credentials are configured.
func needBill24(h *Handler) error {
	if h.app.Bill24 == nil || len(h.app.Bill24.tokens) == 0 {
		return fmt.Errorf("%s: no Bill24 token: %w", h.Flow, errNoApp)
	}
	return nil
}

// refuse rejects settings the flow does not use, so a misplaced line is
// not silently ignored. Pairs: name, whether it is set.
func refuse(h *Handler, pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1].(bool) {
			return fmt.Errorf("%s does not use %s", h.Flow, pairs[i])
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// replyBatch runs a flow's reply mappings in one pass.
func replyBatch(comp *mappings.Compiler, fields []replyField, env any) *mappings.Batch {
	progs := make([]*mappings.Program, len(fields))
	for i, f := range fields {
		progs[i] = f.prog
	}
	return comp.NewBatch(progs, env)
}
