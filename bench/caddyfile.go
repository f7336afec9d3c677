package main

import (
	"fmt"
	"strings"
)

// The benchmark's Caddyfiles, one per Caddy process. The store is a global
// setting, so each store-backed webhook runs in a process of its own: the
// synchronous Redis webhook (d), the queued one on Redis (f) and the queued
// one on the file store (g). So does (c), whose unique ids fill the memory
// store (kept for the 30-day retention), so that its growing heap and the
// GC work it brings do not weigh on the baseline. (a), (b), (e) and (h)
// share caddy-base. All use the
// README's syntax and the quickstart's mappings
// (examples/quickstart/Caddyfile), so that what is measured is what a
// merchant would run.

// caddyfileParams fills a Caddyfile template.
type caddyfileParams struct {
	Admin int    // admin API port (pprof, expvar)
	Port  int    // the site's port
	Stub  string // the legacy stub's host:port
	Store string // "memory", "redis redis://127.0.0.1:<port>" or "file <path>"
	// Deliver is the webhook's delivery: "sync" (the legacy answer before
	// the gateway's) or "queued" (held in the store, answered at once,
	// posted by the delivery workers). Always written: the default
	// depends on the store (queued on file and Redis, sync on memory).
	Deliver string
	// Routes: which of the site's routes this process serves.
	ReverseProxy, Proxy, Webhook bool
}

const globalTemplate = `# Written by go run ./bench; see bench/README.md.
{
	admin 127.0.0.1:%[1]d
	persist_config off
	skip_install_trust
	auto_https off
	default_bind 127.0.0.1
	servers {
		protocols h1
	}

	billbridge {
		store %[2]s
		legacy http://%[3]s {
			timeout 5s
		}
		bill24 {
			token bench
		}
	}
}

http://127.0.0.1:%[4]d {
`

// reverseProxyRoute is (a), the baseline: Caddy's own reverse_proxy in
// front of the same legacy lookup that (b) calls.
const reverseProxyRoute = `	# (a) Caddy's own reverse_proxy, the baseline.
	handle /api/customers {
		reverse_proxy %[1]s
	}

	# (h) the webhooks' baseline: reverse_proxy forwards the webhook's JSON
	# body as it is to the stub's payment endpoint.
	handle /api/payments {
		reverse_proxy %[1]s
	}

`

// proxyRoute is (b): the quickstart's bill24_proxy mapping.
const proxyRoute = `	# (b) bill24_proxy: the quickstart's lookup mapping.
	handle /bill24/proxy {
		billbridge bill24_proxy {
			call GET ` + "`" + `"/api/customers?code=" + urlquery(req.consumer_code)` + "`" + `
			when ` + "`res.status == 404`" + ` not_found
			when ` + "`res.body.customer.overdue == true`" + ` bill_overdue
			when ` + "`res.body.customer.amt_due == 0`" + ` no_amount_to_pay
			when ` + "`res.body.customer.ccy not in [\"USD\", \"KHR\"]`" + ` currency_not_allowed
			reply {
				consumer_code ` + "`res.body.customer.cust_no`" + `
				consumer_name ` + "`res.body.customer.full_name_kh != \"\" ? res.body.customer.full_name_kh : res.body.customer.full_name`" + `
				consumer_name_latin ` + "`res.body.customer.full_name`" + `
				phone ` + "`res.body.customer.tel`" + `
				currency ` + "`res.body.customer.ccy`" + `
				due_amount ` + "`res.body.customer.amt_due`" + `
				min_amount ` + "`res.body.customer.min_pay`" + `
				max_amount ` + "`res.body.customer.max_pay`" + `
				balance ` + "`res.body.customer.credit`" + `
				description ` + "`res.body.customer.memo`" + `
				last_bill_date ` + "`res.body.customer.bill_dt`" + `
				last_due_date ` + "`res.body.customer.due_dt`" + `
				last_pay_date ` + "`res.body.customer.last_paid_dt`" + `
			}
		}
	}

`

// webhookRoute is (c), (d), (e), (f) and (g): the quickstart's
// bill24_webhook mapping (without its lookup, which only runs after an
// ambiguous timeout), with the process's deliver mode.
const webhookRoute = `	# (c)/(d)/(f)/(g) bill24_webhook with unique tran_ids; (e) one tran_id replayed.
	handle /bill24/webhook {
		billbridge bill24_webhook {
			deliver %s
			call POST /api/payments {
				encode form
				field invoice_no ` + "`let bill = first(req.customers)?.bill_no ?? \"\"; bill != \"\" ? bill : req.customer_code`" + `
				field cust_no ` + "`req.customer_code`" + `
				field amount ` + "`req.amount`" + `
				field ccy ` + "`req.currency`" + `
				field txn_ref ` + "`req.id`" + `
				field paid_at ` + "`req.date`" + `
				field channel ` + "`req.bank_name != \"\" ? req.bank_name : req.bank_code`" + `
				field payer_name ` + "`first(req.customers)?.customer_name ?? req.customer_name`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		}
	}

`

const siteEnd = `	handle {
		respond "billbridge bench: no such route" 404
	}
}
`

// caddyfile renders one process's Caddyfile.
func caddyfile(p caddyfileParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, globalTemplate, p.Admin, p.Store, p.Stub, p.Port)
	if p.ReverseProxy {
		fmt.Fprintf(&b, reverseProxyRoute, p.Stub)
	}
	if p.Proxy {
		b.WriteString(proxyRoute)
	}
	if p.Webhook {
		fmt.Fprintf(&b, webhookRoute, p.Deliver)
	}
	b.WriteString(siteEnd)
	return b.String()
}
