package billbridge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCase feeds case files (written by people) to the loader and the
// comparison: an error, never a panic.
func FuzzParseCase(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/contract/cases/*.json")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, []byte(`{"a":1}`))
	}
	f.Add([]byte(`{"handler":{"flow":"x"},"steps":[{"request":{},"expect":{"status":200,"body":[1,{"a":null}]}}]}`), []byte(`[1,{"a":null}]`))
	f.Fuzz(func(t *testing.T, src, got []byte) {
		c, err := parseCase(src, "case.json")
		if err != nil {
			return
		}
		for _, s := range c.Steps {
			var d diffs
			compareBody(&d, "body", s.Expect.Body, "application/json", got, false)
			compareBody(&d, "body", s.Expect.Body, "application/x-www-form-urlencoded", got, true)
			_, _ = answerBody(s.Expect.Body)
		}
		_ = bodyKeys(json.RawMessage(src))
	})
}
