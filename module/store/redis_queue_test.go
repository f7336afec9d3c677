package store

import (
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

func TestRedisQueueContract(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	runQueueContract(t, func(t *testing.T) Queue {
		return NewRedisBackend(client, testPrefix(t, client))
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
}
