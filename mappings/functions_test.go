package mappings

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// qmLike is a QM bill's time fields as module/qm types them.
type qmLike struct {
	DateTime  int64   `expr:"dateTime"`
	ExpiredOn int64   `expr:"expiredOn"`
	Ref       string  `expr:"ref"`
	Amount    Decimal `expr:"amount"`
	Rate      float64 `expr:"rate"`
}

type qmLikeEnv = ResponseEnv[qmLike]

func qmLikeEnvWith(t *testing.T, body string) qmLikeEnv {
	t.Helper()
	return qmLikeEnv{
		Req: qmLike{DateTime: 1706600000000, ExpiredOn: 1706603600000, Ref: "INV-1", Amount: MustDecimal("100.00")},
		Res: jsonEnv(t, body).Res,
	}
}

func TestTimeHelpers(t *testing.T) {
	env := qmLikeEnvWith(t, `{"ts":1706600000000,"secs":1706600000,"ts_dec":1706600000000.000,"ts_text":"1706600000000",`+
		`"b24":"2024-11-29 16:58:16","iso":"2024-11-29T16:58:16.727168","zoned":"2025-03-03T16:58:46.9386571+07:00"}`)
	// 1706600000000 ms is 2024-01-30T07:33:20Z.
	tests := []struct{ src, want string }{
		{`format_date(from_unix_ms(req.dateTime), "2006-01-02 15:04:05")`, "2024-01-30 14:33:20"},
		{`format_date(from_unix_ms(req.dateTime), "2006-01-02 15:04:05", "Asia/Kuala_Lumpur")`, "2024-01-30 15:33:20"},
		{`format_date(from_unix_ms(req.dateTime), "2006-01-02T15:04:05Z07:00", "UTC")`, "2024-01-30T07:33:20Z"},
		{`format_date(from_unix_ms(req.expiredOn), "15:04", "+08:00")`, "16:33"},
		{`format_date(from_unix_ms(res.body.ts), "2006-01-02 15:04:05", "UTC")`, "2024-01-30 07:33:20"},
		{`format_date(from_unix_ms(res.body.ts_dec), "2006-01-02 15:04:05", "UTC")`, "2024-01-30 07:33:20"},
		{`format_date(from_unix_ms(res.body.ts_text), "2006-01-02 15:04:05", "UTC")`, "2024-01-30 07:33:20"},
		{`format_date(from_unix_ms(946684800000), "2006-01-02 15:04:05.000", "UTC")`, "2000-01-01 00:00:00.000"},
		{`format_date(from_unix_ms(res.body.secs * 1000), "2006-01-02 15:04:05", "UTC")`, "2024-01-30 07:33:20"},
		// Bill24's zoneless dates are Phnom Penh time.
		{`format_date(res.body.b24, "2006-01-02T15:04:05Z07:00", "UTC")`, "2024-11-29T09:58:16Z"},
		{`format_date(res.body.iso, "2006-01-02 15:04:05.000000")`, "2024-11-29 16:58:16.727168"},
		{`format_date(res.body.zoned, "2006-01-02 15:04:05.0000000", "UTC")`, "2025-03-03 09:58:46.9386571"},
		{`format_date(parse_date(res.body.b24), "02/01/2006")`, "29/11/2024"},
		{`format_date(parse_date(res.body.b24, "Asia/Kuala_Lumpur"), "15:04 -07:00")`, "15:58 +07:00"},
		{`format_date(parse_date("2024-11-29 16:58:16", "Asia/Kuala_Lumpur"), "15:04 -07:00", "Asia/Kuala_Lumpur")`, "16:58 +08:00"},
		{`format_date(parse_date(from_unix_ms(req.dateTime)), "2006-01-02", "UTC")`, "2024-01-30"},
		{`text(to_unix_ms(from_unix_ms(req.dateTime)))`, "1706600000000"},
		{`text(to_unix_ms(parse_date(res.body.b24)))`, "1732874296000"},
		{`text(to_unix_ms(parse_date(res.body.iso)))`, "1732874296727"},
		{`text(to_unix_ms(parse_date("2024-01-30T07:33:20Z")) == req.dateTime)`, "true"},
		{`text(from_unix_ms(req.dateTime) < from_unix_ms(req.expiredOn))`, "true"},
		// expr's date keeps its meaning: zoneless is UTC.
		{`format_date(date("2024-01-30 07:33:20"), "15:04", "UTC")`, "07:33"},
		{`format_date(date(timezone("Asia/Kuala_Lumpur"), "2024-01-30 15:33:20"), "15:04", "UTC")`, "07:33"},
		{`format_date(date("30/01/2024 15:33", "02/01/2006 15:04", "Asia/Kuala_Lumpur"), "15:04", "UTC")`, "07:33"},
	}
	for _, tt := range tests {
		got, err := mustCompile(t, tt.src, qmLikeEnv{}, KindString).String(env)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	// A date field takes a time from from_unix_ms and writes it Bill24's way.
	got, err := mustCompile(t, `from_unix_ms(req.dateTime)`, qmLikeEnv{}, KindDate).Bill24Date(env)
	if err != nil || got != "2024-01-30 14:33:20" {
		t.Errorf("Bill24Date(from_unix_ms) = %q, %v", got, err)
	}
}

// position is where an error says it is in the expression: (line:column).
var position = regexp.MustCompile(`\(\d+:\d+\)$`)

// TestTimeHelpersRefusedAtLoad is what `caddy validate` sees: a wrong
// argument type is an error with its place, not a failure on every payment.
func TestTimeHelpersRefusedAtLoad(t *testing.T) {
	tests := []struct{ src, want string }{
		// The shipped QM example's mistake.
		{`format_date(date(req.dateTime / 1000), "2006-01-02 15:04:05")`, "cannot use float64 as argument (type string) to call date"},
		{`date(req.dateTime)`, "cannot use int64 as argument (type string) to call date"},
		{`from_unix_ms(req.dateTime / 1000)`, "cannot use float64 as argument (type int) to call from_unix_ms"},
		{`from_unix_ms(req.ref)`, "to call from_unix_ms"},
		{`from_unix_ms(req.rate)`, "to call from_unix_ms"},
		{`from_unix_ms(parse_date("2024-01-01"))`, "to call from_unix_ms"},
		{`from_unix_ms()`, "not enough arguments"},
		{`to_unix_ms(req.dateTime)`, "cannot use int64 as argument (type time.Time) to call to_unix_ms"},
		{`to_unix_ms(req.ref)`, "to call to_unix_ms"},
		{`format_date(req.dateTime, "2006")`, "cannot use int64 as argument (type time.Time) to call format_date"},
		{`format_date(req.amount, "2006")`, "to call format_date"},
		{`format_date(from_unix_ms(req.dateTime))`, "not enough arguments"},
		{`format_date(from_unix_ms(req.dateTime), 2006)`, "to call format_date"},
		{`format_date(from_unix_ms(req.dateTime), "2006", 8)`, "to call format_date"},
		{`parse_date(req.dateTime)`, "cannot use int64 as argument (type string) to call parse_date"},
		{`parse_date("2024-01-01", 7)`, "to call parse_date"},
		// A misspelt zone literal is found at load, at its place.
		{`format_date(from_unix_ms(req.dateTime), "2006", "Asia/Kuala_Lumpr")`, `unknown time zone "Asia/Kuala_Lumpr"`},
		{`format_date(from_unix_ms(req.dateTime), "2006", "+8")`, `cannot read "+8" as a UTC offset`},
		{`format_date(from_unix_ms(req.dateTime), "2006", "Local")`, `time zone "Local": name one`},
		{`parse_date("2024-01-01", "Mars/Olympus")`, `unknown time zone "Mars/Olympus"`},
		{`date("2024-01-01", "2006-01-02", "+08:00")`, `unknown time zone "+08:00" (date wants an IANA name`},
		{`date("2024-01-01", "2006-01-02", "Local")`, `unknown time zone "Local"`},
		{`format_date(from_unix_ms(req.dateTime),
	"2006",
	  "Asia/Kuala_Lumpr")`, `"Asia/Kuala_Lumpr" (want e.g. Asia/Kuala_Lumpur, +08:00 or UTC) (3:4)`},
	}
	for _, tt := range tests {
		_, err := testCompiler.Compile(tt.src, qmLikeEnv{}, KindAny)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%s) error %v, want %q", tt.src, err, tt.want)
			continue
		}
		if !position.MatchString(err.Error()) {
			t.Errorf("Compile(%s) error %q has no position", tt.src, err)
		}
	}
}

