package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkClaimCompleteReplay measures one event's path through the store:
// claim a new key, complete it, then claim it again (a duplicate: replay).
func BenchmarkClaimCompleteReplay(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchClaimCompleteReplay(b, NewMemoryBackend())
	})
	b.Run("redis", func(b *testing.B) {
		client := newTestClient(b, testRedisAddr(b))
		benchClaimCompleteReplay(b, NewRedisBackend(client, testPrefix(b, client)))
	})
	// Every transition followed by WAIT 1 on a master with one replica.
	b.Run("redis-wait-replica", func(b *testing.B) {
		master, _ := startPair(b)
		client := newTestClient(b, master.Addr)
		benchClaimCompleteReplay(b, NewRedisBackend(client, testPrefix(b, client), WithWait(1, time.Second)))
	})
}

func benchClaimCompleteReplay(b *testing.B, s Store) {
	ctx := context.Background()
	resp := Response{
		Status:      200,
		ContentType: "application/json; charset=utf-8",
		Body:        []byte(`{"status":"Success","message":"SUCCESS"}`),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := "bill24:webhook:" + strconv.Itoa(i)
		i++
		res, err := s.Claim(ctx, key, "owner-a", "fp", time.Minute, time.Minute)
		if err != nil || res.Outcome != Claimed {
			b.Fatalf("Claim = %v, %v", res.Outcome, err)
		}
		if err := s.Complete(ctx, key, "owner-a", resp, time.Minute); err != nil {
			b.Fatalf("Complete: %v", err)
		}
		res, err = s.Claim(ctx, key, "owner-b", "fp", time.Minute, time.Minute)
		if err != nil || res.Outcome != Replay {
			b.Fatalf("duplicate Claim = %v, %v", res.Outcome, err)
		}
	}
}

// BenchmarkRedisClaim measures a first claim of a new key: one script,
// one round trip.
func BenchmarkRedisClaim(b *testing.B) {
	client := newTestClient(b, testRedisAddr(b))
	s := NewRedisBackend(client, testPrefix(b, client))
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := s.Claim(ctx, "bill24:webhook:"+strconv.Itoa(i), "owner-a", "fp", time.Minute, time.Minute)
		if err != nil || res.Outcome != Claimed {
			b.Fatalf("Claim = %v, %v", res.Outcome, err)
		}
		i++
	}
}

// benchPayload is the size of a Bill24 webhook's payload.
var benchPayload = []byte(strings.Repeat("x", 300))

func benchEntry(i int) Entry {
	return Entry{
		Key:         "bill24:webhook:" + strconv.Itoa(i),
		Flow:        "bill24:webhook",
		Fingerprint: "sha256:0123456789abcdef0123456789abcdef",
		Payload:     benchPayload,
		Response:    Response{Status: 200, ContentType: "application/json; charset=utf-8", Body: []byte(`{"status":"Success","message":"SUCCESS"}`)},
	}
}

// BenchmarkRedisHold measures taking a new event into custody: one
// script, one round trip.
func BenchmarkRedisHold(b *testing.B) {
	client := newTestClient(b, testRedisAddr(b))
	s := NewRedisBackend(client, testPrefix(b, client))
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := s.Hold(ctx, benchEntry(i), time.Hour)
		if err != nil || res.Outcome != Queued {
			b.Fatalf("Hold = %v, %v", res.Outcome, err)
		}
		i++
	}
}

// BenchmarkRedisDueDelivered measures a worker's round: lease a batch of
// ten held events (Due), then settle each (Delivered). ns/op is per
// batch; ns/event per event.
func BenchmarkRedisDueDelivered(b *testing.B) {
	client := newTestClient(b, testRedisAddr(b))
	s := NewRedisBackend(client, testPrefix(b, client))
	ctx := context.Background()
	const batch = 10
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		for range batch {
			if _, err := s.Hold(ctx, benchEntry(i), time.Hour); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.StartTimer()
		ds, err := s.Due(ctx, "worker", batch, time.Minute)
		if err != nil || len(ds) != batch {
			b.Fatalf("Due = %d, %v", len(ds), err)
		}
		for _, d := range ds {
			if err := s.Delivered(ctx, d.Key, "worker", Attempt{Outcome: "posted", Legacy: 200}, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}

// BenchmarkRedisHeldMemory measures what Redis holds for each held event
// (300-byte payload): the growth of INFO memory's used_memory over b.N
// holds, on a server of its own (B/payment; B/record is MEMORY USAGE of
// one record's hash), then once they are all delivered (B/done-payment).
// Run it with -benchtime=100000x.
func BenchmarkRedisHeldMemory(b *testing.B) {
	client := newTestClient(b, startRedisServer(b).Addr)
	s := NewRedisBackend(client, DefaultKeyPrefix)
	ctx := context.Background()
	usedMemory := func() int64 {
		info, err := client.Info(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		return int64(infoInt(info, "used_memory"))
	}
	before := usedMemory()
	i := 0
	for b.Loop() {
		if _, err := s.Hold(ctx, benchEntry(i), time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	held := usedMemory() - before
	b.ReportMetric(float64(held)/float64(i), "B/payment")
	rec, err := client.MemoryUsage(ctx, s.FullKey(benchEntry(0).Key)).Result()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rec), "B/record")
	// Delivered, each is kept until its retention, out of the queue.
	for delivered := 0; delivered < i; {
		ds, err := s.Due(ctx, "worker", 1000, time.Minute)
		if err != nil || len(ds) == 0 {
			b.Fatalf("Due = %d, %v after %d of %d", len(ds), err, delivered, i)
		}
		for _, d := range ds {
			if err := s.Delivered(ctx, d.Key, "worker", Attempt{Outcome: "posted", Legacy: 200}, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		delivered += len(ds)
	}
	b.ReportMetric(float64(usedMemory()-before)/float64(i), "B/done-payment")
}
