package caddyfile

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const tracingCaddyfile = `{
` + testGlobals + `	billbridge {
		legacy %s
		bill24 {
			token tok-webhook
		}
	}
}
http://localhost:9080 {
	handle /traced/webhook {
		tracing {
			span bill24_webhook
		}
		billbridge bill24_webhook {
			call POST /api/payments {
				encode form
				field txn_ref ` + "`req.id`" + `
				field amount  ` + "`req.amount`" + `
			}
			success ` + "`res.status == 200 && res.body.result == \"OK\"`" + `
		}
	}
}
`

// TestTracingReachesTheLegacyAPI: with Caddy's tracing directive on, the
// legacy call carries W3C trace context of the gateway's trace, as a child
// span of Caddy's.
func TestTracingReachesTheLegacyAPI(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none") // spans are made, and sent nowhere
	stub := newLegacyStub(t)
	tester := newTester(t)
	initServer(t, tester, fmt.Sprintf(tracingCaddyfile, stub.URL()))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	id := uniqueID(t, "traced")
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:9080/traced/webhook", strings.NewReader(webhookV1(id, "45")))
	req.Header.Set("token", "tok-webhook")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp := tester.AssertResponseCode(req, 200)
	resp.Body.Close()

	got := stub.ledger(id)
	if len(got) != 1 {
		t.Fatalf("posted %d times, want 1", len(got))
	}
	tp := got[0].Header.Get("Traceparent")
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[1] != traceID || parts[2] == "00f067aa0ba902b7" {
		t.Errorf("legacy got traceparent %q, want trace %s with a span of billbridge's own", tp, traceID)
	}
}
