package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// instances returns n stores on one Redis, each with its own client (n
// Caddy instances sharing the queue), under one prefix.
func instances(t *testing.T, n int) []*RedisBackend {
	t.Helper()
	addr := testRedisAddr(t)
	prefix := testPrefix(t, newTestClient(t, addr))
	var out []*RedisBackend
	for range n {
		out = append(out, NewRedisBackend(newTestClient(t, addr), prefix))
	}
	return out
}

// holdEvents holds n events of flow bill24:webhook on s and returns
// their keys.
func holdEvents(t *testing.T, s Queue, n int, ret time.Duration) []string {
	t.Helper()
	var keys []string
	for i := range n {
		e := Entry{Key: fmt.Sprintf("bill24:webhook:%04d", i), Flow: "bill24:webhook", Fingerprint: "fp",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), Response: Response{Status: 200}}
		if res, err := s.Hold(t.Context(), e, ret); err != nil || res.Outcome != Queued {
			t.Fatalf("Hold %s = %v, %v", e.Key, res.Outcome, err)
		}
		keys = append(keys, e.Key)
	}
	return keys
}

// deliveries counts who delivered what.
type deliveries struct {
	mu   sync.Mutex
	by   map[string][]string // key -> owners that delivered it
	seen map[string]Delivery // key -> the delivery that was settled
}

func (d *deliveries) add(owner string, dv Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.by == nil {
		d.by, d.seen = map[string][]string{}, map[string]Delivery{}
	}
	d.by[dv.Key] = append(d.by[dv.Key], owner)
	d.seen[dv.Key] = dv
}

func (d *deliveries) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.by)
}

// work runs a Due/Delivered loop as owner until want keys are delivered
// or ctx ends.
func work(ctx context.Context, t *testing.T, s Queue, owner string, lease time.Duration, d *deliveries, want int) {
	for ctx.Err() == nil && d.count() < want {
		ds, err := s.Due(ctx, owner, 7, lease)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("%s: Due: %v", owner, err)
			}
			return
		}
		if len(ds) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, dv := range ds {
			if err := s.Delivered(ctx, dv.Key, owner, Attempt{Outcome: "posted", Legacy: 200}, time.Hour); err != nil {
				t.Errorf("%s: Delivered %s: %v", owner, dv.Key, err)
			}
			d.add(owner, dv)
		}
	}
}

