package qm

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// UnmarshalCaddyfile sets up the flow. Syntax:
//
//	qm_create_bill {
//		currency <code>
//		bill {
//			amount             <value>
//			merchant_reference <value>
//			callback_url       <value>
//			redirect_url       <value>
//		}
//		reply {
//			<name> <value>
//		}
//	}
func (f *CreateBill) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(createReqEnv{}, createEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "bill", "reply":
			if err := seen.Check(d); err != nil {
				return err
			}
			m, err := parseFields(d, chk, sub == "bill")
			if err != nil {
				return err
			}
			if sub == "bill" {
				f.Bill = m
			} else {
				f.Reply = m
			}
		case "currency":
			if err := seen.Check(d); err != nil {
				return err
			}
			v, err := billbridge.OneArg(d)
			if err != nil {
				return err
			}
			if !mappings.ValidCurrencyCode(v) {
				return d.Errf("currency %q: want an ISO 4217 code such as MYR", v)
			}
			f.Currency = v
		default:
			return d.Errf("unrecognized subdirective '%s' in qm_create_bill", sub)
		}
	}
	if f.Bill["amount"] == "" {
		return d.Err("bill: amount is required")
	}
	return nil
}

// parseFields reads a `bill { … }` or `reply { … }` block of name-value
// lines; bill's names are QM's create fields.
func parseFields(d *caddyfile.Dispenser, chk *billbridge.ExprChecker, bill bool) (map[string]string, error) {
	what := d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	out := map[string]string{}
	for n := d.Nesting(); d.NextBlock(n); {
		name := d.Val()
		kind := mappings.KindAny
		if bill {
			k, ok := billFields[name]
			if !ok {
				return nil, d.Errf("bill: unknown field %q (want amount, merchant_reference, callback_url, redirect_url)", name)
			}
			kind = k
		}
		if _, dup := out[name]; dup {
			return nil, d.Errf("%s %s already specified", what, name)
		}
		if !d.NextArg() {
			return nil, d.ArgErr()
		}
		src, err := billbridge.ExprOrLiteral(d)
		if err != nil {
			return nil, err
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		if bill {
			err = chk.Request(d, src, kind)
		} else {
			err = chk.Response(d, src, kind)
		}
		if err != nil {
			return nil, err
		}
		out[name] = src
	}
	return out, nil
}
