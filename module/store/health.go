package store

import (
	"context"
	"sort"
	"strings"
)

// Health is what a health check says of a store.
type Health struct {
	// Kind is the store's kind: memory, redis, file.
	Kind string `json:"kind"`
	// Reachable: the store answered.
	Reachable bool `json:"reachable"`
	// Durable: the store keeps its records through a restart (nil: it
	// cannot tell, e.g. Redis with CONFIG disabled).
	Durable *bool `json:"durable"`
	// Detail says what is wrong, if anything.
	Detail string `json:"detail,omitempty"`
}

// HealthReporter is a store that can check itself.
type HealthReporter interface {
	Health(ctx context.Context) Health
}

// HealthOf checks s: its own report where it has one.
func HealthOf(ctx context.Context, s Store) Health {
	if hr, ok := s.(HealthReporter); ok {
		return hr.Health(ctx)
	}
	return Health{Kind: "unknown", Reachable: true}
}

// Health reports the memory store: always reachable, never durable.
func (m *MemoryBackend) Health(context.Context) Health {
	no := false
	return Health{Kind: "memory", Reachable: true, Durable: &no, Detail: "records die with the process"}
}

// Health reports the Redis store: reachable when it answers PING, and
// durable as the last check of every master's persistence settings found
// (nil while a master is unknown: CONFIG disabled, or not answered).
func (b *RedisBackend) Health(ctx context.Context) Health {
	h := Health{Kind: "redis"}
	if err := b.client.Ping(ctx).Err(); err != nil {
		h.Detail = "redis does not answer: " + err.Error()
		return h
	}
	h.Reachable = true
	if b.mon == nil {
		return h
	}
	b.mon.mu.Lock()
	defer b.mon.mu.Unlock()
	if len(b.mon.nodes) == 0 {
		return h
	}
	durable, known := true, true
	var problems []string
	for addr, r := range b.mon.nodes {
		switch r.verdict {
		case durableUnknown:
			known = false
		case durableNo:
			durable = false
			problems = append(problems, addr+": "+strings.Join(r.problems, "; "))
		}
	}
	if !durable || known {
		h.Durable = &durable
	}
	sort.Strings(problems)
	h.Detail = strings.Join(problems, "; ")
	return h
}
