package bill24

import (
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// AppendJSON must write exactly what encoding/json writes.
func TestProxyReplyAppendJSONMatchesMarshal(t *testing.T) {
	texts := []string{"", "Nheb Nim", "ញ៉េប នីម", `quote " and \ back`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f",
		"\x00\x01\x1f\x7f", "line\u2028para\u2029", "bad \xff\xfe utf8", strings.Repeat("ក", 300), "emoji 😀"}
	amounts := []string{"0", "10.20", "-1", "50000.00", "99999999999.99", "123456789012345678901234567890.12"}
	for i, s := range texts {
		for j, a := range amounts {
			d := NewProxyData(s)
			d.ConsumerName, d.Description, d.LastDueDate = s, texts[(i+1)%len(texts)], "2024-03-30 10:46:33"
			d.Currency, d.DueAmount, d.Balance = "USD", mappings.MustDecimal(a), mappings.MustDecimal(amounts[(j+1)%len(amounts)])
			for _, r := range []ProxyReply{{Code: CodeSuccess, Message: s, MessageKH: "ជោគជ័យ", Data: &d}, {Code: 502, Message: s}} {
				want, err := Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				if got := r.AppendJSON(nil); string(got) != string(want) {
					t.Fatalf("AppendJSON\n%s\nencoding/json\n%s", got, want)
				}
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "ញ", "\x00", "\xff", "\u2028", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ProxyReply{Message: s}
		want, err := Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON %q\n%s\nencoding/json\n%s", s, got, want)
		}
	})
}
