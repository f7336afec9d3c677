package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTransportMakesAChildSpanAndPropagates(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Traceparent") }))
	defer srv.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "gateway request")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	resp, err := Transport(ctx, http.DefaultTransport, "legacy").RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()

	spans := rec.Ended()
	if len(spans) != 2 || spans[0].Name() != "legacy POST" || spans[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans %v, want legacy POST as a child of the gateway request", spans)
	}
	if want := "00-" + parent.SpanContext().TraceID().String() + "-" + spans[0].SpanContext().SpanID().String() + "-01"; got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
}

func TestTransportWithoutSpanIsUntouched(t *testing.T) {
	if rt := Transport(context.Background(), http.DefaultTransport, "legacy"); rt != http.DefaultTransport {
		t.Errorf("got %T, want the transport itself", rt)
	}
}
