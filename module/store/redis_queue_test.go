package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

func TestRedisQueueContract(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	runQueueContract(t, func(t *testing.T) Queue {
		return NewRedisBackend(client, testPrefix(t, client))
	})
}

// TestRedisSentinelQueueContract runs the contract through Sentinel (a
// master and its replica), every transition waiting for the replica.
func TestRedisSentinelQueueContract(t *testing.T) {
	g := redistest.StartSentinel(t)
	b, client := moduleBackend(t, &Redis{Addresses: g.SentinelAddrs(), MasterName: redistest.MasterName})
	runQueueContract(t, func(t *testing.T) Queue {
		return NewRedisBackend(client, testPrefix(t, client), withMonitor(b.mon), WithWait(-1, time.Second))
	})
}

// TestRedisClusterQueueContract runs the contract on a Redis Cluster (one
// cluster, a prefix per subtest): every script stays in its slot, and
// each transition waits for the master's replica.
func TestRedisClusterQueueContract(t *testing.T) {
	c := redistest.StartCluster(t)
	b, client := moduleBackend(t, &Redis{Addresses: c.Addrs()})
	runQueueContract(t, func(t *testing.T) Queue {
		return NewRedisBackend(client, testPrefix(t, client), withMonitor(b.mon), WithWait(-1, time.Second))
	})
	t.Run("shards spread over every master, each in one slot", func(t *testing.T) {
		s := NewRedisBackend(client, testPrefix(t, client), withMonitor(b.mon), WithWait(-1, time.Second))
		ctx := t.Context()
		// One event per shard.
		byShard := map[int]string{}
		for i := 0; len(byShard) < redisShards; i++ {
			key := fmt.Sprintf("bill24:webhook:%d", i)
			if _, ok := byShard[shardOf(key)]; !ok {
				byShard[shardOf(key)] = key
			}
		}
		masters := map[string]int{}
		for shard, key := range byShard {
			e := Entry{Key: key, Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte("x")}
			if res, err := s.Hold(ctx, e, time.Hour); err != nil || res.Outcome != Queued {
				t.Fatalf("Hold %s = %v, %v", key, res.Outcome, err)
			}
			slot := client.ClusterKeySlot(ctx, s.FullKey(key)).Val()
			for _, k := range append(b.shardKeys(shard), queueBase(s.prefix, shard)+"list:queued:bill24:webhook") {
				if got := client.ClusterKeySlot(ctx, k).Val(); got != slot {
					t.Errorf("%s is in slot %d, its record %s in %d", k, got, s.FullKey(key), slot)
				}
			}
			masters[c.MasterFor(s.FullKey(key)).Addr]++
		}
		if len(masters) != 3 {
			t.Errorf("shards per master: %v, want all three", masters)
		}
		ds, err := s.Due(ctx, "W", 100, time.Minute)
		if err != nil || len(ds) != redisShards {
			t.Fatalf("Due over every master = %d deliveries, %v", len(ds), err)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.Count["bill24:webhook"][StateProcessing] != redisShards {
			t.Errorf("Stats = %+v, %v", st, err)
		}
		seen := map[string]bool{}
		for f := (Filter{Limit: 10}); ; {
			p, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items {
				seen[it.Key] = true
			}
			if p.Next == "" {
				break
			}
			f.After = p.Next
		}
		if len(seen) != redisShards {
			t.Errorf("List paged through %d of %d records", len(seen), redisShards)
		}
	})
}

// TestRedisCustodyLayout pins where a record in custody lives: its hash,
// and its entries in its shard's due queue, list, open and expiry
// indexes, through hold, due, retry, bury and delivery.
func TestRedisCustodyLayout(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	prefix := testPrefix(t, client)
	s := NewRedisBackend(client, prefix)
	ctx := t.Context()
	const flow, key = "bill24:webhook", "bill24:webhook:layout"
	qb := fmt.Sprintf("%s{%02d}#", prefix, fnv1a64(key))
	payload := []byte("p\x00\xff")
	res, err := s.Hold(ctx, Entry{Key: key, Flow: flow, Fingerprint: "fp", Payload: payload, Response: Response{Status: 200, Body: []byte("ok")}}, time.Hour)
	if err != nil || res.Outcome != Queued {
		t.Fatalf("Hold = %v, %v", res.Outcome, err)
	}
	h := client.HGetAll(ctx, s.FullKey(key)).Val()
	created := res.Record.CreatedAt.UnixMilli()
	for f, want := range map[string]string{
		"state": "queued", "fp": "fp", "status": "200", "body": "ok", "amb": "0", "attempts": "0", "custody": "1",
		"flow": flow, "payload": string(payload), "created": fmt.Sprint(created), "updated": fmt.Sprint(created), "next": fmt.Sprint(created),
	} {
		if h[f] != want {
			t.Errorf("field %s = %q, want %q", f, h[f], want)
		}
	}
	score := func(k string) float64 {
		t.Helper()
		v, err := client.ZScore(ctx, qb+k, key).Result()
		if err != nil {
			t.Fatalf("ZSCORE %s: %v", k, err)
		}
		return v
	}
	absent := func(k string) {
		t.Helper()
		if err := client.ZScore(ctx, qb+k, key).Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("%s still has the record (%v)", k, err)
		}
	}
	if score("due") != float64(created) || score("open") != float64(created) || score("list:queued:"+flow) != float64(created) {
		t.Errorf("due %v, open %v, list %v; want the creation time %d", score("due"), score("open"), score("list:queued:"+flow), created)
	}
	ttl := client.PTTL(ctx, s.FullKey(key)).Val()
	if d := score("exp") - float64(created) - float64(ttl.Milliseconds()); d < 0 || d > 1000 {
		t.Errorf("exp %v is not when the hash expires (created %d, PTTL %v)", score("exp"), created, ttl)
	}
	if ok, _ := client.SIsMember(ctx, qb+"flows", flow).Result(); !ok {
		t.Errorf("flows does not name %s", flow)
	}

	ds, err := s.Due(ctx, "W", 10, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Due = %v, %v", ds, err)
	}
	if score("due") != float64(ds[0].Record.LeaseUntil.UnixMilli()) {
		t.Errorf("a delivery is due %v, its lease ends %v", score("due"), ds[0].Record.LeaseUntil.UnixMilli())
	}
	absent("list:queued:" + flow)
	score("list:processing:" + flow)

	long := strings.Repeat("x\n\"", 100)
	if err := s.Retry(ctx, key, "W", Attempt{Outcome: "legacy_failed", Legacy: 503, Error: long}, false, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	hist := client.HGet(ctx, s.FullKey(key), "hist").Val()
	var line map[string]any
	if err := json.Unmarshal([]byte(hist), &line); err != nil || line["outcome"] != "legacy_failed" || line["legacy"] != 503.0 || len(line["error"].(string)) != MaxAttemptError {
		t.Errorf("hist = %q (%v)", hist, err)
	}
	next, _ := strconv.ParseInt(client.HGet(ctx, s.FullKey(key), "next").Val(), 10, 64)
	if score("due") != float64(next) || next < time.Now().Add(50*time.Minute).UnixMilli() {
		t.Errorf("a retry is due %v, next %d", score("due"), next)
	}
	absent("list:processing:" + flow)
	score("list:queued:" + flow)

	if _, err := s.Redeliver(ctx, key, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.Due(ctx, "W", 10, time.Minute); err != nil || len(ds) != 1 {
		t.Fatalf("Due = %v, %v", ds, err)
	}
	if err := s.Bury(ctx, key, "W", Attempt{Outcome: "legacy_refused"}, false, "refused", time.Hour); err != nil {
		t.Fatal(err)
	}
	absent("due")
	absent("open")
	score("list:dead:" + flow)
	score("exp")

	if _, err := s.Redeliver(ctx, key, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.Due(ctx, "W", 10, time.Minute); err != nil || len(ds) != 1 {
		t.Fatalf("Due = %v, %v", ds, err)
	}
	if err := s.Delivered(ctx, key, "W", Attempt{Outcome: "posted", Legacy: 200}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"due", "open", "exp", "list:queued:" + flow, "list:processing:" + flow, "list:dead:" + flow} {
		absent(k)
	}
	if rec, _, _ := s.Get(ctx, key); rec.State != StateDone || len(rec.History) != 3 || rec.History[2].Outcome != "posted" {
		t.Errorf("delivered record = %+v", rec)
	}
}

// TestRedisQueueWaitReplica: a hold and a lease are on the replica when
// they return; with the replica asleep past wait_timeout, a hold is an
// error (the gateway must not be told) and Due hands out nothing (a
// failover could give the same events to another worker); the events it
// leased come back after their lease, as ambiguous.
func TestRedisQueueWaitReplica(t *testing.T) {
	master, replica := startPair(t)
	m := &Redis{Addresses: []string{master.Addr}, WaitReplicas: intPtr(1), WaitTimeout: ms(1000)}
	if err := provisionRedis(t, m); err != nil {
		t.Fatal(err)
	}
	s := m.backend
	onReplica := newTestClient(t, replica.Addr)
	ctx := t.Context()
	hold := func(id string) error {
		_, err := s.Hold(ctx, Entry{Key: "bill24:webhook:" + id, Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte(id)}, time.Hour)
		return err
	}
	if err := hold("a"); err != nil {
		t.Fatal(err)
	}
	if st := onReplica.HGet(ctx, m.FullKey("bill24:webhook:a"), "state").Val(); st != "queued" {
		t.Errorf("the replica has state %q after Hold returned", st)
	}
	if err := hold("b"); err != nil {
		t.Fatal(err)
	}

	woke := sleepReplica(t, replica.Addr, 4*time.Second)
	if err := hold("c"); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Hold with the replica asleep = %v, want ErrNotReplicated", err)
	}
	const lease = 300 * time.Millisecond
	if ds, err := s.Due(ctx, "W", 10, lease); !errors.Is(err, ErrNotReplicated) || len(ds) != 0 {
		t.Errorf("Due with the replica asleep = %d deliveries, %v; want none and ErrNotReplicated", len(ds), err)
	}
	<-woke
	time.Sleep(lease)
	ds, err := s.Due(ctx, "W2", 10, time.Minute)
	if err != nil || len(ds) != 3 {
		t.Fatalf("Due after the replica woke = %d, %v; want a, b and the unconfirmed c", len(ds), err)
	}
	for _, d := range ds {
		if !d.Ambiguous || d.Record.Attempts != 2 {
			t.Errorf("%s: ambiguous %v, attempt %d; the unconfirmed Due leased it", d.Key, d.Ambiguous, d.Record.Attempts)
		}
		if st := onReplica.HGet(ctx, m.FullKey(d.Key), "owner").Val(); st != "W2" {
			t.Errorf("the replica has owner %q for %s after Due returned", st, d.Key)
		}
	}
}

// TestRedisListTies: records of one shard leased by one Due share their
// update time; List pages through them once each, ties by key, also when
// the record a cursor names has moved on.
func TestRedisListTies(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	s := NewRedisBackend(client, testPrefix(t, client))
	ctx := t.Context()
	var keys []string
	for i := 0; len(keys) < 12; i++ {
		key := fmt.Sprintf("bill24:webhook:%d", i)
		if shardOf(key) != 0 {
			continue
		}
		if _, err := s.Hold(ctx, Entry{Key: key, Flow: "bill24:webhook", Fingerprint: "fp", Payload: []byte("x")}, time.Hour); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	ds, err := s.Due(ctx, "W", 100, time.Minute)
	if err != nil || len(ds) != len(keys) {
		t.Fatalf("Due = %d, %v", len(ds), err)
	}
	at := ds[0].Record.UpdatedAt
	for _, d := range ds {
		if !d.Record.UpdatedAt.Equal(at) {
			t.Fatalf("one Due, two update times: %v and %v", at, d.Record.UpdatedAt)
		}
	}
	slices.Sort(keys)
	slices.Reverse(keys) // newest first, then by key, descending
	var seen []string
	f := Filter{State: StateProcessing, Limit: 5}
	for page := 0; ; page++ {
		p, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			seen = append(seen, it.Key)
		}
		if p.Next == "" {
			break
		}
		if page == 0 {
			// The cursor's record moves on: the next page must not care.
			last := p.Items[len(p.Items)-1].Key
			if err := s.Retry(ctx, last, "W", Attempt{Outcome: "legacy_failed"}, false, time.Hour, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if page > 5 {
			t.Fatal("list does not end")
		}
		f.After = p.Next
	}
	if !slices.Equal(seen, keys) {
		t.Errorf("listed %v, want %v", seen, keys)
	}
}
