package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
)

type tempErr bool

func (e tempErr) Error() string   { return fmt.Sprintf("temp %v", bool(e)) }
func (e tempErr) Temporary() bool { return bool(e) }

func TestIsTemporary(t *testing.T) {
	_, dialErr := net.Dial("tcp", "127.0.0.1:1") // nothing listens on port 1
	if dialErr == nil {
		t.Skip("port 1 accepted a connection")
	}
	_, getErr := http.Get("http://127.0.0.1:1/")
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"own temporary", tempErr(true), true},
		{"own permanent", tempErr(false), false},
		{"wrapped permanent", fmt.Errorf("call: %w", tempErr(false)), false},
		// The gateway's answer decides, even around a network error.
		{"permanent around a network error", fmt.Errorf("%w: %w", tempErr(false), dialErr), false},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled, wrapped", fmt.Errorf("waiting: %w", context.Canceled), true},
		// net.Error's deprecated Temporary says false here; it is not asked.
		{"connection refused", dialErr, true},
		{"url.Error", getErr, true},
	} {
		if got := IsTemporary(tt.err); got != tt.want {
			t.Errorf("%s: IsTemporary(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