// TestTimeHelpersRuntimeErrors are values only a payment shows (untyped
// legacy fields): each is a clear error, never a panic or a wrong date.
func TestTimeHelpersRuntimeErrors(t *testing.T) {
	env := qmLikeEnvWith(t, `{"zero":0,"neg":-5,"secs":1706600000,"old":946684799999,"frac":1706600000000.5,"big":253402300800000,"text":"soon",`+
		`"n":1706600000000,"b24":"2024-11-29 16:58:16","obj":{},"mars":"Mars/Olympus","local":"Local","plus25":"+25:00","empty":""}`)
	tests := []struct{ src, want string }{
		{`from_unix_ms(res.body.zero)`, "is the field missing"},
		{`from_unix_ms(res.body.missing)`, "no timestamp"},
		{`from_unix_ms(res.body.neg)`, "between 2000 and 9999"},
		{`from_unix_ms(res.body.big)`, "between 2000 and 9999"},
		{`from_unix_ms(res.body.secs)`, "reads as unix seconds"},
		{`from_unix_ms(res.body.old)`, "between 2000 and 9999"},
		{`from_unix_ms(res.body.frac)`, "whole number"},
		{`from_unix_ms(res.body.text)`, `cannot read "soon" as unix milliseconds`},
		{`from_unix_ms(res.body.obj)`, "cannot use map"},
		{`from_unix_ms(res.body.b24)`, "cannot read"},
		{`format_date(res.body.n, "2006")`, "use from_unix_ms"},
		{`format_date(res.body.text, "2006")`, `cannot read "soon" as a date`},
		{`format_date(res.body.missing, "2006")`, "no date"},
		{`format_date(res.body.b24, res.body.n)`, "layout must be text"},
		// Zones from data (a literal is checked at load).
		{`format_date(res.body.b24, "2006", res.body.mars)`, `unknown time zone "Mars/Olympus"`},
		{`format_date(res.body.b24, "2006", res.body.local)`, "name one"},
		{`format_date(res.body.b24, "2006", res.body.plus25)`, "UTC offset"},
		{`format_date(res.body.b24, "2006", res.body.n)`, "time zone must be text"},
		{`format_date(res.body.b24, "2006", "UTC", "UTC")`, "too many arguments"},
		{`parse_date(res.body.n)`, "use from_unix_ms"},
		{`parse_date(res.body.b24, res.body.empty)`, "name one"},
		{`to_unix_ms(res.body.n)`, "to_unix_ms takes a time"},
		{`date(res.body.n)`, "use from_unix_ms"},
		{`date(res.body.obj)`, "date takes text"},
	}
	for _, tt := range tests {
		got, err := mustCompile(t, tt.src, qmLikeEnv{}, KindAny).Run(env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s = %v, %v; want an error with %q", tt.src, got, err, tt.want)
		}
	}
}

func TestLoadZone(t *testing.T) {
	at := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	for name, want := range map[string]int{
		"UTC": 0, "Z": 0, "+07:00": 7 * 3600, "-05:30": -(5*3600 + 1800), "+0800": 8 * 3600, "+08": 8 * 3600, "+14:00": 14 * 3600,
		"Asia/Phnom_Penh": 7 * 3600, "ICT": 7 * 3600, "Asia/Kuala_Lumpur": 8 * 3600, "America/New_York": -4 * 3600,
	} {
		loc, err := LoadZone(name)
		if err != nil {
			t.Errorf("LoadZone(%q): %v", name, err)
			continue
		}
		if _, off := at.In(loc).Zone(); off != want {
			t.Errorf("LoadZone(%q) offset %d, want %d", name, off, want)
		}
		again, _ := LoadZone(name)
		if again != loc {
			t.Errorf("LoadZone(%q) is not cached", name)
		}
	}
	for _, name := range []string{"", "Local", "+7", "+07:60", "+15:00", "+07:00:00", "+0a:00", "-", "UTC+7", "nowhere", "../../etc/passwd", "\x00"} {
		if loc, err := LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) = %v, want an error", name, loc)
		}
	}
}
