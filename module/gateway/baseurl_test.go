package gateway

import (
	"strings"
	"testing"
)

func TestBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.quantummetal.example/": "https://api.quantummetal.example",
		"http://127.0.0.1:9/qm/":            "http://127.0.0.1:9/qm",
		"https://merchantapi.bill24.io":     "https://merchantapi.bill24.io",
	} {
		if got, err := BaseURL("x: base url", raw); err != nil || got != want {
			t.Errorf("BaseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	const secret = "s3cr3t-value"
	for raw, want := range map[string]string{
		"":                            "x: base url is required",
		"http://[::1" + secret:        "x: base url is not a url",
		"https://h/%zz" + secret:      "x: base url is not a url",
		"ftp://x":                     `x: base url must be http or https, not "ftp"`,
		"/v1":                         `must be http or https, not ""`,
		strings.Repeat("a", 40) + ":": `not "aaaaaaaaaaaaaaaa…"`,
		"https:///v1":                 "has no host",
		"https://:443":                "has no host",
		"https://u:" + secret + "@x":  "must not hold user info",
		"https://x/?key=" + secret:    "must not have a query or a fragment",
		"https://x/?":                 "must not have a query or a fragment",
		"https://x/#" + secret:        "must not have a query or a fragment",
	} {
		_, err := BaseURL("x: base url", raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BaseURL(%q) = %v, want %q", raw, err, want)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("BaseURL(%q): the error quotes the URL: %v", raw, err)
		}
	}
}