// TestRedisQueueThreeInstances: three instances, each with two workers,
// drain 300 held events; each is delivered exactly once, and all of them
// are done.
func TestRedisQueueThreeInstances(t *testing.T) {
	ss := instances(t, 3)
	keys := holdEvents(t, ss[0], 300, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var d deliveries
	var wg sync.WaitGroup
	for i, s := range ss {
		for w := range 2 {
			wg.Go(func() { work(ctx, t, s, fmt.Sprintf("i%d-w%d", i, w), time.Minute, &d, len(keys)) })
		}
	}
	wg.Wait()
	perInstance := map[string]int{}
	for _, k := range keys {
		owners := d.by[k]
		if len(owners) != 1 {
			t.Errorf("%s delivered by %v, want exactly one", k, owners)
			continue
		}
		perInstance[owners[0][:2]]++
		if dv := d.seen[k]; dv.Ambiguous || dv.Record.Attempts != 1 {
			t.Errorf("%s: a first delivery is ambiguous %v, attempt %d", k, dv.Ambiguous, dv.Record.Attempts)
		}
		if rec, _, err := ss[1].Get(t.Context(), k); err != nil || rec.State != StateDone {
			t.Errorf("%s: %s, %v", k, rec.State, err)
		}
	}
	t.Logf("deliveries per instance: %v", perInstance)
	if len(perInstance) != 3 {
		t.Errorf("only instances %v delivered", perInstance)
	}
	if st, err := ss[2].Stats(t.Context()); err != nil || len(st.Count) != 0 {
		t.Errorf("Stats after the drain = %+v, %v", st, err)
	}
}

// TestRedisQueueKilledInstance: one of three instances leases events and
// dies without settling them; once their leases run out the others take
// them over as ambiguous (the dead one may have posted), and deliver
// every event exactly once. The dead instance, were it to wake, has
// lost its leases.
func TestRedisQueueKilledInstance(t *testing.T) {
	ss := instances(t, 3)
	keys := holdEvents(t, ss[0], 300, time.Hour)
	const deadLease = 500 * time.Millisecond
	killed := map[string]Delivery{}
	for len(killed) < 30 {
		ds, err := ss[0].Due(t.Context(), "killed", 10, deadLease)
		if err != nil || len(ds) == 0 {
			t.Fatalf("Due by the instance to kill = %d, %v", len(ds), err)
		}
		for _, dv := range ds {
			killed[dv.Key] = dv
		}
	}
	leasedAt := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var d deliveries
	var wg sync.WaitGroup
	for i, s := range ss[1:] {
		for w := range 2 {
			wg.Go(func() { work(ctx, t, s, fmt.Sprintf("i%d-w%d", i+1, w), time.Minute, &d, len(keys)) })
		}
	}
	wg.Wait()
	for _, k := range keys {
		owners := d.by[k]
		if len(owners) != 1 {
			t.Errorf("%s delivered by %v, want exactly one", k, owners)
			continue
		}
		dv := d.seen[k]
		_, wasKilled := killed[k]
		if dv.Ambiguous != wasKilled || dv.Record.Attempts != 1+btoi(wasKilled) {
			t.Errorf("%s (leased by the dead instance: %v) delivered ambiguous %v, attempt %d", k, wasKilled, dv.Ambiguous, dv.Record.Attempts)
		}
		if wasKilled && dv.Record.UpdatedAt.Before(leasedAt.Add(deadLease-100*time.Millisecond)) {
			t.Errorf("%s taken over at %v, before the lease of %v from %v ran out", k, dv.Record.UpdatedAt, deadLease, leasedAt)
		}
	}
	// The dead instance wakes: its attempts are over, the records keep
	// their delivery.
	for k := range killed {
		if err := ss[0].Retry(t.Context(), k, "killed", Attempt{Outcome: "legacy_failed"}, true, 0, time.Hour); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("the dead instance's Retry of %s = %v, want ErrLeaseLost", k, err)
		}
		if rec, _, _ := ss[0].Get(t.Context(), k); rec.State != StateDone || rec.Owner != d.by[k][0] {
			t.Errorf("%s after the dead instance woke: %s by %s", k, rec.State, rec.Owner)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRedisQueueExpiry: records in custody that reach their retention
// leave List, Stats and the indexes (Redis expired the hash; nothing
// told the indexes), and a key held again after that is counted once.
func TestRedisQueueExpiry(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	prefix := testPrefix(t, client)
	s := NewRedisBackend(client, prefix)
	ctx := t.Context()
	const short = 500 * time.Millisecond
	keys := holdEvents(t, s, 20, short)
	lived := Entry{Key: "qm:callback:kept", Flow: "qm:callback", Fingerprint: "fp", Payload: []byte("x")}
	if _, err := s.Hold(ctx, lived, time.Hour); err != nil {
		t.Fatal(err)
	}
	keep, _, _ := s.Get(ctx, lived.Key)
	// Some are being delivered, some dead, when they expire.
	ds, err := s.Due(ctx, "W", 10, time.Minute)
	if err != nil || len(ds) != 10 {
		t.Fatalf("Due = %d, %v", len(ds), err)
	}
	for _, dv := range ds[:3] {
		if dv.Key == lived.Key {
			continue
		}
		if err := s.Bury(ctx, dv.Key, "W", Attempt{Outcome: "legacy_refused"}, false, "refused", short); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Count["bill24:webhook"]; c[StateQueued]+c[StateProcessing]+c[StateDead] != 20 {
		t.Fatalf("counts before expiry = %v", st.Count)
	}
	time.Sleep(short + 300*time.Millisecond)

	// Due skips (and drops) what is gone.
	if ds, err := s.Due(ctx, "W2", 100, time.Minute); err != nil || len(ds) > 1 {
		t.Errorf("Due after expiry = %d deliveries, %v", len(ds), err)
	}
	p, err := s.List(ctx, Filter{})
	if err != nil || len(p.Items) != 1 || p.Items[0].Key != lived.Key {
		t.Errorf("List after expiry = %+v, %v", p, err)
	}
	// Stats forgets them, here one at a time (each shard is asked again
	// while it has more), before it counts.
	defer func(n int) { statsTrim = n }(statsTrim)
	statsTrim = 1
	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Count) != 1 || st.Count["qm:callback"][StateQueued]+st.Count["qm:callback"][StateProcessing] != 1 || !st.OldestQueued.Equal(keep.CreatedAt) {
		t.Errorf("Stats after expiry = %+v, want only %s (created %v)", st, lived.Key, keep.CreatedAt)
	}
	// Nothing is left of the expired records in any index.
	for i := range redisShards {
		qb := queueBase(prefix, i)
		keys, err := client.Keys(ctx, qb+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k == qb+"flows" {
				continue
			}
			members, _ := client.ZRange(ctx, k, 0, -1).Result()
			for _, m := range members {
				if m != lived.Key {
					t.Errorf("%s still names %s", k, m)
				}
			}
		}
	}
	// An expired key held again is one record, counted once.
	if res, err := s.Hold(ctx, Entry{Key: keys[0], Flow: "bill24:webhook", Fingerprint: "fp2", Payload: []byte("y")}, time.Hour); err != nil || res.Outcome != Queued || res.Record.Attempts != 0 {
		t.Fatalf("Hold of an expired key = %+v, %v", res, err)
	}
	st, _ = s.Stats(ctx)
	if c := st.Count["bill24:webhook"]; c[StateQueued] != 1 || len(c) != 1 {
		t.Errorf("counts after holding %s again = %v", keys[0], c)
	}
}
