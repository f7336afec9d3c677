package bill24

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// FuzzAuthorizeAnswer: reading an authorize answer never panics; it
// accepts only a 2xx with code 200 and a token usable in a header, to be
// renewed after now and no later than it stops being used; every failure
// is an authorize *VerifyError, temporary exactly for 429 and 5xx, whose
// texts hold neither the secrets nor the token the answer carried.
func FuzzAuthorizeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"code":200,"message":"","data":{"issuer":"http://merchantapi.bill24.io","token":"eyJhbGciOiJIUzI1NiJ9.1.abc","refreshToken":"a1b2","tokenExpireTime":"2025-03-03T16:58:46.9386571+07:00"}}`,
		`{"code":"200","data":{"token":"tok-1","tokenExpireTime":"2025-03-03 16:58:46"}}`,
		`{"code":200,"data":{"token":"tok-1","tokenExpireTime":"2025-03-03T08:59:00Z"}}`,
		`{"code":200,"data":{"token":"tok-1","tokenExpireTime":12}}`,
		`{"code":200,"data":{"token":"tok-1"}}`,
		`{"code":200.0,"data":{"token":"tok-1"}}`,
		`{"code":200,"data":{"token":"bad token"}}`, `{"code":200,"data":{"token":"ជ"}}`,
		`{"code":200,"data":{"token":""}}`, `{"code":200,"data":{}}`, `{"code":200,"data":null}`, `{"code":200}`,
		`{"code":401,"message":"invalid credentials: secret fuzz-s3cret","data":null}`,
		`{"code":403,"message":"token leaky-token-123 is for another merchant","data":{"token":"leaky-token-123"}}`,
		`{"code":500,"message":"leaky-token-123\n","data":{"token":"leaky-token-123"}}`,
		`{"code":"SUCCESS","data":{"token":"tok-x"}}`, `{"data":{"token":"abc"}}`,
		`{"code":200,"data":{"token":"half`, `<html>Bad Gateway</html>`, ``, `[]`, `{"code":{}}`,
		"{\"code\":200,\"data\":{\"token\":\"\xff\"}}",
	} {
		for _, status := range []int{200, 201, 302, 401, 403, 429, 500, 502} {
			f.Add([]byte(s), status)
		}
	}
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	v, err := NewVerifier(VerifyConfig{BaseURL: "https://merchantapi.bill24.io", ClientID: "c",
		Secret: "fuzz-s3cret", MerchantToken: "mtok-fuzz", Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		status = 100 + (status%500+500)%500 // 100..599
		tok, err := v.authorizeResult(status, body)
		if err == nil {
			if status < 200 || status > 299 || tok == nil || tok.value == "" || len(tok.value) > maxTokenLen ||
				strings.ContainsFunc(tok.value, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				t.Fatalf("HTTP %d: accepted %+v", status, tok)
			}
			if !tok.renewAt.After(now) || tok.expiresAt.Before(tok.renewAt) {
				t.Fatalf("token to renew at %v, expiring %v (now %v)", tok.renewAt, tok.expiresAt, now)
			}
			return
		}
		if tok != nil {
			t.Fatalf("error %v with a token", err)
		}
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Op != "authorize" || ve.StatusCode != status {
			t.Fatalf("error %#v", err)
		}
		if IsTemporary(err) != gateway.TemporaryStatus(status) {
			t.Fatalf("HTTP %d: temporary %v for %v", status, IsTemporary(err), err)
		}
		secrets := []string{"fuzz-s3cret", "mtok-fuzz"}
		// A token short or spaced enough to be a piece of the error's own
		// wording cannot be told apart from it.
		if t := tokenIn(body); len(t) >= 12 && !strings.ContainsAny(t, " \"") {
			secrets = append(secrets, t)
		}
		for _, text := range []string{err.Error(), ve.Code, ve.Message, fmt.Sprintf("%#v", *ve)} {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Fatalf("error text %q holds %q", text, s)
				}
			}
		}
	})
}
