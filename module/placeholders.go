package billbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// Placeholders in literal call settings (and the legacy block's headers)
// are resolved in two steps:
//
//   - {env.*}, {file.*} and {system.*} when the config loads, with Caddy's
//     global replacer; one that comes out empty (an unset variable, a
//     missing file) is a load error that names it, never an empty header;
//   - request placeholders ({http.*}, {time.*}) for every request, from
//     the served request's replacer (caddy.ReplacerCtxKey in the request
//     context the pipeline passes down to the call), and only in call
//     header values: a header that comes out empty is not sent. In a path,
//     query or field they are refused at load (gateway-supplied headers
//     must not shape what is booked).
//
// Inside a backtick expression nothing is replaced: a string there is
// taken as written, so a placeholder in one is refused at load.

// requestPlaceholder reports whether a placeholder key is resolved per
// request rather than at load.
func requestPlaceholder(key string) bool {
	return strings.HasPrefix(key, "http.") || strings.HasPrefix(key, "time.")
}

// resolveAtLoad resolves the load-time placeholders in s and reports
// whether request placeholders remain for resolveRequest.
func resolveAtLoad(s string) (string, bool, error) {
	if !strings.Contains(s, "{") {
		return s, false, nil
	}
	perRequest := false
	out, err := caddy.NewReplacer().ReplaceFunc(s, func(key string, val any) (any, error) {
		if requestPlaceholder(key) {
			perRequest = true
			return "{" + key + "}", nil
		}
		empty := caddy.ToString(val) == ""
		switch {
		case strings.HasPrefix(key, "env.") && empty:
			return nil, fmt.Errorf("{%s}: environment variable %s is not set or empty", key, key[len("env."):])
		case strings.HasPrefix(key, "file.") && empty:
			return nil, fmt.Errorf("{%s}: file %s cannot be read or is empty", key, key[len("file."):])
		case val == nil:
			return "{" + key + "}", nil // not a placeholder Caddy knows: text
		}
		return val, nil
	})
	return out, perRequest, err
}

// resolveRequest resolves the request placeholders of a header value. Out
// of a served request (no replacer in ctx) they are empty.
func resolveRequest(ctx context.Context, s string) string {
	if repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok && repl != nil {
		return repl.ReplaceKnown(s, "")
	}
	return caddy.NewReplacer().ReplaceAll(s, "")
}

// placeholderIn returns the first placeholder-like text ({env.X},
// {http.…}) inside a string of an expression, where it is never replaced.
func placeholderIn(src string) string {
	for _, p := range []string{"{env.", "{file.", "{http.", "{time.", "{system."} {
		if i := strings.Index(src, p); i >= 0 {
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return src[i:]
			}
			return src[i : i+end+1]
		}
	}
	return ""
}

// resolveLegacyHeader resolves a header of the legacy block: load
// placeholders only (it is sent on every call, built before any request).
func resolveLegacyHeader(name, v string) (string, error) {
	out, perRequest, err := resolveAtLoad(v)
	if err != nil {
		return "", fmt.Errorf("header %s: %w", name, err)
	}
	if perRequest {
		return "", fmt.Errorf("header %s: request placeholders are resolved only in a call's headers, not in the legacy block", name)
	}
	return out, nil
}

// placeholderProblem says why the placeholders of a call setting would not
// work: any inside an expression (nothing replaces them there), a request
// placeholder outside a header.
func placeholderProblem(src string, header bool) error {
	lit, ok := literalOf(src)
	if !ok {
		if p := placeholderIn(src); p != "" {
			return fmt.Errorf("%s is not replaced inside an expression; give the whole value as a literal, outside backticks", p)
		}
		return nil
	}
	if !header {
		for _, key := range placeholderKeys(lit) {
			if requestPlaceholder(key) {
				return fmt.Errorf("{%s}: %w", key, errRequestPlaceholder)
			}
		}
	}
	return nil
}

var errRequestPlaceholder = errors.New("request placeholders ({http.*}, {time.*}) are resolved per request only in header values")

// placeholderKeys lists the placeholders in s, resolving none.
func placeholderKeys(s string) []string {
	var keys []string
	_, _ = caddy.NewEmptyReplacer().ReplaceFunc(s, func(key string, _ any) (any, error) {
		keys = append(keys, key)
		return "", nil
	})
	return keys
}
