package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

// benchPayload is a webhook's payload, about what the flows keep.
var benchPayload = bytes.Repeat([]byte("x"), 300)

// benchKey is the key of the i'th event: a UUID, as Bill24's ids are, so
// keys arrive in no order.
func benchKey(i int64) string {
	h := sha256.Sum256(strconv.AppendInt(nil, i, 10))
	x := hex.EncodeToString(h[:16])
	return "bill24:webhook:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func benchEntry(key string) Entry {
	fp := sha256.Sum256([]byte(key))
	return Entry{Key: key, Flow: "bill24:webhook", Fingerprint: hex.EncodeToString(fp[:]), Payload: benchPayload,
		Response: Response{Status: 200, ContentType: "application/json", Body: []byte(`{"status":"Success","message":"SUCCESS"}`)}}
}

// BenchmarkFileHold measures Hold on the file store: alone, and in a
// webhook storm (many concurrent Holds sharing commits).
func BenchmarkFileHold(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := newFileStore(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Hold(context.Background(), benchEntry(benchKey(int64(i))), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, par := range []int{8, 32} {
		b.Run("parallel-"+strconv.Itoa(par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			s := newFileStore(b)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := benchKey(n.Add(1))
					if res, err := s.Hold(context.Background(), benchEntry(key), time.Hour); err != nil || res.Outcome != Queued {
						b.Fatalf("Hold = %v, %v", res.Outcome, err)
					}
				}
			})
		})
	}
}

// BenchmarkFileClaim measures a synchronous delivery's Claim of a new key
// on the file store, alone and concurrent.
func BenchmarkFileClaim(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := newFileStore(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Claim(context.Background(), "bill24:webhook:"+strconv.Itoa(i), "owner", "fp", time.Minute, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-"+strconv.Itoa(32*runtime.GOMAXPROCS(0)), func(b *testing.B) {
		s := newFileStore(b)
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := "bill24:webhook:" + strconv.FormatInt(n.Add(1), 10)
				if res, err := s.Claim(context.Background(), key, "owner", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
					b.Fatalf("Claim = %v, %v", res.Outcome, err)
				}
			}
		})
	})
}

// BenchmarkFileDueDelivered measures a worker's path per event on the
// file store: its share of a Due of 10, then its Delivered.
func BenchmarkFileDueDelivered(b *testing.B) {
	s := newFileStore(b)
	ctx := context.Background()
	fillHeld(b, s, b.N)
	posted := Attempt{Outcome: "posted", Legacy: 200}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		ds, err := s.Due(ctx, "worker", 10, time.Minute)
		if err != nil || len(ds) == 0 {
			b.Fatalf("Due = %d, %v after %d of %d", len(ds), err, done, b.N)
		}
		for _, d := range ds {
			if err := s.Delivered(ctx, d.Key, "worker", posted, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		done += len(ds)
	}
}

// fillHeld holds n events in s from 64 goroutines.
func fillHeld(tb testing.TB, s Queue, n int) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := s.Hold(context.Background(), benchEntry(benchKey(i)), time.Hour); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
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

// BenchmarkRedisHold measures taking a new event into custody: one
// script, one round trip.
func BenchmarkRedisHold(b *testing.B) {
	client := newTestClient(b, testRedisAddr(b))
	s := NewRedisBackend(client, testPrefix(b, client))
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := s.Hold(ctx, benchEntry(benchKey(int64(i))), time.Hour)
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
			if _, err := s.Hold(ctx, benchEntry(benchKey(int64(i))), time.Hour); err != nil {
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
		if _, err := s.Hold(ctx, benchEntry(benchKey(int64(i))), time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	held := usedMemory() - before
	b.ReportMetric(float64(held)/float64(i), "B/payment")
	rec, err := client.MemoryUsage(ctx, s.FullKey(benchEntry(benchKey(0)).Key)).Result()
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
