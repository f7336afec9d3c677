// Package mappings compiles and runs the expr-lang expressions that map a
// gateway's payload to a legacy API call and the legacy answer back. It has
// no Caddy import: it is the engine, the module is the glue.
//
// Expressions are compiled once, against a typed environment, so a field
// name typo or a type mismatch is found when the configuration loads:
//
//	req  the gateway's payload, as the flow's typed struct
//	res  the legacy answer (status, header, body, text), where there is one
//
// Money is Decimal throughout; numbers in legacy JSON decode to int (whole)
// or Decimal, never float64, and arithmetic or comparison that involves a
// Decimal or an untyped value is routed through exact decimal operators.
package mappings

import "net/http"

// Response is the legacy system's answer as mappings see it (res).
type Response struct {
	// Status is the HTTP status code.
	Status int `expr:"status"`
	// Header holds the first value of each header, by canonical name.
	Header map[string]string `expr:"header"`
	// Body is the body decoded by content type: JSON (objects, arrays,
	// strings, bool, int or Decimal numbers), form (map of first values), or
	// the text itself.
	Body any `expr:"body"`
	// Text is the raw body as text.
	Text string `expr:"text"`
}

// NewResponse decodes an HTTP answer for mappings.
func NewResponse(status int, header http.Header, body []byte) Response {
	h := make(map[string]string, len(header))
	for k, v := range header {
		if len(v) > 0 {
			h[k] = v[0]
		}
	}
	return Response{
		Status: status,
		Header: h,
		Body:   DecodeBody(header.Get("Content-Type"), body),
		Text:   string(body),
	}
}

// RequestEnv is what request-side expressions see: the payload only.
type RequestEnv[R any] struct {
	Req R `expr:"req"`
}

// ResponseEnv is what answer-side expressions see: the payload and the
// legacy answer.
type ResponseEnv[R any] struct {
	Req R        `expr:"req"`
	Res Response `expr:"res"`
}
