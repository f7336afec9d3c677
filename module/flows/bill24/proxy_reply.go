package bill24

import (
	"fmt"
	"sort"

	"github.com/billbridge/caddy-billbridge/mappings"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// replyField is one reply data field, compiled, with where it goes.
type replyField struct {
	name string
	prog *mappings.Program
	set  func(d *wire.ProxyData, v any) error
}

// field is where a reply field goes, and its type: str for texts and
// dates, dec for amounts.
type field func(d *wire.ProxyData) (kind mappings.Kind, str *string, dec *mappings.Decimal)

func textField(get func(d *wire.ProxyData) *string) field {
	return func(d *wire.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindString, get(d), nil
	}
}

func dateField(get func(d *wire.ProxyData) *string) field {
	return func(d *wire.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDate, get(d), nil
	}
}

func amountField(get func(d *wire.ProxyData) *mappings.Decimal) field {
	return func(d *wire.ProxyData) (mappings.Kind, *string, *mappings.Decimal) {
		return mappings.KindDecimal, nil, get(d)
	}
}

// proxyFields are the proxy answer's data fields.
var proxyFields = map[string]field{
	"consumer_code":       textField(func(d *wire.ProxyData) *string { return &d.ConsumerCode }),
	"consumer_name":       textField(func(d *wire.ProxyData) *string { return &d.ConsumerName }),
	"consumer_name_latin": textField(func(d *wire.ProxyData) *string { return &d.ConsumerNameLatin }),
	"phone":               textField(func(d *wire.ProxyData) *string { return &d.Phone }),
	"currency":            textField(func(d *wire.ProxyData) *string { return &d.Currency }),
	"description":         textField(func(d *wire.ProxyData) *string { return &d.Description }),
	"due_amount":          amountField(func(d *wire.ProxyData) *mappings.Decimal { return &d.DueAmount }),
	"min_amount":          amountField(func(d *wire.ProxyData) *mappings.Decimal { return &d.MinAmount }),
	"max_amount":          amountField(func(d *wire.ProxyData) *mappings.Decimal { return &d.MaxAmount }),
	"balance":             amountField(func(d *wire.ProxyData) *mappings.Decimal { return &d.Balance }),
	"last_bill_date":      dateField(func(d *wire.ProxyData) *string { return &d.LastBillDate }),
	"last_due_date":       dateField(func(d *wire.ProxyData) *string { return &d.LastDueDate }),
	"last_pay_date":       dateField(func(d *wire.ProxyData) *string { return &d.LastPayDate }),
}

// ReplyFields lists the reply fields a bill24_proxy mapping may set.
func ReplyFields() []string {
	names := make([]string, 0, len(proxyFields))
	for n := range proxyFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// kindOf is the type a reply field's expression must give.
func kindOf(name string) (mappings.Kind, bool) {
	f, ok := proxyFields[name]
	if !ok {
		return 0, false
	}
	kind, _, _ := f(&wire.ProxyData{})
	return kind, true
}

// compileReply compiles the reply mappings, in name order, and a batch
// that runs them in one pass.
func compileReply(comp *mappings.Compiler, reply map[string]string) ([]replyField, *mappings.Batch, error) {
	names := make([]string, 0, len(reply))
	for n := range reply {
		names = append(names, n)
	}
	sort.Strings(names)
	fields := make([]replyField, 0, len(names))
	progs := make([]*mappings.Program, 0, len(names))
	for _, name := range names {
		f, ok := proxyFields[name]
		if !ok {
			return nil, nil, fmt.Errorf("reply: unknown field %q (want one of %v)", name, ReplyFields())
		}
		kind, _, _ := f(&wire.ProxyData{})
		p, err := comp.Compile(reply[name], proxyResEnv{}, kind)
		if err != nil {
			return nil, nil, fmt.Errorf("reply %s: %w", name, err)
		}
		fields = append(fields, replyField{name: name, prog: p, set: setter(f)})
		progs = append(progs, p)
	}
	return fields, comp.NewBatch(progs, proxyResEnv{}), nil
}

// setter stores a reply mapping's value in its typed field. nil means the
// legacy answer does not have it: the default stays.
func setter(f field) func(*wire.ProxyData, any) error {
	return func(d *wire.ProxyData, v any) error {
		if v == nil {
			return nil
		}
		kind, str, dec := f(d)
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
