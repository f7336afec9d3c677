// Package tracing makes billbridge's outbound calls (the legacy API, QM's
// Requery, Bill24's Verify) child spans of the gateway request's span when
// Caddy's tracing directive is on, and carries W3C trace context to the
// callee. Without a span in the context it changes nothing and costs
// nothing.
package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator writes W3C traceparent and tracestate, what legacy systems
// and gateways that trace at all understand.
var propagator = propagation.TraceContext{}

// Transport returns rt wrapped in OpenTelemetry's HTTP instrumentation
// when ctx carries a recording span, with the span's own tracer provider
// (Caddy's tracing module keeps its provider, not otel's global one); rt
// itself otherwise. name names the span ("legacy", "qm", "bill24").
func Transport(ctx context.Context, rt http.RoundTripper, name string) http.RoundTripper {
	if !Traced(ctx) {
		return rt
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(trace.SpanFromContext(ctx).TracerProvider()),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return name + " " + r.Method }),
	)
}

// Traced reports whether ctx carries a span for outbound calls to join.
func Traced(ctx context.Context) bool {
	return trace.SpanFromContext(ctx).SpanContext().IsValid()
}
