package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel group monitors.
const MasterName = "mymaster"

// Sentinel is a Sentinel group started by a test: one master, one replica
// and three sentinels, all real redis-server processes on free ports.
type Sentinel struct {
	tb        testing.TB
	Master    *Server
	Replica   *Server
	Sentinels []*Server
}

// StartSentinel starts a Sentinel group and waits until every sentinel
// knows the master, the replica and the other sentinels, so that a
// failover can be run at once. Extra arguments go to both data nodes.
func StartSentinel(tb testing.TB, extra ...string) *Sentinel {
	tb.Helper()
	g := &Sentinel{tb: tb}
	g.Master = StartWith(tb, extra...)
	g.Replica = StartWith(tb, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(g.Master.port)}, extra...)...)
	waitReplicaSynced(tb, g.Master.Addr, 1)
	conf := fmt.Sprintf(`port {port}
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, MasterName, g.Master.port, MasterName, MasterName, MasterName)
	for range 3 {
		g.Sentinels = append(g.Sentinels, startServer(tb, conf, []string{"--sentinel"}))
	}
	waitFor(tb, 20*time.Second, "sentinels discovering the replica and each other", func() error {
		for _, s := range g.Sentinels {
			c := sentinelClient(s.Addr)
			replicas, err := c.Replicas(context.Background(), MasterName).Result()
			if err == nil && len(replicas) < 1 {
				err = fmt.Errorf("sentinel %s knows %d replicas", s.Addr, len(replicas))
			}
			if err == nil {
				var others []map[string]string
				others, err = c.Sentinels(context.Background(), MasterName).Result()
				if err == nil && len(others) < 2 {
					err = fmt.Errorf("sentinel %s knows %d other sentinels", s.Addr, len(others))
				}
			}
			_ = c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	return g
}

// SentinelAddrs returns the sentinels' addresses.
func (g *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, s := range g.Sentinels {
		out = append(out, s.Addr)
	}
	return out
}

// MasterAddr returns the master's address as the first sentinel reports it.
func (g *Sentinel) MasterAddr() (string, error) {
	c := sentinelClient(g.Sentinels[0].Addr)
	defer func() { _ = c.Close() }()
	v, err := c.GetMasterAddrByName(context.Background(), MasterName).Result()
	if err != nil {
		return "", err
	}
	return v[0] + ":" + v[1], nil
}

// Failover runs SENTINEL FAILOVER and waits until every sentinel reports
// the new master and that master accepts writes. It returns the new
// master's address and the time this was first seen.
func (g *Sentinel) Failover() (string, time.Time) {
	g.tb.Helper()
	old, err := g.MasterAddr()
	if err != nil {
		g.tb.Fatalf("asking the sentinel for the master: %v", err)
	}
	c := sentinelClient(g.Sentinels[0].Addr)
	defer func() { _ = c.Close() }()
	if err := c.Failover(context.Background(), MasterName).Err(); err != nil {
		g.tb.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	var addr string
	waitFor(g.tb, 30*time.Second, "the sentinels reporting a new master", func() error {
		for _, s := range g.Sentinels {
			sc := sentinelClient(s.Addr)
			v, err := sc.GetMasterAddrByName(context.Background(), MasterName).Result()
			_ = sc.Close()
			if err != nil {
				return err
			}
			if a := v[0] + ":" + v[1]; a == old {
				return fmt.Errorf("sentinel %s still reports %s", s.Addr, old)
			} else {
				addr = a
			}
		}
		role, err := role(addr)
		if err == nil && role != "master" {
			err = fmt.Errorf("%s is still a %s", addr, role)
		}
		return err
	})
	return addr, time.Now()
}

// Server returns the data node with addr, or nil.
func (g *Sentinel) Server(addr string) *Server {
	for _, s := range []*Server{g.Master, g.Replica} {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

func sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
}

// Cluster is a Redis Cluster started by a test: three masters with one
// replica each, real redis-server processes on free ports.
type Cluster struct {
	tb    testing.TB
	Nodes []*Server
}

// StartCluster starts six nodes with cluster mode on, joins them with
// redis-cli --cluster create (three masters, one replica each) and waits
// until every node reports cluster_state:ok and every master has its
// replica. Extra arguments go to every node.
func StartCluster(tb testing.TB, extra ...string) *Cluster {
	tb.Helper()
	cli := cliBinary(tb)
	c := &Cluster{tb: tb}
	args := append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "1000",
		// A replica promotes itself however long it has been cut off:
		// the tests kill masters on purpose.
		"--cluster-replica-validity-factor", "0",
	}, extra...)
	for range 6 {
		c.Nodes = append(c.Nodes, StartWith(tb, args...))
	}
	create := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil { //nolint:gosec // G204: redis-cli found on PATH, with the addresses of nodes this helper started
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK(c.Nodes...)
	waitFor(tb, 30*time.Second, "every master having its replica", func() error {
		masters := c.Masters()
		if len(masters) != 3 {
			return fmt.Errorf("%d masters", len(masters))
		}
		for _, m := range masters {
			if err := replicaSynced(m.Addr, 1); err != nil {
				return err
			}
		}
		return nil
	})
	return c
}

// Addrs returns every node's address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// Masters returns the nodes that are masters now (nodes that do not
// answer are left out).
func (c *Cluster) Masters() []*Server {
	var out []*Server
	for _, n := range c.Nodes {
		if r, err := role(n.Addr); err == nil && r == "master" {
			out = append(out, n)
		}
	}
	return out
}

// MasterFor returns the node that serves key's slot now, as a live node
// reports it.
func (c *Cluster) MasterFor(key string) *Server {
	c.tb.Helper()
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second})
		slot, err := cl.ClusterKeySlot(context.Background(), key).Result()
		var shards []redis.ClusterShard
		if err == nil {
			// CLUSTER SHARDS (Redis 7.0, which Debian ships) replaces the
			// deprecated CLUSTER SLOTS.
			shards, err = cl.ClusterShards(context.Background()).Result()
		}
		_ = cl.Close()
		if err != nil {
			continue
		}
		for _, s := range shards {
			if !servesSlot(s, slot) {
				continue
			}
			for _, sn := range s.Nodes {
				if sn.Role != "master" || sn.Health == "failed" {
					continue
				}
				addr := net.JoinHostPort(sn.IP, strconv.FormatInt(sn.Port, 10))
				for _, m := range c.Nodes {
					if m.Addr == addr {
						return m
					}
				}
			}
		}
	}
	c.tb.Fatalf("no node serves the slot of %q", key)
	return nil
}

// servesSlot reports whether shard s holds slot.
func servesSlot(s redis.ClusterShard, slot int64) bool {
	for _, r := range s.Slots {
		if r.Start <= slot && slot <= r.End {
			return true
		}
	}
	return false
}

// WaitOK waits until every one of nodes reports cluster_state:ok, and
// returns the time it saw that.
func (c *Cluster) WaitOK(nodes ...*Server) time.Time {
	c.tb.Helper()
	waitFor(c.tb, 30*time.Second, "cluster_state:ok", func() error {
		for _, n := range nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second})
			info, err := cl.ClusterInfo(context.Background()).Result()
			_ = cl.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: not ok", n.Addr)
			}
		}
		return nil
	})
	return time.Now()
}

// WaitFailedOver waits until every node but victim flags victim as
// failed and reports cluster_state:ok (a replica has taken its slots),
// and returns the time it saw that.
func (c *Cluster) WaitFailedOver(victim *Server) time.Time {
	c.tb.Helper()
	var survivors []*Server
	for _, n := range c.Nodes {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	waitFor(c.tb, 30*time.Second, "the survivors to fail "+victim.Addr+" over", func() error {
		for _, n := range survivors {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second})
			nodes, err := cl.ClusterNodes(context.Background()).Result()
			_ = cl.Close()
			if err != nil {
				return err
			}
			failed := false
			for _, line := range strings.Split(nodes, "\n") {
				f := strings.Fields(line)
				if len(f) > 2 && strings.HasPrefix(f[1], victim.Addr+"@") && strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?") {
					failed = true
				}
			}
			if !failed {
				return fmt.Errorf("%s does not flag %s as failed yet", n.Addr, victim.Addr)
			}
		}
		return nil
	})
	return c.WaitOK(survivors...)
}

// Alive returns the nodes still running.
func (c *Cluster) Alive() []*Server {
	var out []*Server
	for _, n := range c.Nodes {
		if pingRaw(n.Addr) == nil {
			out = append(out, n)
		}
	}
	return out
}

// cliBinary returns the path of redis-cli (Debian's redis-tools), or
// skips or fails like binary.
func cliBinary(tb testing.TB) string {
	tb.Helper()
	binary(tb)
	bin, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv(envRequireRedis) == "1" {
			tb.Fatalf("redis-cli not on PATH and %s=1: %v", envRequireRedis, err)
		}
		tb.Skipf("redis-cli not on PATH (Debian: redis-tools): %v", err)
	}
	return bin
}

// role returns the ROLE of the server at addr: master, slave or sentinel.
func role(addr string) (string, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer func() { _ = cl.Close() }()
	v, err := cl.Do(context.Background(), "ROLE").Slice()
	if err != nil {
		return "", err
	}
	if len(v) == 0 {
		return "", fmt.Errorf("empty ROLE")
	}
	r, _ := v[0].(string)
	return r, nil
}

// Role returns the ROLE of the server at addr: master, slave or sentinel.
func Role(addr string) (string, error) { return role(addr) }

// waitReplicaSynced fails the test unless the master at addr has n
// replicas online within 20 s.
func waitReplicaSynced(tb testing.TB, addr string, n int) {
	tb.Helper()
	waitFor(tb, 20*time.Second, "the replica to sync", func() error { return replicaSynced(addr, n) })
}

func replicaSynced(addr string, n int) error {
	cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer func() { _ = cl.Close() }()
	info, err := cl.Info(context.Background(), "replication").Result()
	if err != nil {
		return err
	}
	online := strings.Count(info, "state=online")
	if online < n {
		return fmt.Errorf("%s has %d replicas online, want %d", addr, online, n)
	}
	return nil
}

func waitFor(tb testing.TB, limit time.Duration, what string, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("waiting for %s: %v", what, err)
}
