package mappings

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPhnomPenh(t *testing.T) {
	_, off := time.Date(2024, 1, 1, 0, 0, 0, 0, PhnomPenh).Zone()
	_, offJuly := time.Date(2024, 7, 1, 0, 0, 0, 0, PhnomPenh).Zone()
	if off != 7*3600 || offJuly != 7*3600 {
		t.Errorf("Phnom Penh offsets = %d, %d, want +07:00 all year", off, offJuly)
	}
}

func TestParseDate(t *testing.T) {
	ict := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, PhnomPenh)
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-03-30 10:46:33", ict(2024, 3, 30, 10, 46, 33, 0)},
		{"2024-2-29 10:46:33", ict(2024, 2, 29, 10, 46, 33, 0)},
		{"2024-3-1 9:5:7", ict(2024, 3, 1, 9, 5, 7, 0)},
		{"2024-03-30T10:46:33.5", ict(2024, 3, 30, 10, 46, 33, 500000000)},
		{"2023-05-10T15:47:12.890062", ict(2023, 5, 10, 15, 47, 12, 890062000)},
		{"2024-03-30 10:46:33.123", ict(2024, 3, 30, 10, 46, 33, 123000000)},
		{"2024-03-30T10:46", ict(2024, 3, 30, 10, 46, 0, 0)},
		{"2024-03-30 10:46", ict(2024, 3, 30, 10, 46, 0, 0)},
		{"2024-03-30", ict(2024, 3, 30, 0, 0, 0, 0)},
		{"2024-3-9", ict(2024, 3, 9, 0, 0, 0, 0)},
		{"  2024-03-30\n", ict(2024, 3, 30, 0, 0, 0, 0)},
		{"2024-03-30T03:46:33Z", time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC)},
		{"2024-03-30T03:46:33+00:00", time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC)},
		{"2024-03-30T10:46:33+07:00", ict(2024, 3, 30, 10, 46, 33, 0)},
		{"2024-03-29T22:46:33-05:00", ict(2024, 3, 30, 10, 46, 33, 0)},
		{"2024-03-30T03:46:33.25Z", time.Date(2024, 3, 30, 3, 46, 33, 250000000, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in, PhnomPenh)
		if err != nil {
			t.Errorf("ParseDate(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseDate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// A zoneless date is read in the location given.
	got, err := ParseDate("2024-03-30 10:46:33", time.UTC)
	if err != nil || !got.Equal(time.Date(2024, 3, 30, 10, 46, 33, 0, time.UTC)) {
		t.Errorf("ParseDate in UTC = %v, %v", got, err)
	}
	// A zoned one keeps its own offset.
	got, err = ParseDate("2024-03-30T10:46:33+07:00", time.UTC)
	if err != nil || !got.Equal(time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC)) {
		t.Errorf("ParseDate zoned in UTC = %v, %v", got, err)
	}
}

func TestParseDateErrors(t *testing.T) {
	for _, in := range []string{
		"", "   ", "30/03/2024", "2024/03/30", "2023-02-29", "2024-13-01", "2024-03-32",
		"2024-03-30 25:00:00", "2024-03-30T10:46:33+25:00", "tomorrow", "1711766793",
		"2024-03-30 10:46:33 ICT", "ថ្ងៃនេះ",
	} {
		got, err := ParseDate(in, PhnomPenh)
		if err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "cannot read") || !strings.Contains(err.Error(), "want e.g.") {
			t.Errorf("ParseDate(%q) error %q does not explain itself", in, err)
		}
	}
	// Long input is cut in the message, by characters.
	long := strings.Repeat("ថ", 100)
	_, err := ParseDate(long, PhnomPenh)
	if err == nil || !strings.Contains(err.Error(), strings.Repeat("ថ", 40)+"…") || strings.Contains(err.Error(), strings.Repeat("ថ", 41)) {
		t.Errorf("long input error = %v", err)
	}
}

func TestFormatBill24Date(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{time.Date(2024, 3, 30, 3, 46, 33, 0, time.UTC), "2024-03-30 10:46:33"},
		{time.Date(2024, 3, 30, 10, 46, 33, 999999999, PhnomPenh), "2024-03-30 10:46:33"},
		{time.Date(2024, 12, 31, 20, 0, 0, 0, time.UTC), "2025-01-01 03:00:00"},
		{"2024-2-29 10:46:33", "2024-02-29 10:46:33"},
		{"2024-03-30", "2024-03-30 00:00:00"},
		{"2024-03-30T03:00:00+00:00", "2024-03-30 10:00:00"},
		{"2023-05-10T15:47:12.890062", "2023-05-10 15:47:12"},
		{"", ""},
		{nil, ""},
	}
	for _, tt := range tests {
		got, err := FormatBill24Date(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("FormatBill24Date(%#v) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []any{"30/03/2024", " ", 20240330, MustDecimal("1"), true, []any{}} {
		if got, err := FormatBill24Date(in); err == nil {
			t.Errorf("FormatBill24Date(%#v) = %q, want an error", in, got)
		}
	}
}

func TestFromUnixMs(t *testing.T) {
	want := time.Date(2024, 1, 30, 7, 33, 20, 0, time.UTC)
	for _, in := range []any{1706600000000, int64(1706600000000), uint64(1706600000000), json.Number("1706600000000"),
		MustDecimal("1706600000000.000"), " 1706600000000 "} {
		got, err := FromUnixMs(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("FromUnixMs(%#v) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []any{nil, 0, -1, 1706600000, int64(minUnixMs - 1), int64(maxUnixMs + 1), 1706600000000.0, MustDecimal("1.5"), "", "1e3", "soon", true, want, []any{}} {
		if got, err := FromUnixMs(in); err == nil {
			t.Errorf("FromUnixMs(%#v) = %v, want an error", in, got)
		}
	}
	if got, err := FromUnixMs(int64(maxUnixMs)); err != nil || got.Year() != 9999 {
		t.Errorf("FromUnixMs(max) = %v, %v", got, err)
	}
	if got, err := FromUnixMs(int64(minUnixMs)); err != nil || !got.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("FromUnixMs(min) = %v, %v", got, err)
	}
	if got := ToUnixMs(want); got != 1706600000000 {
		t.Errorf("ToUnixMs = %d", got)
	}
}

// Bill24's token expiry carries seven fractional digits and a zone.
func TestParseDateBill24TokenExpiry(t *testing.T) {
	got, err := ParseDate("2025-03-03T16:58:46.9386571+07:00", time.UTC)
	if err != nil || !got.Equal(time.Date(2025, 3, 3, 9, 58, 46, 938657100, time.UTC)) {
		t.Errorf("got %v, %v", got, err)
	}
}
