package billbridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A contract-test case file (JSON, one case per file), kept beside the
// Caddyfile, e.g. cases/webhook_posted_once.json:
//
//	{
//	  "name": "a paid webhook is posted once",
//	  "handler": {"path": "/bill24/webhook"},
//	  "env": {"LEGACY_API_KEY": "k", "BILL24_TOKEN": "t"},
//	  "steps": [{
//	    "request": {"headers": {"token": "t"}, "payload": "../../payloads/bill24_webhook_v1.json"},
//	    "legacy": [{
//	      "expect": {"method": "POST", "path": "/api/payments", "body": {"amount": 45}, "match": "subset"},
//	      "answer": {"status": 200, "body": {"result": "OK"}}
//	    }],
//	    "expect": {"status": 200, "body": {"code": "SUCCESS"}, "match": "subset"}
//	  }]
//	}
//
// JSON because the case and its bodies are JSON already, and it needs no
// new dependency.
type contractCase struct {
	Name    string            `json:"name,omitempty"`
	Handler caseHandler       `json:"handler"`
	Env     map[string]string `json:"env,omitempty"`
	Steps   []caseStep        `json:"steps"`

	file string
	dir  string
}

// caseHandler names the handler under test: by site and path (the
// Caddyfile's site address and handle path), or by flow (and which one,
// from 1, when there are several).
type caseHandler struct {
	Site  string `json:"site,omitempty"`
	Path  string `json:"path,omitempty"`
	Flow  string `json:"flow,omitempty"`
	Index int    `json:"index,omitempty"`
}

// caseStep is one gateway request, the calls it should make (each with the
// answer played back) and the answer it should get.
type caseStep struct {
	Name    string         `json:"name,omitempty"`
	Request caseRequest    `json:"request"`
	Gateway []caseExchange `json:"gateway,omitempty"`
	Legacy  []caseExchange `json:"legacy,omitempty"`
	Expect  caseAnswer     `json:"expect"`
}

// caseRequest is the gateway's request. The body is one of payload (a
// file, relative to the case file), body (JSON as written, or a JSON
// string for raw text) or form.
type caseRequest struct {
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Payload string            `json:"payload,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
	Form    map[string]string `json:"form,omitempty"`
}

// caseExchange is one outbound call: what it should look like and what is
// played back. Error plays a failure instead of an answer: "timeout" (the
// deadline passed), "cut" (the connection broke after sending) or
// "refused" (nothing was sent).
type caseExchange struct {
	Expect *caseCall   `json:"expect,omitempty"`
	Answer *caseAnswer `json:"answer,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// caseCall is an expected outbound request. Every field is optional;
// headers are always a subset (null: must be absent); query and body are
// compared as match says: "exact" (default) or "subset".
type caseCall struct {
	Method  string             `json:"method,omitempty"`
	Path    string             `json:"path,omitempty"`
	Query   json.RawMessage    `json:"query,omitempty"`
	Headers map[string]*string `json:"headers,omitempty"`
	Body    json.RawMessage    `json:"body,omitempty"`
	Match   string             `json:"match,omitempty"`
}

// caseAnswer is an answer: played back (legacy, gateway) or expected
// (the handler's). A JSON string body is raw text; anything else is JSON.
type caseAnswer struct {
	Status  int                `json:"status,omitempty"`
	Headers map[string]*string `json:"headers,omitempty"`
	Body    json.RawMessage    `json:"body,omitempty"`
	Match   string             `json:"match,omitempty"`
}

// loadCases reads case files; a directory stands for its *.json files.
func loadCases(args []string) ([]*contractCase, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no case files in %s", strings.Join(args, " "))
	}
	cases := make([]*contractCase, 0, len(files))
	for _, f := range files {
		c, err := loadCase(f)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func loadCase(file string) (*contractCase, error) {
	data, err := os.ReadFile(file) //nolint:gosec // G304: a case file the operator named on the command line
	if err != nil {
		return nil, err
	}
	return parseCase(data, file)
}

// parseCase decodes and checks a case file's bytes.
func parseCase(data []byte, file string) (*contractCase, error) {
	var c contractCase
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key must not silently test nothing
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c.file, c.dir = file, filepath.Dir(file)
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(file), ".json")
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &c, nil
}

// check refuses a case that could not fail or could not run.
func (c *contractCase) check() error {
	h := c.Handler
	if h.Flow == "" && h.Path == "" {
		return fmt.Errorf("handler: give path (and site) or flow")
	}
	if len(c.Steps) == 0 {
		return fmt.Errorf("no steps")
	}
	for i, s := range c.Steps {
		if s.Expect.Status == 0 {
			return fmt.Errorf("step %d: expect.status is required", i+1)
		}
		n := 0
		for _, set := range []bool{s.Request.Payload != "", len(s.Request.Body) > 0, s.Request.Form != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("step %d: request: give one of payload, body, form", i+1)
		}
		for j, x := range append(append([]caseExchange{}, s.Gateway...), s.Legacy...) {
			if (x.Answer == nil) == (x.Error == "") {
				return fmt.Errorf("step %d: call %d: give answer or error", i+1, j+1)
			}
			switch x.Error {
			case "", "timeout", "cut", "refused":
			default:
				return fmt.Errorf("step %d: call %d: error %q: want timeout, cut or refused", i+1, j+1, x.Error)
			}
		}
		matches := []string{s.Expect.Match}
		for _, x := range append(append([]caseExchange{}, s.Gateway...), s.Legacy...) {
			if x.Expect != nil {
				matches = append(matches, x.Expect.Match)
			}
		}
		for _, m := range matches {
			if m != "" && m != "exact" && m != "subset" {
				return fmt.Errorf("step %d: match %q: want exact or subset", i+1, m)
			}
		}
	}
	return nil
}

func (s caseStep) label(i int) string {
	if s.Name != "" {
		return fmt.Sprintf("step %d (%s)", i+1, s.Name)
	}
	return fmt.Sprintf("step %d", i+1)
}
