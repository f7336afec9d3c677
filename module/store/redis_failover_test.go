package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// moduleBackend provisions m and returns its backend and raw client.
func moduleBackend(t *testing.T, m *Redis) (*RedisBackend, redis.UniversalClient) {
	t.Helper()
	if err := provisionRedis(t, m); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return m.backend, m.backend.client
}

func TestRedisContractSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	b, client := moduleBackend(t, &Redis{Addresses: g.SentinelAddrs(), MasterName: redistest.MasterName})
	if _, ok := client.(*redis.ClusterClient); !ok {
		t.Fatalf("Sentinel client is %T", client)
	}
	// (go-redis names a loopback master ":port" here, so ask the backend.)
	if _, addr, err := b.node(t.Context(), b.FullKey("k")); err != nil || b.replicasFor(addr) != 1 {
		t.Errorf("Sentinel master %q with a replica: wait for %d replicas (%v), want 1 by default", addr, b.replicasFor(addr), err)
	}
	runContract(t, func(t *testing.T) Store {
		return NewRedisBackend(client, testPrefix(t, client), withMonitor(b.mon), WithWait(-1, time.Second))
	})
}

func TestRedisContractCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	b, client := moduleBackend(t, &Redis{Addresses: c.Addrs()})
	for _, m := range c.Masters() {
		if n := b.replicasFor(m.Addr); n != 1 {
			t.Errorf("cluster master %s with a replica: wait for %d replicas, want 1 by default", m.Addr, n)
		}
	}
	runContract(t, func(t *testing.T) Store {
		return NewRedisBackend(client, testPrefix(t, client), withMonitor(b.mon), WithWait(-1, time.Second))
	})
}

// TestRedisClusterWaitOnKeysMaster: WAIT goes to the master that owns
// the key's slot: a claim is on that master's replica when it returns,
// for keys on every master, and with one master's replica asleep only the
// keys of that master are unconfirmed.
func TestRedisClusterWaitOnKeysMaster(t *testing.T) {
	c := redistest.StartCluster(t, "--enable-debug-command", "local")
	// Long enough for awake replicas on a loaded machine.
	m := &Redis{Addresses: c.Addrs(), WaitTimeout: ms(1000)}
	s, _ := moduleBackend(t, m)
	keyOn := map[string]string{} // master -> a key it serves
	for i := 0; len(keyOn) < 3 && i < 100; i++ {
		key := fmt.Sprintf("k%d", i)
		full := m.FullKey(key)
		master := c.MasterFor(full)
		if keyOn[master.Addr] != "" {
			continue
		}
		keyOn[master.Addr] = key
		if res, err := s.Claim(t.Context(), key, "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
			t.Fatalf("Claim %s = %v, %v", key, res.Outcome, err)
		}
		// A replica answers reads of its master's slots on a READONLY connection.
		rc := newTestClient(t, replicaOf(t, c, master).Addr)
		var cmd *redis.StringCmd
		_, err := rc.Pipelined(t.Context(), func(p redis.Pipeliner) error {
			p.ReadOnly(t.Context())
			cmd = p.HGet(t.Context(), full, "state")
			return nil
		})
		if st := cmd.Val(); err != nil || st != "processing" {
			t.Errorf("the replica of %s has state %q, %v for %s after the claim returned", master.Addr, st, err, key)
		}
	}
	if len(keyOn) != 3 {
		t.Fatalf("keys reached %d masters", len(keyOn))
	}
	sleeper := c.Masters()[0]
	woke := sleepReplica(t, replicaOf(t, c, sleeper).Addr, 3*time.Second)
	for master, key := range keyOn {
		err := s.Complete(t.Context(), key, "A", Response{Status: 200}, time.Hour)
		if master == sleeper.Addr && !errors.Is(err, ErrNotReplicated) {
			t.Errorf("Complete on %s, whose replica sleeps = %v, want ErrNotReplicated", master, err)
		}
		if master != sleeper.Addr && err != nil {
			t.Errorf("Complete on %s, whose replica is awake = %v", master, err)
		}
	}
	<-woke
	// Every master was checked, and each has its replica.
	b := m.backend
	b.mon.mu.Lock()
	checked := len(b.mon.nodes)
	b.mon.mu.Unlock()
	if checked != 3 {
		t.Errorf("the durability check saw %d masters, want 3", checked)
	}
}

// replicaOf returns the node replicating master.
func replicaOf(t *testing.T, c *redistest.Cluster, master *redistest.Server) *redistest.Server {
	t.Helper()
	for _, n := range c.Nodes {
		info, err := newTestClient(t, n.Addr).Info(t.Context(), "replication").Result()
		if err == nil && infoField(info, "role") == "slave" &&
			infoField(info, "master_host")+":"+infoField(info, "master_port") == master.Addr {
			return n
		}
	}
	t.Fatalf("no replica of %s", master.Addr)
	return nil
}

// cycles drives claim -> complete cycles on fresh ids from several
// goroutines until stop is closed and at least min cycles ran, and
// records which ids were acknowledged (Complete returned nil) and when
// the store last failed.
type cycles struct {
	s        Store
	prefix   string
	mu       sync.Mutex
	acked    []string
	lastFail time.Time
	started  atomic.Int64
	failures atomic.Int64
	lost     atomic.Int64 // Complete said ErrRecordLost
}

