package store

import (
	"strings"
	"testing"
)

// FuzzInfoField: the INFO reply reader takes any bytes without panicking,
// and finds a field it was given.
func FuzzInfoField(f *testing.F) {
	f.Add("# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=1,state=online\r\n", "connected_slaves")
	f.Add("", "role")
	f.Add("role:\nrole:slave", "role")
	f.Fuzz(func(t *testing.T, info, name string) {
		_ = infoInt(info, name)
		v := infoField(info, name)
		if strings.ContainsAny(name, "\r\n:") || name == "" || strings.TrimSpace(name) != name {
			return
		}
		if !strings.Contains(info, name+":") && v != "" {
			t.Fatalf("infoField(%q, %q) = %q, but the field is not there", info, name, v)
		}
		line := name + ":42"
		if got := infoInt(info+"\n"+line, name); !strings.Contains(info, name+":") && got != 42 {
			t.Fatalf("infoInt with %q appended = %d, want 42", line, got)
		}
	})
}
