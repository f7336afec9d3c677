package mappings

import (
	"fmt"
	"strings"
	"time"
)

// PhnomPenh is Cambodia's time, UTC+07:00 all year. Bill24 writes dates
// without a zone; its token expiry times carry +07:00, so that is what they
// mean (protocols.md A.3).
var PhnomPenh = time.FixedZone("ICT", 7*60*60)

// Bill24DateLayout is how Bill24's proxy answer writes dates.
const Bill24DateLayout = "2006-01-02 15:04:05"

// dateLayouts are the forms ParseDate reads, zoneless ones in loc.
var dateLayouts = []string{
	"2006-01-02 15:04:05", // Bill24's own, and the commonest in legacy systems: first
	time.RFC3339Nano,
	"2006-1-2 15:4:5",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006-1-2",
}

// ParseDate reads a date in one of the common forms legacy systems and
// Bill24 write. A date without a zone is taken to be in loc.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a date (want e.g. 2024-03-30 10:46:33, 2024-03-30 or RFC 3339)", truncateText(s, 40))
}

// FormatBill24Date writes a time or a date string as Bill24 wants it:
// "YYYY-MM-DD HH:mm:ss" in Phnom Penh time. An empty string stays empty.
func FormatBill24Date(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case time.Time:
		return v.In(PhnomPenh).Format(Bill24DateLayout), nil
	case string:
		if v == "" {
			return "", nil
		}
		t, err := ParseDate(v, PhnomPenh)
		if err != nil {
			return "", err
		}
		return t.In(PhnomPenh).Format(Bill24DateLayout), nil
	}
	return "", fmt.Errorf("cannot use %T as a date", v)
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
