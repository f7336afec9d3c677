package qm

import "testing"

// FuzzCheckRedirect: a target checkRedirect accepts means the same to a
// browser (WHATWG preprocessing, then resolution against the redirect's
// page) as to Go: the same host, the same path, nothing stripped.
func FuzzCheckRedirect(f *testing.F) {
	for _, s := range append(append([]string{}, hostileTargets...), goodTargets...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, to string) {
		if checkRedirect(to) == nil {
			assertAgreed(t, to)
		}
	})
}
