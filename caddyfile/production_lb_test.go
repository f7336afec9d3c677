package caddyfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// productionInstance is examples/production/Caddyfile as a process: as
// written, but for the harness's ports, the allow-list (the test's
// gateway is 127.0.0.1) and a shorter legacy timeout.
func productionInstance(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../examples", "production", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, e := range [][2]string{
		{"\n{\n", "\n{\n{{globals}}"},
		{"{$SITE:pay.example.com} {", "http://127.0.0.1:{{port}} {"},
		{"203.0.113.0/24", "127.0.0.1/32"},
		// A shorter legacy timeout, and so lease (2 × timeout + 10s): a
		// killed instance's deliveries are taken over within the test.
		{"timeout 8s", "timeout 2s"},
	} {
		if strings.Count(s, e[0]) != 1 {
			t.Fatalf("production Caddyfile: %q does not occur once", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	return s
}

// loadBalancer is examples/production/load-balancer.Caddyfile as a
// process in front of instances, with a faster health check.
func loadBalancer(t *testing.T, instances ...*caddyProc) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../examples", "production", "load-balancer.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, p := range instances {
		addrs = append(addrs, p.URL(""))
	}
	s := string(src)
	for _, e := range [][2]string{
		{"\n{\n", "\n{\n{{globals}}"},
		{"{$SITE:pay.example.com} {", "http://127.0.0.1:{{port}} {"},
		{"{$INSTANCES}", strings.Join(addrs, " ")},
		{"health_interval 2s", "health_interval 250ms"},
	} {
		if strings.Count(s, e[0]) != 1 {
			t.Fatalf("load-balancer.Caddyfile: %q does not occur once", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	return s
}

// TestProductionTwoInstancesBehindALoadBalancer runs the production
// example as documented: two instances on one durable Redis behind a load
// balancer. One instance is killed in the middle of the gateway's
// deliveries: every payment is acknowledged and booked exactly once.
func TestProductionTwoInstancesBehindALoadBalancer(t *testing.T) {
	redis := redistest.StartWith(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction")
	stub := newLegacyStub(t)
	stub.bookWait.Store(int64(100 * time.Millisecond))
	t.Setenv("REDIS_URL", "redis://"+redis.Addr)
	t.Setenv("LEGACY_URL", stub.URL())
	t.Setenv("LEGACY_API_KEY", "k")
	t.Setenv("OPS_PASSWORD_HASH", opsPasswordHash)
	t.Setenv("BILL24_TOKEN", "tok-webhook")
	cfg := productionInstance(t)
	a, b := startCaddy(t, "instance-a", cfg), startCaddy(t, "instance-b", cfg)
	lb := startCaddy(t, "load-balancer", loadBalancer(t, a, b))
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = uniqueID(t, fmt.Sprintf("lb%03d", i))
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		eventually(10*time.Second, func() bool { return stub.posts.Load() > 50 })
		a.Kill()
	}()
	holdAll(t, "/bill24/webhook", ids, lb)
	<-killed
	bookedOnce(t, stub, ids, 30*time.Second)
	allDone(t, b.Admin, ids, 25*time.Second)
	if stub.lookups.Load() == 0 {
		t.Errorf("no delivery cut by the kill was looked up: the test proves less than it says")
	}
	bookedOnce(t, stub, ids, 0)
}