func (c *cycles) run(workers, min int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					if int(c.started.Load()) >= min {
						return
					}
				default:
				}
				c.started.Add(1)
				id := fmt.Sprintf("%s%d-%d", c.prefix, w, i)
				owner := "o-" + id
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				err := c.once(ctx, id, owner)
				cancel()
				now := time.Now()
				if err != nil {
					c.failures.Add(1)
					if errors.Is(err, ErrRecordLost) {
						c.lost.Add(1)
					}
					c.mu.Lock()
					if now.After(c.lastFail) {
						c.lastFail = now
					}
					c.mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				c.mu.Lock()
				c.acked = append(c.acked, id)
				c.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (c *cycles) once(ctx context.Context, id, owner string) error {
	res, err := c.s.Claim(ctx, id, owner, "fp", 30*time.Second, time.Hour)
	if err != nil {
		return err
	}
	if res.Outcome != Claimed {
		return fmt.Errorf("claim of a new id: %v", res.Outcome)
	}
	return c.s.Complete(ctx, id, owner, Response{Status: 200, Body: []byte(id)}, time.Hour)
}

// reclaim claims every acknowledged id again and returns those that came
// back claimable: acknowledged, and lost by the store.
func reclaim(t *testing.T, s Store, ids []string) (lost []string) {
	t.Helper()
	for _, id := range ids {
		var res ClaimResult
		var err error
		for range 50 { // the store may still be settling
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			res, err = s.Claim(ctx, id, "again-"+id, "fp", time.Minute, time.Hour)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("re-claim of %s: %v", id, err)
		}
		if res.Outcome != Replay {
			if len(lost) < 3 {
				t.Logf("re-claim of %s: %v, record %+v", id, res.Outcome, res.Record)
			}
			lost = append(lost, id)
		}
	}
	return lost
}

// TestRedisSentinelFailoverLosesNothing: SENTINEL FAILOVER in the middle
// of thousands of claim -> complete cycles; no acknowledged completion
// comes back claimable, and the store serves again soon after the new
// master is reported.
func TestRedisSentinelFailoverLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	g := redistest.StartSentinel(t)
	s, _ := moduleBackend(t, &Redis{Addresses: g.SentinelAddrs(), MasterName: redistest.MasterName, DialTimeout: ms(500), Timeout: ms(1000)})
	c := &cycles{s: s, prefix: "sf-"}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); c.run(4, 3000, stop) }()

	waitCycles(t, c, 1000)
	failStart := time.Now()
	newMaster, reported := g.Failover()
	t.Logf("failover: new master %s reported %v after SENTINEL FAILOVER", newMaster, reported.Sub(failStart).Round(time.Millisecond))
	afterFailover := c.started.Load()
	waitCycles(t, c, afterFailover+1000)
	close(stop)
	<-done

	c.mu.Lock()
	acked, lastFail := append([]string(nil), c.acked...), c.lastFail
	c.mu.Unlock()
	lost := reclaim(t, s, acked)
	t.Logf("%d cycles, %d acknowledged, %d failed (%d ErrRecordLost); last failure %v after the new master was reported; acknowledged and lost: %d",
		c.started.Load(), len(acked), c.failures.Load(), c.lost.Load(), recovery(lastFail, reported), len(lost))
	if len(lost) != 0 {
		t.Errorf("%d acknowledged completions were lost by the failover, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	if d := recovery(lastFail, reported); d > 5*time.Second {
		t.Errorf("the store failed until %v after the new master was reported", d)
	}
}

// TestRedisClusterMasterKillLosesNothing: kill -9 of a cluster master in
// the middle of thousands of cycles; no acknowledged completion comes
// back claimable, and the store serves again soon after the survivors
// report cluster_state:ok.
func TestRedisClusterMasterKillLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	cl := redistest.StartCluster(t)
	s, _ := moduleBackend(t, &Redis{Addresses: cl.Addrs(), DialTimeout: ms(500), Timeout: ms(1000)})
	c := &cycles{s: s, prefix: "ck-"}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); c.run(4, 3000, stop) }()

	waitCycles(t, c, 1000)
	victim := cl.Masters()[0]
	victim.Kill()
	killed := time.Now()
	ok := cl.WaitFailedOver(victim)
	t.Logf("killed master %s; the survivors reported cluster_state:ok %v later", victim.Addr, ok.Sub(killed).Round(time.Millisecond))
	afterOK := c.started.Load()
	waitCycles(t, c, afterOK+1000)
	close(stop)
	<-done

	c.mu.Lock()
	acked, lastFail := append([]string(nil), c.acked...), c.lastFail
	c.mu.Unlock()
	lost := reclaim(t, s, acked)
	t.Logf("%d cycles, %d acknowledged, %d failed (%d ErrRecordLost); last failure %v after cluster_state:ok; acknowledged and lost: %d",
		c.started.Load(), len(acked), c.failures.Load(), c.lost.Load(), recovery(lastFail, ok), len(lost))
	if len(lost) != 0 {
		t.Errorf("%d acknowledged completions were lost with the master, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
	if d := recovery(lastFail, ok); d > 2*time.Second {
		t.Errorf("the store failed until %v after the cluster was ok again (target < 2s)", d)
	}
}

// recovery is how long after healthy the store last failed (0 if it
// never failed after).
func recovery(lastFail, healthy time.Time) time.Duration {
	if lastFail.Before(healthy) {
		return 0
	}
	return lastFail.Sub(healthy).Round(time.Millisecond)
}

// waitCycles waits until n cycles have started, for at most 40 s.
func waitCycles(t *testing.T, c *cycles, n int64) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for c.started.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d cycles started in time (%d failed)", c.started.Load(), n, c.failures.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
