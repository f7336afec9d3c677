package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

const (
	longLease  = time.Minute
	shortLease = 200 * time.Millisecond
	retention  = time.Hour
)

func TestMemoryContract(t *testing.T) {
	runContract(t, func(t *testing.T) Store { return NewMemoryBackend() })
}

func TestRedisContract(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	runContract(t, func(t *testing.T) Store {
		return NewRedisBackend(client, testPrefix(t, client))
	})
}

// runContract checks the Store contract (design.md §3) on the stores
// newStore returns; each subtest gets a fresh, empty store.
func runContract(t *testing.T, newStore func(t *testing.T) Store) {
	const key = "bill24:webhook:348b4b16-8f0e-4c1f-9d56-1f6c7f7e2a01"
	okResp := Response{
		Status:      200,
		ContentType: "application/json; charset=utf-8",
		Body:        []byte(`{"status":"Success","message":"SUCCESS"}`),
	}

	mustClaim := func(t *testing.T, s Store, owner, fp string, lease, ret time.Duration, want Outcome) ClaimResult {
		t.Helper()
		res, err := s.Claim(t.Context(), key, owner, fp, lease, ret)
		if err != nil {
			t.Fatalf("Claim(%s): %v", owner, err)
		}
		if res.Outcome != want {
			t.Fatalf("Claim(%s) = %v, want %v (record %+v)", owner, res.Outcome, want, res.Record)
		}
		return res
	}
	mustGet := func(t *testing.T, s Store) Record {
		t.Helper()
		rec, found, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !found {
			t.Fatalf("Get: record not found")
		}
		return rec
	}
	// expireLease lets a lease of shortLease run out.
	expireLease := func() { time.Sleep(shortLease + 150*time.Millisecond) }

	t.Run("first claim", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, found, err := s.Get(t.Context(), key); err != nil || found {
			t.Fatalf("Get on an empty store = found %v, err %v", found, err)
		}
		res := mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		r := res.Record
		if res.Ambiguous || r.Ambiguous {
			t.Errorf("first claim is ambiguous: %+v", res)
		}
		if r.State != StateProcessing || r.Owner != "A" || r.Fingerprint != "fp1" || r.Attempts != 1 {
			t.Errorf("record = %+v", r)
		}
		if r.CreatedAt.IsZero() || r.UpdatedAt.Before(r.CreatedAt) {
			t.Errorf("times: created %v updated %v", r.CreatedAt, r.UpdatedAt)
		}
		if d := r.LeaseUntil.Sub(r.UpdatedAt); d < longLease-time.Second || d > longLease+time.Second {
			t.Errorf("lease runs %v after the update, want about %v", d, longLease)
		}
		if got := mustGet(t, s); got.State != StateProcessing || got.Owner != "A" || got.Attempts != 1 {
			t.Errorf("Get = %+v", got)
		}
		// The claim's record is the stored one.
		if got := mustGet(t, s); !reflect.DeepEqual(got, r) {
			t.Errorf("Claim returned %+v, the store has %+v", r, got)
		}
	})

	t.Run("replay after complete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		if err := s.Complete(t.Context(), key, "A", okResp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		res := mustClaim(t, s, "B", "fp1", longLease, retention, Replay)
		assertResponse(t, res.Record.Response, okResp)
		if res.Record.State != StateDone || res.Record.Owner != "A" || res.Record.Attempts != 1 {
			t.Errorf("record = %+v", res.Record)
		}
		if !res.Record.LeaseUntil.IsZero() {
			t.Errorf("done record has a lease until %v", res.Record.LeaseUntil)
		}
		assertResponse(t, mustGet(t, s).Response, okResp)
	})

	t.Run("in-flight duplicate", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		res := mustClaim(t, s, "B", "fp1", longLease, retention, InFlight)
		if res.Record.Owner != "A" || res.Record.Attempts != 1 || res.Ambiguous {
			t.Errorf("in-flight result = %+v", res)
		}
		// The owner's own retry (e.g. after a network error) still holds the key.
		again := mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		if again.Record.Attempts != 1 || !again.Record.LeaseUntil.Equal(first.Record.LeaseUntil) {
			t.Errorf("retried claim changed the record: %+v, was %+v", again.Record, first.Record)
		}
		if got := mustGet(t, s); !reflect.DeepEqual(got, again.Record) {
			t.Errorf("retried claim returned %+v, the store has %+v", again.Record, got)
		}
	})

	t.Run("conflict in every state", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		check := func(state State) {
			t.Helper()
			before := mustGet(t, s)
			res := mustClaim(t, s, "X", "fp-other", longLease, retention, Conflict)
			if res.Record.State != state || res.Record.Fingerprint != "fp1" || res.Ambiguous {
				t.Errorf("%s: conflict result = %+v", state, res)
			}
			after := mustGet(t, s)
			if after.State != before.State || after.Owner != before.Owner || after.Attempts != before.Attempts || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("%s: conflict changed the record: %+v -> %+v", state, before, after)
			}
		}
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		check(StateProcessing)
		if err := s.Release(t.Context(), key, "A", false, retention); err != nil {
			t.Fatalf("Release: %v", err)
		}
		check(StateReleased)
		mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		if err := s.Complete(t.Context(), key, "B", okResp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		check(StateDone)
	})

	t.Run("conflict on expired lease", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", shortLease, retention, Claimed)
		expireLease()
		mustClaim(t, s, "B", "fp-other", longLease, retention, Conflict)
		if r := mustGet(t, s); r.Owner != "A" || r.Ambiguous || r.Attempts != 1 {
			t.Errorf("conflict took the expired lease over: %+v", r)
		}
	})

	t.Run("release then reclaim", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		if err := s.Release(t.Context(), key, "A", false, retention); err != nil {
			t.Fatalf("Release: %v", err)
		}
		r := mustGet(t, s)
		if r.State != StateReleased || r.Ambiguous || !r.LeaseUntil.IsZero() {
			t.Errorf("released record = %+v", r)
		}
		// A retried release by the same owner is harmless.
		if err := s.Release(t.Context(), key, "A", false, retention); err != nil {
			t.Errorf("second Release by the same owner: %v", err)
		}
		res := mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		if res.Ambiguous || res.Record.Attempts != 2 || res.Record.Owner != "B" || res.Record.State != StateProcessing {
			t.Errorf("reclaim = %+v", res)
		}
		if got := mustGet(t, s); !reflect.DeepEqual(got, res.Record) {
			t.Errorf("reclaim returned %+v, the store has %+v", res.Record, got)
		}
		if err := s.Release(t.Context(), key, "B", false, retention); err != nil {
			t.Fatalf("Release B: %v", err)
		}
		res = mustClaim(t, s, "C", "fp1", longLease, retention, Claimed)
		if res.Record.Attempts != 3 {
			t.Errorf("attempts = %d, want 3", res.Record.Attempts)
		}
	})

	t.Run("ambiguous release is sticky", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		if err := s.Release(t.Context(), key, "A", true, retention); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if r := mustGet(t, s); !r.Ambiguous {
			t.Errorf("ambiguous release not stored: %+v", r)
		}
		res := mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		if !res.Ambiguous || !res.Record.Ambiguous {
			t.Errorf("claim after ambiguous release = %+v", res)
		}
		if err := s.Release(t.Context(), key, "B", false, retention); err != nil {
			t.Fatalf("Release B: %v", err)
		}
		res = mustClaim(t, s, "C", "fp1", longLease, retention, Claimed)
		if !res.Ambiguous || !res.Record.Ambiguous || res.Record.Attempts != 3 {
			t.Errorf("ambiguity lost through a plain release: %+v", res)
		}
		if err := s.Complete(t.Context(), key, "C", okResp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if res := mustClaim(t, s, "D", "fp1", longLease, retention, Replay); res.Ambiguous {
			t.Errorf("replay reports ambiguous: %+v", res)
		}
	})

	t.Run("lease expiry takeover is ambiguous", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", shortLease, retention, Claimed)
		mustClaim(t, s, "B", "fp1", shortLease, retention, InFlight)
		expireLease()
		res := mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		if !res.Ambiguous || !res.Record.Ambiguous || res.Record.Attempts != 2 || res.Record.Owner != "B" {
			t.Errorf("takeover = %+v", res)
		}
		if r := mustGet(t, s); !r.Ambiguous || r.Owner != "B" {
			t.Errorf("takeover not stored as ambiguous: %+v", r)
		}
	})

	t.Run("stale complete after takeover", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", shortLease, retention, Claimed)
		expireLease()
		mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		staleResp := Response{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte("from A")}
		err := s.Complete(t.Context(), key, "A", staleResp, retention)
		if !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrRecordLost) {
			t.Fatalf("stale Complete = %v, want ErrLeaseLost", err)
		}
		r := mustGet(t, s)
		if r.State != StateDone {
			t.Fatalf("stale Complete did not mark done: %+v", r)
		}
		assertResponse(t, r.Response, staleResp)
		// The new owner finds it done: Complete changes nothing, Release is refused.
		if err := s.Complete(t.Context(), key, "B", okResp, retention); err != nil {
			t.Errorf("Complete by B on done = %v, want nil", err)
		}
		if err := s.Release(t.Context(), key, "B", true, retention); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Release by B on done = %v, want ErrLeaseLost", err)
		}
		res := mustClaim(t, s, "C", "fp1", longLease, retention, Replay)
		assertResponse(t, res.Record.Response, staleResp)
	})

	t.Run("stale release changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.Release(t.Context(), key, "A", false, retention); !errors.Is(err, ErrRecordLost) || errors.Is(err, ErrLeaseLost) {
			t.Errorf("Release of an absent key = %v, want ErrRecordLost", err)
		}
		if _, found, _ := s.Get(t.Context(), key); found {
			t.Errorf("Release of an absent key created a record")
		}
		mustClaim(t, s, "A", "fp1", shortLease, retention, Claimed)
		expireLease()
		mustClaim(t, s, "B", "fp1", longLease, retention, Claimed)
		before := mustGet(t, s)
		if err := s.Release(t.Context(), key, "A", true, retention); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale Release = %v, want ErrLeaseLost", err)
		}
		after := mustGet(t, s)
		if after.State != StateProcessing || after.Owner != "B" || after.Attempts != before.Attempts ||
			!after.LeaseUntil.Equal(before.LeaseUntil) || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("stale Release changed the record: %+v -> %+v", before, after)
		}
		mustClaim(t, s, "C", "fp1", longLease, retention, InFlight)
	})

	t.Run("complete on done is a no-op", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		if err := s.Complete(t.Context(), key, "A", okResp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		before := mustGet(t, s)
		time.Sleep(5 * time.Millisecond)
		other := Response{Status: 500, ContentType: "text/plain", Body: []byte("other")}
		for _, owner := range []string{"A", "Z"} {
			if err := s.Complete(t.Context(), key, owner, other, retention); err != nil {
				t.Errorf("second Complete by %s = %v, want nil", owner, err)
			}
		}
		after := mustGet(t, s)
		assertResponse(t, after.Response, okResp)
		if !after.UpdatedAt.Equal(before.UpdatedAt) || after.Owner != "A" {
			t.Errorf("second Complete changed the record: %+v -> %+v", before, after)
		}
	})

	t.Run("complete on a missing record", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		err := s.Complete(t.Context(), key, "A", okResp, retention)
		if !errors.Is(err, ErrRecordLost) || errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Complete of an absent key = %v, want ErrRecordLost", err)
		}
		r := mustGet(t, s)
		if r.State != StateDone || r.Fingerprint != "" {
			t.Errorf("recreated record = %+v", r)
		}
		res := mustClaim(t, s, "B", "any-fp", longLease, retention, Replay)
		assertResponse(t, res.Record.Response, okResp)
	})

	t.Run("retention", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const short = 300 * time.Millisecond
		mustClaim(t, s, "A", "fp1", shortLease, short, Claimed)
		mustGet(t, s)
		time.Sleep(short + 150*time.Millisecond)
		if _, found, err := s.Get(t.Context(), key); err != nil || found {
			t.Fatalf("record still there after its retention: found %v, err %v", found, err)
		}
		// Every write refreshes the retention.
		mustClaim(t, s, "A", "fp1", shortLease, short, Claimed)
		time.Sleep(short / 2)
		if err := s.Complete(t.Context(), key, "A", okResp, 2*time.Second); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		time.Sleep(short)
		assertResponse(t, mustGet(t, s).Response, okResp)
		// After expiry the key is new again.
		if err := s.Complete(t.Context(), "other", "A", okResp, short); !errors.Is(err, ErrRecordLost) {
			t.Fatalf("Complete of an absent key = %v", err)
		}
		time.Sleep(short + 150*time.Millisecond)
		if _, found, err := s.Get(t.Context(), "other"); err != nil || found {
			t.Fatalf("done record still there after its retention: found %v, err %v", found, err)
		}
	})

	t.Run("concurrent claims", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 200
		claimAll := func(round string) map[Outcome]int {
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				counts  = make(map[Outcome]int)
				errs    []error
				release = make(chan struct{})
			)
			for i := range n {
				wg.Go(func() {
					<-release
					res, err := s.Claim(context.Background(), key, fmt.Sprintf("%s-%d", round, i), "fp1", longLease, retention)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					counts[res.Outcome]++
				})
			}
			close(release)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%s: %d claims failed, first: %v", round, len(errs), errs[0])
			}
			return counts
		}
		counts := claimAll("first")
		if counts[Claimed] != 1 || counts[InFlight] != n-1 {
			t.Fatalf("outcomes = %v, want 1 claimed and %d in flight", counts, n-1)
		}
		owner := mustGet(t, s).Owner
		if err := s.Complete(t.Context(), key, owner, okResp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if counts := claimAll("second"); counts[Replay] != n {
			t.Fatalf("outcomes after Complete = %v, want %d replays", counts, n)
		}
	})

	t.Run("khmer and binary bodies", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		binary := make([]byte, 0, 512)
		for i := range 256 {
			binary = append(binary, byte(i))
		}
		binary = append(binary, 0xff, 0xfe, 0x00, 0x00, '\r', '\n', 0xc3) // invalid UTF-8 included
		for i, resp := range []Response{
			{Status: 200, ContentType: "application/json; charset=utf-8", Body: []byte(`{"code":0,"message":"ជោគជ័យ","message_kh":"បានបង់ប្រាក់រួចរាល់ — សូមអរគុណ","data":{"consumer_name":"សុខ សុភា"}}`)},
			{Status: 202, ContentType: "application/octet-stream", Body: binary},
			{Status: 204, ContentType: "", Body: nil},
		} {
			k := fmt.Sprintf("%s:%d", key, i)
			if _, err := s.Claim(t.Context(), k, "A", "fp", longLease, retention); err != nil {
				t.Fatalf("Claim: %v", err)
			}
			if err := s.Complete(t.Context(), k, "A", resp, retention); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			res, err := s.Claim(t.Context(), k, "B", "fp", longLease, retention)
			if err != nil || res.Outcome != Replay {
				t.Fatalf("Claim after Complete = %v, %v", res.Outcome, err)
			}
			assertResponse(t, res.Record.Response, resp)
			rec, _, err := s.Get(t.Context(), k)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			assertResponse(t, rec.Response, resp)
		}
	})

	t.Run("records are copies", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustClaim(t, s, "A", "fp1", longLease, retention, Claimed)
		resp := Response{Status: 200, Body: []byte("original")}
		if err := s.Complete(t.Context(), key, "A", resp, retention); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		copy(resp.Body, "XXXXXXXX")
		got := mustGet(t, s)
		copy(got.Response.Body, "YYYYYYYY")
		if body := mustGet(t, s).Response.Body; string(body) != "original" {
			t.Errorf("stored body = %q, want %q", body, "original")
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		for name, err := range map[string]error{
			"empty key":      first(s.Claim(ctx, "", "A", "fp", longLease, retention)),
			"empty owner":    first(s.Claim(ctx, key, "", "fp", longLease, retention)),
			"zero lease":     first(s.Claim(ctx, key, "A", "fp", 0, retention)),
			"zero retention": first(s.Claim(ctx, key, "A", "fp", longLease, 0)),
			"complete owner": s.Complete(ctx, key, "", okResp, retention),
			"complete ret":   s.Complete(ctx, key, "A", okResp, -time.Second),
			"release key":    s.Release(ctx, "", "A", false, retention),
			"get key":        third(s.Get(ctx, "")),
		} {
			if err == nil || errors.Is(err, ErrLeaseLost) {
				t.Errorf("%s: err = %v, want an argument error", name, err)
			}
		}
		if _, found, _ := s.Get(ctx, key); found {
			t.Errorf("a rejected call created a record")
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if res, err := s.Claim(ctx, key, "A", "fp", longLease, retention); err == nil {
			t.Errorf("Claim with a cancelled context = %v, want an error", res.Outcome)
		}
	})
}

func first(_ ClaimResult, err error) error { return err }

func third(_ Record, _ bool, err error) error { return err }

func assertResponse(t *testing.T, got, want Response) {
	t.Helper()
	if got.Status != want.Status || got.ContentType != want.ContentType || !bytes.Equal(got.Body, want.Body) {
		t.Errorf("response = {%d %q %q}, want {%d %q %q}", got.Status, got.ContentType, got.Body, want.Status, want.ContentType, want.Body)
	}
}
