package mappings

import (
	"errors"
	"fmt"
	"strings"
	"sync"
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

// Unix milliseconds FromUnixMs accepts: from 2000 to the end of year
// 9999, the range layouts can write back. No payment is older than 2000;
// below it is a mistake: 0 is what a missing field decodes to, and unix
// seconds (1706600000) read as milliseconds would be January 1970.
const (
	minUnixMs = 946684800000    // 2000-01-01T00:00:00Z
	maxUnixMs = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// FromUnixMs reads a unix time in milliseconds, as QM writes its dateTime
// and expiredOn: an integer, an exact Decimal or json.Number that is whole,
// or a string of digits. The time is in UTC. A fraction, a float, zero (a
// missing field), seconds and anything outside years 2000 to 9999 are
// errors: a payment dated 1970 is a mapping mistake, not a date.
func FromUnixMs(v any) (time.Time, error) {
	var d Decimal
	switch v := v.(type) {
	case nil:
		return time.Time{}, fmt.Errorf("no timestamp (nil)")
	case string:
		// Digits only: a legacy system writes timestamps plainly, and
		// "1e3" or "1.5" are not one.
		s := strings.TrimSpace(v)
		if s == "" || len(s) > 20 || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
			return time.Time{}, fmt.Errorf("cannot read %q as unix milliseconds", truncateText(v, 40))
		}
		d, _ = ParseDecimal(s)
	case float32, float64:
		return time.Time{}, fmt.Errorf("unix milliseconds must be a whole number, got a float")
	case time.Time:
		return time.Time{}, fmt.Errorf("from_unix_ms takes unix milliseconds, got a time already")
	default:
		var ok bool
		if d, ok = toDecimal(v); !ok {
			return time.Time{}, fmt.Errorf("cannot use %T as unix milliseconds", v)
		}
	}
	ms, ok := d.Int64()
	if !ok {
		return time.Time{}, fmt.Errorf("unix milliseconds must be a whole number, got %s", truncateText(d.String(), 40))
	}
	switch {
	case ms == 0:
		return time.Time{}, errors.New("no timestamp (0: is the field missing?)")
	case ms > 0 && ms < minUnixMs && ms*1000 >= minUnixMs && ms*1000 <= maxUnixMs:
		return time.Time{}, fmt.Errorf("%d reads as unix seconds, not milliseconds (from_unix_ms(n * 1000) if the field holds seconds)", ms)
	case ms < minUnixMs || ms > maxUnixMs:
		return time.Time{}, fmt.Errorf("%d is not a unix time in milliseconds between 2000 and 9999", ms)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// ToUnixMs is t in unix milliseconds, as QM writes times.
func ToUnixMs(t time.Time) int64 { return t.UnixMilli() }

// zones caches the locations LoadZone found: a mapping may name its zone
// on every call.
var zones sync.Map // string -> *time.Location

// LoadZone reads a time zone as a mapping names it: "UTC" (or "Z"), a
// fixed offset ("+07:00", "-05:30", "+0800") or an IANA name
// ("Asia/Kuala_Lumpur"; Caddy's binary embeds the zone database, so names
// load on any machine).
func LoadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := loadZone(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "UTC", "Z":
		return time.UTC, nil
	case "Asia/Phnom_Penh", "ICT":
		return PhnomPenh, nil
	}
	if name != "" && (name[0] == '+' || name[0] == '-') {
		off, ok := parseOffset(name)
		if !ok {
			return nil, fmt.Errorf("cannot read %q as a UTC offset (want e.g. +08:00)", truncateText(name, 40))
		}
		return time.FixedZone(name, off), nil
	}
	if name == "" || name == "Local" {
		// Local is the server's zone: a config must not depend on where it runs.
		return nil, fmt.Errorf("time zone %q: name one (e.g. Asia/Kuala_Lumpur, +08:00 or UTC)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want e.g. Asia/Kuala_Lumpur, +08:00 or UTC)", truncateText(name, 40))
	}
	return loc, nil
}

// parseOffset reads "+07:00", "+0700" or "+07" (hours 0 to 14, minutes 0
// to 59) as seconds east of UTC.
func parseOffset(s string) (int, bool) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	if len(s) == 5 && s[2] == ':' {
		s = s[:2] + s[3:]
	}
	if len(s) == 2 {
		s += "00"
	}
	if len(s) != 4 {
		return 0, false
	}
	for i := range 4 {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[2]-'0')*10 + int(s[3]-'0')
	if h > 14 || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

// AsTime reads what a gateway or a legacy system sends as a date: a time,
// or text in one of ParseDate's forms (zoneless text is in loc). A number is
// refused with a hint: it is ambiguous between seconds and milliseconds.
func AsTime(v any, loc *time.Location) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		return ParseDate(v, loc)
	case nil:
		return time.Time{}, fmt.Errorf("no date (nil)")
	}
	if isNumber(v) {
		return time.Time{}, fmt.Errorf("cannot use the number %v (%T) as a date: for unix milliseconds (QM's dateTime) use from_unix_ms", v, v)
	}
	return time.Time{}, fmt.Errorf("cannot use %T as a date", v)
}
