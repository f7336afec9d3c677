package billbridge

import (
	"crypto/subtle"
	"net/http"
)

// bill24Token checks the `token` header against every configured token in
// constant time, so a timing probe learns nothing about any of them.
func bill24Token(h *Handler, r *http.Request) bool {
	got := []byte(r.Header.Get("token"))
	ok := 0
	for _, t := range h.app.Bill24.tokens {
		ok |= subtle.ConstantTimeCompare(got, t)
	}
	return ok == 1 && len(got) > 0
}
