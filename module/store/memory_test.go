package store

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func provisionMemory(t *testing.T, m *Memory) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
}

// memoryStateInPool returns the pool's memory state, or nil.
func memoryStateInPool() *memoryState {
	var st *memoryState
	memoryPool.Range(func(key, value any) bool {
		if key == memoryPoolKey {
			st = value.(*memoryState)
		}
		return true
	})
	return st
}

// TestMemoryModuleSurvivesReload provisions a new config before cleaning up
// the old one, as Caddy does on reload: claims and done records survive, and
// the state (with its sweeper) goes when its last user is cleaned up.
func TestMemoryModuleSurvivesReload(t *testing.T) {
	old := &Memory{}
	provisionMemory(t, old)
	st := memoryStateInPool()
	if st == nil {
		t.Fatal("no memory state in the pool")
	}
	ctx := t.Context()
	if _, err := old.Backend().Claim(ctx, "inflight", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Backend().Claim(ctx, "done", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := old.Backend().Complete(ctx, "done", "A", Response{Status: 200, Body: []byte("ok")}, time.Hour); err != nil {
		t.Fatal(err)
	}

	reloaded := &Memory{}
	provisionMemory(t, reloaded)
	if refs, _ := memoryPool.References(memoryPoolKey); refs != 2 {
		t.Errorf("references = %d, want 2", refs)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatalf("Cleanup old: %v", err)
	}
	if res, err := reloaded.Backend().Claim(ctx, "inflight", "B", "fp", time.Minute, time.Hour); err != nil || res.Outcome != InFlight {
		t.Errorf("in-flight claim after reload: %v, %v", res.Outcome, err)
	}
	if res, err := reloaded.Backend().Claim(ctx, "done", "B", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Replay || string(res.Record.Response.Body) != "ok" {
		t.Errorf("done record after reload: %v, %v", res.Outcome, err)
	}

	if err := reloaded.Cleanup(); err != nil {
		t.Fatalf("Cleanup reloaded: %v", err)
	}
	if _, ok := memoryPool.References(memoryPoolKey); ok {
		t.Errorf("memory state survives its last user")
	}
	select {
	case <-st.done:
	case <-time.After(time.Second):
		t.Errorf("sweeper still running after the state was destructed")
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}

	// A new first user starts from scratch.
	fresh := &Memory{}
	provisionMemory(t, fresh)
	t.Cleanup(func() { _ = fresh.Cleanup() })
	if _, found, _ := fresh.Backend().Get(ctx, "done"); found {
		t.Errorf("state outlived the last config")
	}
}

func TestMemorySweeper(t *testing.T) {
	st := newMemoryState(10 * time.Millisecond)
	t.Cleanup(func() {
		if err := st.Destruct(); err != nil {
			t.Error(err)
		}
	})
	b := st.backend
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := b.Claim(ctx, k, "A", "fp", time.Minute, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Claim(ctx, "kept", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.len() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := b.len(); n != 1 {
		t.Fatalf("%d records left, want 1", n)
	}
	if _, found, _ := b.Get(ctx, "kept"); !found {
		t.Errorf("the sweeper removed a live record")
	}
}

func TestMemoryBackendNoModule(t *testing.T) {
	if (&Memory{}).Backend() != nil {
		t.Errorf("Backend before Provision is not nil")
	}
	if err := (&Memory{}).Cleanup(); err != nil {
		t.Errorf("Cleanup without Provision: %v", err)
	}
	if (&Redis{}).Backend() != nil {
		t.Errorf("Redis Backend before Provision is not nil")
	}
	if err := (&Redis{}).Cleanup(); err != nil {
		t.Errorf("Redis Cleanup without Provision: %v", err)
	}
}
