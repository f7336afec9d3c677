package mappings

import (
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "348b4b16-1f06-4563-8204-105a8420a067", "a:b:c", "x:c", "BUb4CmDE",
		"a b", "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~", strings.Repeat("x", MaxIDLen)} {
		if err := CheckID("tran_id", id); err != nil {
			t.Errorf("CheckID(%q): %v", id, err)
		}
	}
	for _, tt := range []struct{ id, want string }{
		{"", "tran_id must not be empty"},
		{strings.Repeat("x", MaxIDLen+1), "tran_id is longer than 128 bytes"},
		{" a", "must not begin or end with a space"},
		{"a ", "must not begin or end with a space"},
		{"a\nb", "holds byte 0x0a at 1"},
		{"a\r\nX-Evil: 1", "holds byte 0x0d at 1"},
		{"a\tb", "holds byte 0x09 at 1"},
		{"\x00", "holds byte 0x00 at 0"},
		{"a\x7f", "holds byte 0x7f at 1"},
		{"é", "holds byte 0xc3 at 0"},
		{"ជា", "holds byte 0xe1 at 0"},
		{"a\u0085", "holds byte 0xc2 at 1"},
		{"\xff", "holds byte 0xff at 0"},
	} {
		if err := CheckID("tran_id", tt.id); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckID(%q) = %v, want %q", tt.id, err, tt.want)
		}
	}
}
