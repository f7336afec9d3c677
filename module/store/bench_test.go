package store

import (
	"context"
	"strconv"
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
