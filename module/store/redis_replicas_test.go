package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// startPair starts a master and a replica of it, synced.
func startPair(t testing.TB) (master, replica *redistest.Server) {
	t.Helper()
	master = startRedisServer(t)
	replica = redistest.StartWith(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()), "--enable-debug-command", "local")
	raw := newTestClient(t, master.Addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := raw.Info(t.Context(), "replication").Result()
		if err == nil && infoInt(info, "connected_slaves") == 1 && infoField(info, "slave0") != "" &&
			strings.Contains(infoField(info, "slave0"), "state=online") {
			return master, replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync: %q, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sleepReplica blocks the replica's event loop for d (DEBUG SLEEP), so it
// cannot acknowledge anything; it returns once the replica is asleep.
func sleepReplica(t *testing.T, addr string, d time.Duration) <-chan struct{} {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: d + 5*time.Second})
	done := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		defer close(done)
		defer func() { _ = c.Close() }()
		if err := c.Do(context.Background(), "DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err(); err != nil {
			failed <- err
		}
	}()
	// The replica answers nothing while it sleeps: wait until a PING stalls.
	probe := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = probe.Close() }()
	for range 100 {
		select {
		case err := <-failed:
			t.Fatalf("DEBUG SLEEP: %v", err)
		default:
		}
		if err := probe.Ping(context.Background()).Err(); err != nil {
			return done
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the replica at %s never went to sleep", addr)
	return done
}

// TestRedisWaitReplica: with a replica, the module waits for it by
// default, a claim returns only once the replica has it, and a write the
// replica cannot confirm in time is an error.
func TestRedisWaitReplica(t *testing.T) {
	master, replica := startPair(t)
	m := &Redis{Addresses: []string{master.Addr}, WaitTimeout: ms(1500)}
	if err := provisionRedis(t, m); err != nil {
		t.Fatal(err)
	}
	s := m.Backend()
	onReplica := newTestClient(t, replica.Addr)
	ctx := t.Context()

	// A claim, then a completion: each is on the replica when it returns.
	if res, err := s.Claim(ctx, "k1", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim = %v, %v", res.Outcome, err)
	}
	if st, err := onReplica.HGet(ctx, m.FullKey("k1"), "state").Result(); err != nil || st != "processing" {
		t.Fatalf("the replica has state %q, %v after the claim returned", st, err)
	}
	if err := s.Complete(ctx, "k1", "A", Response{Status: 200, Body: []byte("ok")}, time.Hour); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if st, err := onReplica.HGet(ctx, m.FullKey("k1"), "state").Result(); err != nil || st != "done" {
		t.Fatalf("the replica has state %q, %v after the completion returned", st, err)
	}

	// A replica that is slow but within wait_timeout: the claim waits for it.
	const nap = 600 * time.Millisecond
	woke := sleepReplica(t, replica.Addr, nap)
	start := time.Now()
	res, err := s.Claim(ctx, "k2", "A", "fp", time.Minute, time.Hour)
	waited := time.Since(start)
	if err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim with a slow replica = %v, %v", res.Outcome, err)
	}
	<-woke
	if waited < nap/2 {
		t.Errorf("Claim returned after %v while the replica slept %v: it did not wait for the replica", waited, nap)
	}
	if st, _ := onReplica.HGet(ctx, m.FullKey("k2"), "state").Result(); st != "processing" {
		t.Errorf("the replica has state %q for k2", st)
	}
}

func ms(n int) caddy.Duration { return caddy.Duration(time.Duration(n) * time.Millisecond) }

