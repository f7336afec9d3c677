package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The file store's record encoding: binary, because the payload and the
// response body are arbitrary bytes, and compact, because every record is
// rewritten on every transition. Version 1 is:
//
//	version  byte (1)
//	flags    byte (custody, ambiguous)
//	state    byte (fileStates)
//	attempts uvarint
//	created, updated, lease_until, next_attempt, expires
//	         varint unix ms each (0: zero time)
//	owner, fingerprint, flow, reason, content_type
//	         uvarint length + bytes each
//	status   varint
//	body, payload
//	         uvarint length + bytes each
//	history  uvarint count, then per attempt: at varint ms,
//	         outcome bytes, legacy varint, error bytes
//
// Nothing may follow. Decoding refuses anything else, so a damaged record
// is reported rather than misread.

const fileCodecVersion = 1

const (
	flagCustody = 1 << iota
	flagAmbiguous
)

// fileStates numbers the states in the encoding; the order is fixed.
var fileStates = [...]State{StateProcessing, StateReleased, StateDone, StateQueued, StateDead, StateDiscarded}

// fileRecord is a stored record: the record and when it expires.
type fileRecord struct {
	Record
	expires time.Time
}

var errCodec = errors.New("malformed record")

// encodeRecord returns r's encoding in a new slice (bbolt keeps the slice
// until the transaction commits, so it is never reused).
func encodeRecord(r *fileRecord) ([]byte, error) {
	code := stateCode(r.State)
	if code == 0 {
		return nil, errors.New("unknown state " + string(r.State))
	}
	n := 64 + len(r.Owner) + len(r.Fingerprint) + len(r.Flow) + len(r.Reason) +
		len(r.Response.ContentType) + len(r.Response.Body) + len(r.Payload)
	for _, a := range r.History {
		n += 24 + len(a.Outcome) + len(a.Error)
	}
	b := make([]byte, 0, n)
	var flags byte
	if r.Custody {
		flags |= flagCustody
	}
	if r.Ambiguous {
		flags |= flagAmbiguous
	}
	b = append(b, fileCodecVersion, flags, code)
	b = binary.AppendUvarint(b, uint64(max(r.Attempts, 0)))
	for _, t := range []time.Time{r.CreatedAt, r.UpdatedAt, r.LeaseUntil, r.NextAttempt, r.expires} {
		b = binary.AppendVarint(b, unixMilli(t))
	}
	for _, s := range []string{r.Owner, r.Fingerprint, r.Flow, r.Reason, r.Response.ContentType} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(r.Response.Status))
	b = appendBytes(b, r.Response.Body)
	b = appendBytes(b, r.Payload)
	b = binary.AppendUvarint(b, uint64(len(r.History)))
	for _, a := range r.History {
		b = binary.AppendVarint(b, unixMilli(a.At))
		b = appendString(b, a.Outcome)
		b = binary.AppendVarint(b, int64(a.Legacy))
		b = appendString(b, a.Error)
	}
	return b, nil
}

// decodeRecord reads an encoding. The record shares no memory with b
// (bbolt's memory is only valid inside the transaction).
func decodeRecord(b []byte) (*fileRecord, error) {
	d := decoder{b: b}
	if v := d.byte(); v != fileCodecVersion && d.err == nil {
		return nil, errors.New("unknown record version")
	}
	flags := d.byte()
	code := d.byte()
	r := &fileRecord{}
	if d.err == nil {
		if code == 0 || int(code) > len(fileStates) {
			return nil, errors.New("unknown state code")
		}
		r.State = fileStates[code-1]
	}
	r.Custody = flags&flagCustody != 0
	r.Ambiguous = flags&flagAmbiguous != 0
	r.Attempts = d.int()
	r.CreatedAt = d.time()
	r.UpdatedAt = d.time()
	r.LeaseUntil = d.time()
	r.NextAttempt = d.time()
	r.expires = d.time()
	r.Owner = d.string()
	r.Fingerprint = d.string()
	r.Flow = d.string()
	r.Reason = d.string()
	r.Response.ContentType = d.string()
	r.Response.Status = d.signed()
	r.Response.Body = cloneBytes(d.bytes())
	r.Payload = cloneBytes(d.bytes())
	// Every attempt takes at least four bytes: a count beyond that is a lie.
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b))/4 {
			return nil, errCodec
		}
		r.History = make([]Attempt, n)
		for i := range r.History {
			r.History[i] = Attempt{At: d.time(), Outcome: d.string(), Legacy: d.signed(), Error: d.string()}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return r, nil
}

func stateCode(s State) byte {
	for i, st := range fileStates {
		if st == s {
			return byte(i + 1)
		}
	}
	return 0
}

// unixMilli is t in unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMilli is the inverse of unixMilli.
func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads an encoding; the first error sticks and the reads after
// it return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCodec
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int reads a count that must fit an int32.
func (d *decoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(v)
}

// signed reads a signed number that must fit an int32.
func (d *decoder) signed() int {
	v := d.varint()
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) time() time.Time {
	return fromMilli(d.varint())
}

// bytes returns the next length-prefixed field, sharing d's memory.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	return string(d.bytes())
}
