package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// recordFields are the hash fields of a record, in the order parseRecord
// reads them (and the scripts' rec() returns them). Times are unix
// milliseconds of the Redis server's clock; a field that is absent is
// empty (0 for numbers). The first eleven are those of every record
// (a claim writes state, owner, fp, amb, attempts, created, updated and
// lease_until; the response comes with the completion); the rest are
// custody's:
//
//	custody  "1" for a record in custody
//	flow     Entry.Flow
//	payload  Entry.Payload, bytes as given
//	next     when a queued record is due
//	hist     the latest MaxHistory attempts, oldest first, one JSON
//	         object a line: {"at":ms,"outcome":…,"legacy":…,"error":…}
//	reason   why the record is dead or discarded
var recordFields = []string{
	"state", "owner", "fp", "status", "ctype", "body", "amb", "attempts", "created", "updated", "lease_until",
	"custody", "flow", "payload", "next", "hist", "reason",
}

// luaRecordFields is recordFields as a Lua argument list.
var luaRecordFields = "'" + strings.Join(recordFields, "', '") + "'"

// parseRecord reads the values of recordFields; found is false if the
// record has no state (it does not exist).
func parseRecord(key string, v []any) (rec Record, found bool, err error) {
	if len(v) != len(recordFields) {
		return Record{}, false, &corruptError{key: key, what: fmt.Sprintf("%d fields", len(v))}
	}
	str := func(i int) string {
		s, _ := v[i].(string)
		return s
	}
	num := func(i int) int64 {
		if err != nil {
			return 0
		}
		s := str(i)
		if s == "" {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			err = &corruptError{key: key, what: fmt.Sprintf("field %s: %q", recordFields[i], s)}
		}
		return n
	}
	millisTime := func(i int) time.Time { return msTime(num(i)) }
	if v[0] == nil {
		return Record{}, false, nil
	}
	rec = Record{
		State:       State(str(0)),
		Owner:       str(1),
		Fingerprint: str(2),
		Response: Response{
			Status:      int(num(3)),
			ContentType: str(4),
			Body:        bytesOrNil(str(5)),
		},
		Ambiguous:   str(6) == "1",
		Attempts:    int(num(7)),
		CreatedAt:   millisTime(8),
		UpdatedAt:   millisTime(9),
		LeaseUntil:  millisTime(10),
		Custody:     str(11) == "1",
		Flow:        str(12),
		Payload:     bytesOrNil(str(13)),
		NextAttempt: millisTime(14),
		Reason:      str(16),
	}
	if err != nil {
		return Record{}, false, err
	}
	if rec.History, err = parseHistory(str(15)); err != nil {
		return Record{}, false, &corruptError{key: key, what: err.Error()}
	}
	return rec, true, nil
}

// msTime is the time of unix milliseconds n; 0 is the zero time.
func msTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// storedAttempt is a line of the hist field.
type storedAttempt struct {
	At      int64  `json:"at"`
	Outcome string `json:"outcome"`
	Legacy  int    `json:"legacy,omitempty"`
	Error   string `json:"error,omitempty"`
}

// attemptTail encodes a for the hist field without its time, which only
// the script knows: the JSON object without its opening brace, to which
// the script prepends {"at":<now>,. The error is clipped first.
func attemptTail(a Attempt) []byte {
	a = clip(a)
	line, _ := json.Marshal(struct { // strings and an int: Marshal cannot fail
		Outcome string `json:"outcome"`
		Legacy  int    `json:"legacy,omitempty"`
		Error   string `json:"error,omitempty"`
	}{a.Outcome, a.Legacy, a.Error})
	return line[1:]
}

// parseHistory reads the hist field.
func parseHistory(s string) ([]Attempt, error) {
	if s == "" {
		return nil, nil
	}
	var out []Attempt
	for line := range bytes.SplitSeq([]byte(s), []byte{'\n'}) {
		var a storedAttempt
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("history line %q: %w", line, err)
		}
		out = append(out, Attempt{At: msTime(a.At), Outcome: a.Outcome, Legacy: a.Legacy, Error: a.Error})
	}
	return out, nil
}
