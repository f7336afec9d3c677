package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestSentinelGroup(t *testing.T) {
	g := StartSentinel(t)
	if got, err := g.MasterAddr(); err != nil || got != g.Master.Addr {
		t.Fatalf("sentinel reports master %q, %v; want %s", got, err, g.Master.Addr)
	}
	if r, err := Role(g.Replica.Addr); err != nil || r != "slave" {
		t.Fatalf("replica's role = %q, %v", r, err)
	}
	addr, _ := g.Failover()
	if addr != g.Replica.Addr {
		t.Errorf("new master %s, want the replica %s", addr, g.Replica.Addr)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	if n := len(c.Masters()); n != 3 {
		t.Fatalf("%d masters, want 3", n)
	}
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer func() { _ = cl.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := cl.Set(ctx, k, "1", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	m := c.MasterFor("a")
	if n, err := redis.NewClient(&redis.Options{Addr: m.Addr}).Exists(ctx, "a").Result(); err != nil || n != 1 {
		t.Errorf("MasterFor(a) = %s does not hold a: %d, %v", m.Addr, n, err)
	}
}