// TestRedisWaitUnconfirmed: a replica that sleeps past wait_timeout makes
// every transition an error that wraps ErrNotReplicated; the unconfirmed
// claim is given back, so the next delivery claims at once.
func TestRedisWaitUnconfirmed(t *testing.T) {
	master, replica := startPair(t)
	// Long enough that an awake replica confirms in time on a loaded CI
	// machine; the sleeping replica outlasts two such waits.
	m := &Redis{Addresses: []string{master.Addr}, WaitReplicas: intPtr(1), WaitTimeout: ms(1000)}
	if err := provisionRedis(t, m); err != nil {
		t.Fatal(err)
	}
	s := m.Backend()
	ctx := t.Context()
	if res, err := s.Claim(ctx, "done-before", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim = %v, %v", res.Outcome, err)
	}

	woke := sleepReplica(t, replica.Addr, 4*time.Second)
	_, err := s.Claim(ctx, "k", "A", "fp", time.Minute, time.Hour)
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Claim with the replica asleep = %v, want ErrNotReplicated", err)
	}
	if err := s.Complete(ctx, "done-before", "A", Response{Status: 200}, time.Hour); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Complete with the replica asleep = %v, want ErrNotReplicated", err)
	}
	rec, found, err := s.Get(ctx, "k")
	if err != nil || !found || rec.State != StateReleased || rec.Ambiguous {
		t.Errorf("the unconfirmed claim is %+v (found %v, %v), want released, not ambiguous", rec, found, err)
	}
	<-woke
	if res, err := s.Claim(ctx, "k", "B", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed || res.Ambiguous {
		t.Errorf("Claim after the replica woke = %+v, %v; want a plain claim", res, err)
	}
}

// TestRedisWaitOffWithoutReplicas: a lone master is not waited for (auto),
// and wait_replicas 1 against it fails every claim.
func TestRedisWaitOffWithoutReplicas(t *testing.T) {
	addr := startRedisServer(t).Addr
	auto := &Redis{Addresses: []string{addr}}
	if err := provisionRedis(t, auto); err != nil {
		t.Fatal(err)
	}
	if res, err := auto.Backend().Claim(t.Context(), "k", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim on a lone master = %v, %v", res.Outcome, err)
	}
	forced := &Redis{Addresses: []string{addr}, KeyPrefix: "forced:", WaitReplicas: intPtr(1), WaitTimeout: ms(100)}
	if err := provisionRedis(t, forced); err != nil {
		t.Fatal(err)
	}
	if _, err := forced.Backend().Claim(t.Context(), "k", "A", "fp", time.Minute, time.Hour); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Claim with wait_replicas 1 and no replica = %v, want ErrNotReplicated", err)
	}
}

// TestRedisRecordLost: a completion or release that finds its claim gone
// (the record missing, or back to the state before the claim, as after a
// failover to a replica that never had it) is ErrRecordLost, and a lease
// taken over is still ErrLeaseLost.
func TestRedisRecordLost(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	s := NewRedisBackend(client, testPrefix(t, client), WithWait(0, 0))
	ctx := t.Context()

	// The record vanished.
	if _, err := s.Claim(ctx, "gone", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	client.Del(ctx, s.FullKey("gone"))
	if err := s.Complete(ctx, "gone", "A", Response{Status: 200}, time.Hour); !errors.Is(err, ErrRecordLost) || errors.Is(err, ErrLeaseLost) {
		t.Errorf("Complete of a vanished record = %v, want ErrRecordLost", err)
	}

	// Back to the state before the claim: attempt 1 released by Z, then
	// A's claim (attempt 2) is lost and the record reads as before it.
	for _, op := range []string{"complete", "release"} {
		key := "rolled-back-" + op
		if _, err := s.Claim(ctx, key, "Z", "fp", time.Minute, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, key, "Z", false, time.Hour); err != nil {
			t.Fatal(err)
		}
		before, _ := client.HGetAll(ctx, s.FullKey(key)).Result()
		if res, err := s.Claim(ctx, key, "A", "fp", time.Minute, time.Hour); err != nil || res.Record.Attempts != 2 {
			t.Fatalf("Claim = %+v, %v", res, err)
		}
		client.Del(ctx, s.FullKey(key))
		client.HSet(ctx, s.FullKey(key), before)
		var err error
		if op == "complete" {
			err = s.Complete(ctx, key, "A", Response{Status: 200}, time.Hour)
		} else {
			err = s.Release(ctx, key, "A", true, time.Hour)
		}
		if !errors.Is(err, ErrRecordLost) || errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s of a rolled-back claim = %v, want ErrRecordLost", op, err)
		}
	}

	// A real lease loss stays ErrLeaseLost.
	if _, err := s.Claim(ctx, "lease", "A", "fp", 50*time.Millisecond, time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := s.Claim(ctx, "lease", "B", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "lease", "A", Response{Status: 200}, time.Hour); !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrRecordLost) {
		t.Errorf("Complete after a takeover = %v, want ErrLeaseLost", err)
	}
}
