package store

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemoryQueueContract(t *testing.T) {
	runQueueContract(t, func(t *testing.T) Queue { return NewMemoryBackend() })
}

// runQueueContract checks the Queue contract (custody: deliver queued) on
// the stores newStore returns; each subtest gets a fresh, empty store.
func runQueueContract(t *testing.T, newStore func(t *testing.T) Queue) {
	const flow = "bill24:webhook"
	ack := Response{Status: 200, ContentType: "application/json; charset=utf-8", Body: []byte(`{"status":"Success","message":"SUCCESS"}`)}
	// A payload with Khmer text and every byte value: kept exactly.
	payload := append([]byte(`{"customer_name":"ម៉ៅ សាមន","amount":"45.10"}`), 0, 0xff, '\n', '"')
	entry := func(id string) Entry {
		return Entry{Key: flow + ":" + id, Flow: flow, Fingerprint: "fp-" + id, Payload: payload, Response: ack}
	}
	mustHold := func(t *testing.T, s Queue, e Entry, want Outcome) ClaimResult {
		t.Helper()
		res, err := s.Hold(t.Context(), e, retention)
		if err != nil {
			t.Fatalf("Hold(%s): %v", e.Key, err)
		}
		if res.Outcome != want {
			t.Fatalf("Hold(%s) = %v, want %v (record %+v)", e.Key, res.Outcome, want, res.Record)
		}
		return res
	}
	mustDue := func(t *testing.T, s Queue, owner string, lease time.Duration, want int) []Delivery {
		t.Helper()
		ds, err := s.Due(t.Context(), owner, 100, lease)
		if err != nil {
			t.Fatalf("Due(%s): %v", owner, err)
		}
		if len(ds) != want {
			t.Fatalf("Due(%s) leased %d, want %d: %+v", owner, len(ds), want, ds)
		}
		return ds
	}
	mustGet := func(t *testing.T, s Queue, key string) Record {
		t.Helper()
		rec, found, err := s.Get(t.Context(), key)
		if err != nil || !found {
			t.Fatalf("Get(%s) = found %v, err %v", key, found, err)
		}
		return rec
	}
	failed := Attempt{Outcome: "legacy_failed", Legacy: 503, Error: "legacy system failed (HTTP 503)"}
	posted := Attempt{Outcome: "posted", Legacy: 200}

	t.Run("hold keeps the event and answers its duplicates", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("a")
		res := mustHold(t, s, e, Queued)
		r := res.Record
		if r.State != StateQueued || !r.Custody || r.Flow != flow || r.Attempts != 0 || res.Ambiguous {
			t.Errorf("held record = %+v", r)
		}
		if r.NextAttempt.IsZero() || r.CreatedAt.IsZero() {
			t.Errorf("times: next %v created %v", r.NextAttempt, r.CreatedAt)
		}
		got := mustGet(t, s, e.Key)
		if !bytes.Equal(got.Payload, payload) {
			t.Errorf("payload = %q, want %q", got.Payload, payload)
		}
		assertResponse(t, got.Response, ack)
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Hold returned %+v, the store has %+v", r, got)
		}
		// Every later delivery of it is answered what the first was.
		again := mustHold(t, s, e, Replay)
		assertResponse(t, again.Record.Response, ack)
		c, err := s.Claim(t.Context(), e.Key, "sync", e.Fingerprint, longLease, retention)
		if err != nil || c.Outcome != Replay {
			t.Fatalf("Claim of a held event = %v, %v; want replay", c.Outcome, err)
		}
		other := e
		other.Fingerprint = "another payment"
		mustHold(t, s, other, Conflict)
		if c, _ := s.Claim(t.Context(), e.Key, "sync", "another payment", longLease, retention); c.Outcome != Conflict {
			t.Errorf("Claim with another fingerprint = %v, want conflict", c.Outcome)
		}
	})

	t.Run("hold refuses an entry it could not deliver", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, e := range []Entry{
			{Key: flow + ":x", Flow: flow, Fingerprint: "fp"},                 // no payload
			{Key: "qm:callback:x", Flow: flow, Payload: payload},              // flow is not the key's
			{Key: "", Flow: flow, Payload: payload},                           // no key
			{Key: flow + ":x", Flow: "", Fingerprint: "fp", Payload: payload}, // no flow
		} {
			if _, err := s.Hold(t.Context(), e, retention); err == nil {
				t.Errorf("Hold(%+v) = nil error", e)
			}
		}
	})

	t.Run("hold takes over a released synchronous claim, ambiguity kept", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("b")
		if _, err := s.Claim(t.Context(), e.Key, "A", e.Fingerprint, longLease, retention); err != nil {
			t.Fatal(err)
		}
		mustHold(t, s, e, InFlight) // a live synchronous attempt
		if err := s.Release(t.Context(), e.Key, "A", true, retention); err != nil {
			t.Fatal(err)
		}
		res := mustHold(t, s, e, Queued)
		if !res.Ambiguous || !res.Record.Ambiguous {
			t.Errorf("an uncertain attempt was forgotten: %+v", res)
		}
		if got := mustGet(t, s, e.Key); !reflect.DeepEqual(got, res.Record) || got.Attempts != 1 || got.Owner != "" || !got.LeaseUntil.IsZero() {
			t.Errorf("Hold returned %+v, the store has %+v", res.Record, got)
		}
		ds := mustDue(t, s, "W", longLease, 1)
		if !ds[0].Ambiguous {
			t.Errorf("delivery of an uncertain event is not ambiguous: %+v", ds[0])
		}
	})

	t.Run("hold takes over an expired synchronous lease as ambiguous", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("c")
		if _, err := s.Claim(t.Context(), e.Key, "A", e.Fingerprint, shortLease, retention); err != nil {
			t.Fatal(err)
		}
		time.Sleep(shortLease + 150*time.Millisecond)
		if res := mustHold(t, s, e, Queued); !res.Ambiguous {
			t.Errorf("expired lease not ambiguous: %+v", res)
		}
		// The synchronous attempt ends late: its lease was taken over.
		if err := s.Release(t.Context(), e.Key, "A", false, retention); !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrRecordLost) {
			t.Errorf("late Release = %v, want ErrLeaseLost", err)
		}
		if r := mustGet(t, s, e.Key); r.State != StateQueued {
			t.Errorf("late Release changed the held record: %+v", r)
		}
		if err := s.Complete(t.Context(), e.Key, "A", ack, retention); !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrRecordLost) {
			t.Errorf("late Complete = %v, want ErrLeaseLost", err)
		}
		// It posted after all: done, and no longer to deliver.
		if r := mustGet(t, s, e.Key); r.State != StateDone {
			t.Errorf("a late completion did not mark done: %+v", r)
		}
		mustDue(t, s, "W", longLease, 0)
		if st, err := s.Stats(t.Context()); err != nil || len(st.Count) != 0 {
			t.Errorf("Stats after a late completion = %+v, %v", st, err)
		}
	})

	t.Run("due leases each event once, retry brings it back, delivered ends it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("d")
		mustHold(t, s, e, Queued)
		ds := mustDue(t, s, "W1", longLease, 1)
		d := ds[0]
		if d.Key != e.Key || d.Record.State != StateProcessing || d.Record.Owner != "W1" || d.Record.Attempts != 1 || d.Ambiguous {
			t.Errorf("delivery = %+v", d)
		}
		if !bytes.Equal(d.Record.Payload, payload) {
			t.Errorf("delivery payload = %q", d.Record.Payload)
		}
		if d.Record.Flow != flow || !d.Record.Custody {
			t.Errorf("delivery flow %q custody %v", d.Record.Flow, d.Record.Custody)
		}
		assertResponse(t, d.Record.Response, ack)
		mustDue(t, s, "W2", longLease, 0) // leased: nobody else gets it
		mustHold(t, s, e, Replay)         // a duplicate during delivery
		if c, _ := s.Claim(t.Context(), e.Key, "sync", e.Fingerprint, longLease, retention); c.Outcome != Replay {
			t.Errorf("Claim during delivery = %v, want replay", c.Outcome)
		}
		if err := s.Retry(t.Context(), e.Key, "W2", failed, false, 0, retention); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Retry by a non-owner = %v, want ErrLeaseLost", err)
		}
		if err := s.Retry(t.Context(), e.Key, "W1", failed, true, 0, retention); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		r := mustGet(t, s, e.Key)
		if r.State != StateQueued || !r.Ambiguous || len(r.History) != 1 {
			t.Fatalf("after retry: %+v", r)
		}
		if h := r.History[0]; h.Outcome != failed.Outcome || h.Legacy != 503 || h.Error != failed.Error || h.At.IsZero() {
			t.Errorf("history = %+v", r.History)
		}
		d = mustDue(t, s, "W2", longLease, 1)[0]
		if d.Record.Attempts != 2 || !d.Ambiguous {
			t.Errorf("second delivery = %+v", d)
		}
		if err := s.Delivered(t.Context(), e.Key, "W2", posted, retention); err != nil {
			t.Fatalf("Delivered: %v", err)
		}
		r = mustGet(t, s, e.Key)
		if r.State != StateDone || len(r.History) != 2 || r.History[1].Outcome != "posted" {
			t.Errorf("after delivery: %+v", r)
		}
		if r.Payload != nil {
			t.Errorf("a delivered record keeps its payload (%d bytes) for the retention", len(r.Payload))
		}
		assertResponse(t, r.Response, ack)
		mustDue(t, s, "W3", longLease, 0)
		mustHold(t, s, e, Replay)
		if err := s.Delivered(t.Context(), e.Key, "W2", posted, retention); err != nil {
			t.Errorf("a retried Delivered = %v, want nil", err)
		}
		// Done: no longer listed or counted.
		if p, err := s.List(t.Context(), Filter{}); err != nil || len(p.Items) != 0 {
			t.Errorf("List after delivery = %+v, %v", p, err)
		}
		if st, err := s.Stats(t.Context()); err != nil || len(st.Count) != 0 || !st.OldestQueued.IsZero() {
			t.Errorf("Stats after delivery = %+v, %v", st, err)
		}
	})

	t.Run("retry waits for its delay", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("e")
		mustHold(t, s, e, Queued)
		d := mustDue(t, s, "W", longLease, 1)[0]
		if err := s.Retry(t.Context(), d.Key, "W", failed, false, 400*time.Millisecond, retention); err != nil {
			t.Fatal(err)
		}
		r := mustGet(t, s, e.Key)
		if !r.NextAttempt.After(r.UpdatedAt) {
			t.Errorf("next attempt %v is not after the retry at %v", r.NextAttempt, r.UpdatedAt)
		}
		mustDue(t, s, "W", longLease, 0)
		time.Sleep(600 * time.Millisecond)
		mustDue(t, s, "W", longLease, 1)
	})

	t.Run("a worker that dies mid-delivery is taken over as ambiguous", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("f")
		mustHold(t, s, e, Queued)
		mustDue(t, s, "dead-worker", shortLease, 1)
		mustDue(t, s, "W", longLease, 0)
		time.Sleep(shortLease + 150*time.Millisecond)
		d := mustDue(t, s, "W", longLease, 1)[0]
		if !d.Ambiguous || d.Record.Attempts != 2 || d.Record.Owner != "W" {
			t.Errorf("takeover = %+v", d)
		}
		if err := s.Delivered(t.Context(), e.Key, "dead-worker", posted, retention); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Delivered by the lost owner = %v, want ErrLeaseLost", err)
		}
		if r := mustGet(t, s, e.Key); r.State != StateDone {
			t.Errorf("a delivery the legacy system has is not done: %+v", r)
		}
	})

	t.Run("bury, redeliver, discard", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("g")
		mustHold(t, s, e, Queued)
		d := mustDue(t, s, "W", longLease, 1)[0]
		rejected := Attempt{Outcome: "legacy_refused", Legacy: 400, Error: "unknown invoice"}
		if err := s.Bury(t.Context(), d.Key, "W", rejected, false, "rejected: unknown invoice", retention); err != nil {
			t.Fatal(err)
		}
		r := mustGet(t, s, e.Key)
		if r.State != StateDead || r.Reason != "rejected: unknown invoice" || len(r.History) != 1 {
			t.Errorf("dead record = %+v", r)
		}
		mustDue(t, s, "W", longLease, 0)
		mustHold(t, s, e, Replay) // the gateway was told; it stays told
		r, err := s.Redeliver(t.Context(), e.Key, retention)
		if err != nil || r.State != StateQueued || r.Reason != "" {
			t.Fatalf("Redeliver = %+v, %v", r, err)
		}
		d = mustDue(t, s, "W", longLease, 1)[0]
		if d.Record.Attempts != 2 {
			t.Errorf("redelivery attempts = %d, want 2", d.Record.Attempts)
		}
		if _, err := s.Redeliver(t.Context(), e.Key, retention); !errors.Is(err, ErrWrongState) {
			t.Errorf("Redeliver during delivery = %v, want ErrWrongState", err)
		}
		if _, err := s.Discard(t.Context(), e.Key, "x", retention); !errors.Is(err, ErrWrongState) {
			t.Errorf("Discard during delivery = %v, want ErrWrongState", err)
		}
		if err := s.Retry(t.Context(), d.Key, "W", failed, false, time.Hour, retention); err != nil {
			t.Fatal(err)
		}
		r, err = s.Discard(t.Context(), e.Key, "paid by cheque; booked by hand", retention)
		if err != nil || r.State != StateDiscarded || r.Reason != "paid by cheque; booked by hand" {
			t.Fatalf("Discard = %+v, %v", r, err)
		}
		mustDue(t, s, "W", longLease, 0)
		mustHold(t, s, e, Replay)
		if _, err := s.Redeliver(t.Context(), e.Key, retention); !errors.Is(err, ErrWrongState) {
			t.Errorf("Redeliver of a discarded record = %v, want ErrWrongState", err)
		}
		if _, err := s.Redeliver(t.Context(), flow+":never", retention); !errors.Is(err, ErrNotFound) {
			t.Errorf("Redeliver of a missing record = %v, want ErrNotFound", err)
		}
		if _, err := s.Discard(t.Context(), flow+":never", "x", retention); !errors.Is(err, ErrNotFound) {
			t.Errorf("Discard of a missing record = %v, want ErrNotFound", err)
		}
	})

	t.Run("redeliver needs a payload and refuses a done record", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		key := flow + ":sync"
		if _, err := s.Claim(t.Context(), key, "A", "fp", longLease, retention); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(t.Context(), key, "A", false, retention); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Redeliver(t.Context(), key, retention); !errors.Is(err, ErrNoPayload) {
			t.Errorf("Redeliver of a synchronous record = %v, want ErrNoPayload", err)
		}
		e := entry("h")
		mustHold(t, s, e, Queued)
		d := mustDue(t, s, "W", longLease, 1)[0]
		if err := s.Delivered(t.Context(), d.Key, "W", posted, retention); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Redeliver(t.Context(), e.Key, retention); !errors.Is(err, ErrWrongState) {
			t.Errorf("Redeliver of a done record = %v, want ErrWrongState", err)
		}
		if _, err := s.Discard(t.Context(), e.Key, "x", retention); !errors.Is(err, ErrWrongState) {
			t.Errorf("Discard of a done record = %v, want ErrWrongState", err)
		}
	})

	t.Run("history keeps the latest attempts, errors bounded", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("i")
		mustHold(t, s, e, Queued)
		long := strings.Repeat("ក", MaxAttemptError) // 3 bytes a rune
		for i := range MaxHistory + 5 {
			d := mustDue(t, s, "W", longLease, 1)[0]
			a := Attempt{Outcome: "legacy_failed", Legacy: 500 + i, Error: long}
			if err := s.Retry(t.Context(), d.Key, "W", a, false, 0, retention); err != nil {
				t.Fatal(err)
			}
		}
		r := mustGet(t, s, e.Key)
		if len(r.History) != MaxHistory || r.History[0].Legacy != 505 || r.History[MaxHistory-1].Legacy != 500+MaxHistory+4 {
			t.Fatalf("history of %d: first %+v", len(r.History), r.History[0])
		}
		if h := r.History[0].Error; len(h) > MaxAttemptError || !strings.HasPrefix(long, h) || h == "" {
			t.Errorf("error kept as %d bytes, not a rune-safe prefix", len(h))
		}
		if r.Attempts != MaxHistory+5 {
			t.Errorf("attempts = %d", r.Attempts)
		}
	})

	t.Run("due leases at most max, oldest first", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var keys []string
		for i := range 5 {
			e := entry(fmt.Sprintf("m%d", i))
			mustHold(t, s, e, Queued)
			keys = append(keys, e.Key)
			time.Sleep(3 * time.Millisecond) // distinct due times
		}
		ds, err := s.Due(t.Context(), "W", 2, longLease)
		if err != nil || len(ds) != 2 {
			t.Fatalf("Due(max 2) = %d deliveries, %v", len(ds), err)
		}
		if ds[0].Key != keys[0] || ds[1].Key != keys[1] {
			t.Errorf("Due(max 2) leased %s, %s; want the oldest two, oldest first: %v", ds[0].Key, ds[1].Key, keys[:2])
		}
		ds = mustDue(t, s, "W", longLease, 3)
		for i, d := range ds {
			if d.Key != keys[2+i] {
				t.Errorf("delivery %d is %s, want %s (oldest due first)", i, d.Key, keys[2+i])
			}
		}
	})

	t.Run("concurrent workers lease each event once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 60
		for i := range n {
			mustHold(t, s, entry(fmt.Sprintf("w%02d", i)), Queued)
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("W%d", w)
				for range 20 {
					ds, err := s.Due(t.Context(), owner, 7, longLease)
					if err != nil {
						t.Error(err)
						return
					}
					for _, d := range ds {
						mu.Lock()
						got[d.Key]++
						mu.Unlock()
						if err := s.Delivered(t.Context(), d.Key, owner, posted, retention); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if len(got) != n {
			t.Errorf("%d of %d events delivered", len(got), n)
		}
		for k, c := range got {
			if c != 1 {
				t.Errorf("%s leased %d times", k, c)
			}
		}
	})

	t.Run("concurrent holds of one event take it once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		e := entry("storm")
		const n = 50
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			counts = map[Outcome]int{}
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				res, err := s.Hold(t.Context(), e, retention)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[res.Outcome]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if counts[Queued] != 1 || counts[Replay] != n-1 {
			t.Fatalf("outcomes = %v, want 1 queued and %d replays", counts, n-1)
		}
		mustDue(t, s, "W", longLease, 1)
	})

	t.Run("expired records leave due, list and stats at once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const short = 300 * time.Millisecond
		for _, id := range []string{"x1", "x2"} {
			if _, err := s.Hold(t.Context(), entry(id), short); err != nil {
				t.Fatal(err)
			}
		}
		dead := entry("x3")
		mustHold(t, s, dead, Queued)
		d := mustDue(t, s, "W", longLease, 3)
		for _, d := range d {
			switch d.Key {
			case dead.Key:
				// Buried with a short retention: it expires dead.
				if err := s.Bury(t.Context(), d.Key, "W", failed, false, "x", short); err != nil {
					t.Fatal(err)
				}
			case entry("x1").Key:
				if err := s.Retry(t.Context(), d.Key, "W", failed, false, 0, short); err != nil {
					t.Fatal(err)
				}
			}
		}
		kept := entry("kept")
		mustHold(t, s, kept, Queued)
		time.Sleep(short + 150*time.Millisecond)

		for _, id := range []string{"x1", "x2", "x3"} {
			if _, found, err := s.Get(t.Context(), entry(id).Key); err != nil || found {
				t.Errorf("Get(%s) after its retention = found %v, err %v", id, found, err)
			}
		}
		p, err := s.List(t.Context(), Filter{})
		if err != nil || len(p.Items) != 1 || p.Items[0].Key != kept.Key {
			t.Errorf("List after expiry = %+v, %v; want only %s", p.Items, err, kept.Key)
		}
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c := st.Count[flow]; len(c) != 1 || c[StateQueued] != 1 {
			t.Errorf("counts after expiry = %v, want 1 queued", st.Count)
		}
		keptRec := mustGet(t, s, kept.Key)
		if !st.OldestQueued.Equal(keptRec.CreatedAt) {
			t.Errorf("oldest queued %v, want the kept record's %v", st.OldestQueued, keptRec.CreatedAt)
		}
		ds := mustDue(t, s, "W2", longLease, 1)
		if ds[0].Key != kept.Key {
			t.Errorf("Due after expiry leased %s", ds[0].Key)
		}
		// An expired key is new again.
		mustHold(t, s, entry("x2"), Queued)
	})

	t.Run("list pages newest first, by state and flow; stats count", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var keys []string
		for i := range 7 {
			e := entry(fmt.Sprintf("l%d", i))
			mustHold(t, s, e, Queued)
			keys = append(keys, e.Key)
			time.Sleep(3 * time.Millisecond) // distinct times, in every store's clock
		}
		qe := Entry{Key: "qm:callback:B1", Flow: "qm:callback", Fingerprint: "q", Payload: payload, Response: ack}
		mustHold(t, s, qe, Queued)
		// One of the bill24 ones dies; a synchronous record is never listed.
		if _, err := s.Claim(t.Context(), flow+":sync", "A", "fp", longLease, retention); err != nil {
			t.Fatal(err)
		}
		ds, err := s.Due(t.Context(), "W", 100, longLease)
		if err != nil || len(ds) != 8 {
			t.Fatalf("Due = %d, %v", len(ds), err)
		}
		for _, d := range ds {
			var err error
			switch d.Key {
			case keys[2]:
				err = s.Bury(t.Context(), d.Key, "W", failed, false, "schedule ran out", retention)
			default:
				err = s.Retry(t.Context(), d.Key, "W", failed, false, time.Hour, retention)
			}
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond)
		}

		var seen []string
		f := Filter{Flow: flow, Limit: 3}
		for page := 0; ; page++ {
			p, err := s.List(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				seen = append(seen, it.Key)
				if it.Record.Flow != flow {
					t.Errorf("listed %s of flow %q", it.Key, it.Record.Flow)
				}
			}
			if p.Next == "" {
				break
			}
			if page > 5 {
				t.Fatal("list does not end")
			}
			f.After = p.Next
		}
		if len(seen) != 7 {
			t.Fatalf("listed %v, want the 7 bill24 records", seen)
		}
		for i := 1; i < len(seen); i++ {
			a, _, _ := s.Get(t.Context(), seen[i-1])
			b, _, _ := s.Get(t.Context(), seen[i])
			if a.UpdatedAt.Before(b.UpdatedAt) {
				t.Errorf("not newest first: %s (%v) before %s (%v)", seen[i-1], a.UpdatedAt, seen[i], b.UpdatedAt)
			}
		}
		dead, err := s.List(t.Context(), Filter{State: StateDead})
		if err != nil || len(dead.Items) != 1 || dead.Items[0].Key != keys[2] || dead.Items[0].Record.Reason != "schedule ran out" {
			t.Errorf("dead list = %+v, %v", dead, err)
		}
		if _, err := s.List(t.Context(), Filter{State: StateDone}); err == nil {
			t.Error("listing done records is not refused")
		}
		if _, err := s.List(t.Context(), Filter{After: "garbage"}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("List with a bad cursor = %v, want ErrBadCursor", err)
		}

		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c := st.Count[flow]; c[StateQueued] != 6 || c[StateDead] != 1 || c[StateProcessing] != 0 {
			t.Errorf("bill24 counts = %v", c)
		}
		if c := st.Count["qm:callback"]; c[StateQueued] != 1 {
			t.Errorf("qm counts = %v", c)
		}
		first := mustGet(t, s, keys[0])
		if st.OldestQueued.IsZero() || st.OldestQueued.After(first.CreatedAt) {
			t.Errorf("oldest queued %v, the first was created %v", st.OldestQueued, first.CreatedAt)
		}
	})
}
