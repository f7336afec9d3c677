package billbridge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	billbridge "github.com/billbridge/caddy-billbridge/module"
)

// TestLogSample: log_sample keeps one line in n of the events that went
// well, and every refusal.
func TestLogSample(t *testing.T) {
	s, err := billbridge.NewStandalone([]byte(`{"legacy":{"base_url":"http://127.0.0.1:1"},"bill24":{"tokens":["t"]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	core, logs := observer.New(zapcore.InfoLevel)
	s.Logger = zap.New(core)
	s.PlayLegacy(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{}`))}, nil
	})
	h, err := s.HandlerFromCaddyfile("billbridge bill24_webhook {\n\tlog_sample 3\n\tcall POST /pay\n}")
	if err != nil {
		t.Fatal(err)
	}
	serve := func(body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("token", "t")
		if err := h.ServeHTTP(httptest.NewRecorder(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 9 {
		serve(fmt.Sprintf(`{"tran_id":"ls-%d","tran_amount":1,"currency":"USD","status":"success"}`, i))
	}
	serve(`{"tran_id":"bad","tran_amount":-1,"currency":"USD","status":"success"}`)
	serve(`not json`)
	ok, refused := 0, 0
	for _, e := range logs.FilterMessage("gateway event").All() {
		if e.ContextMap()["status"].(int64) < 400 {
			ok++
		} else {
			refused++
		}
	}
	if ok != 3 || refused != 2 {
		t.Errorf("logged %d of 9 good events and %d of 2 refusals, want 3 and 2", ok, refused)
	}
	if _, err := s.HandlerFromCaddyfile("billbridge bill24_webhook {\n\tlog_sample 0\n\tcall POST /pay\n}"); err == nil || !strings.Contains(err.Error(), "log_sample") {
		t.Errorf("log_sample 0: %v", err)
	}
}
