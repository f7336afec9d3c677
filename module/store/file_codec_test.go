package store

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func sampleFileRecord() *fileRecord {
	at := time.UnixMilli(1_750_000_000_123)
	return &fileRecord{Record: Record{
		State:       StateDead,
		Owner:       "worker-1",
		Fingerprint: "sha256:ab",
		Response:    Response{Status: 200, ContentType: "application/json; charset=utf-8", Body: []byte(`{"message_kh":"ជោគជ័យ"}`)},
		Ambiguous:   true,
		Attempts:    7,
		CreatedAt:   at,
		UpdatedAt:   at.Add(time.Second),
		LeaseUntil:  at.Add(time.Minute),
		Custody:     true,
		Flow:        "bill24:webhook",
		Payload:     []byte{'{', 0, 0xff, 0xfe, '\n', '"'},
		NextAttempt: at.Add(2 * time.Second),
		History: []Attempt{
			{At: at, Outcome: "legacy_failed", Legacy: 503, Error: "legacy system failed (HTTP 503)"},
			{At: at.Add(time.Second), Outcome: "legacy_refused", Legacy: -1, Error: "សូមអរគុណ"},
		},
		Reason: "rejected: unknown invoice",
	}, expires: at.Add(time.Hour)}
}

func TestFileCodecRoundTrip(t *testing.T) {
	for name, r := range map[string]*fileRecord{
		"everything": sampleFileRecord(),
		"bare":       {Record: Record{State: StateProcessing, Attempts: 1}, expires: time.UnixMilli(1)},
	} {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, r)
		}
		// The decoded record shares nothing with the encoding.
		for i := range b {
			b[i] = 0xAA
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("%s: the decoded record changed with its encoding", name)
		}
	}
}

func TestFileCodecRefuses(t *testing.T) {
	good, err := encodeRecord(sampleFileRecord())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"version 2":     append([]byte{2}, good[1:]...),
		"state 0":       append([]byte{1, good[1], 0}, good[3:]...),
		"state 9":       append([]byte{1, good[1], 9}, good[3:]...),
		"cut short":     good[:len(good)-1],
		"trailing byte": append(bytes.Clone(good), 0),
		// Five times, five strings, status, body, payload: then a history of 2^32-1.
		"huge history":     append([]byte{1, 0, 1, 1}, append(make([]byte, 13), 0xff, 0xff, 0xff, 0xff, 0x0f)...),
		"no history count": append([]byte{1, 0, 1, 1}, make([]byte, 13)...),
	} {
		if r, err := decodeRecord(b); err == nil {
			t.Errorf("%s: decoded %+v", name, r)
		}
	}
	// The smallest record: the layout the two above depart from.
	if r, err := decodeRecord(append([]byte{1, 0, 1, 1}, make([]byte, 14)...)); err != nil || r.State != StateProcessing || r.Attempts != 1 {
		t.Errorf("smallest record = %+v, %v", r, err)
	}
	if _, err := encodeRecord(&fileRecord{Record: Record{State: "lost"}}); err == nil {
		t.Error("a record in an unknown state was encoded")
	}
}

// FuzzFileDecode: the record decoder takes any bytes without panicking,
// and what it accepts encodes back to something that decodes the same.
func FuzzFileDecode(f *testing.F) {
	good, err := encodeRecord(sampleFileRecord())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("re-encode of a decoded record: %v", err)
		}
		r2, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("decode of a re-encoding: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, r2)
		}
	})
}
