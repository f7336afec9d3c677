package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/billbridge/caddy-billbridge/internal/text"
)

// BaseURL checks the base URL of a gateway's API, as configured, and
// returns it without a trailing slash, ready for paths to be appended: it
// must be http or https with a host, and have no user info (a credential
// in a URL ends up in logs), no query and no fragment. name begins each
// error ("qm: base url is required"); no error quotes the URL, which may
// hold a secret.
func BaseURL(name, raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "", errors.New(name + " is required")
	case err != nil:
		return "", errors.New(name + " is not a url")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s must be http or https, not %q", name, text.Truncate(u.Scheme, 16))
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New(name + " has no host")
	case u.User != nil:
		return "", errors.New(name + " must not hold user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New(name + " must not have a query or a fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}
