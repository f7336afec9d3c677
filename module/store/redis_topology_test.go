package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/billbridge/caddy-billbridge/internal/redistest"
)

// checkAndLog runs one check of client's masters and logs it as a
// module's start does, into an observer.
func checkAndLog(t *testing.T, addr string) ([]nodeReport, *observer.ObservedLogs, *monitor) {
	t.Helper()
	m := newMonitor(newTestClient(t, addr))
	reports, err := m.check(t.Context())
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	for _, r := range reports {
		m.logStart(zap.New(core), r)
	}
	return reports, logs, m
}

func TestRedisDurabilityNoPersistence(t *testing.T) {
	srv := startRedisServer(t) // --save "" --appendonly no
	reports, logs, _ := checkAndLog(t, srv.Addr)
	if len(reports) != 1 || reports[0].verdict != durableNo {
		t.Fatalf("reports = %+v, want one not durable", reports)
	}
	errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(errs) != 1 {
		t.Fatalf("error logs = %v, want one", logs.All())
	}
	if msg := errs[0].Message; !strings.Contains(msg, "forgotten every finished payment") || !strings.Contains(msg, "posted to the legacy API again") {
		t.Errorf("the log does not say what happens to payments: %q", msg)
	}
	if got := gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr); got != durableNo {
		t.Errorf("caddy_billbridge_store_durable{node=%q} = %v, want 0", srv.Addr, got)
	}
}

func TestRedisDurabilityAOFNoEviction(t *testing.T) {
	srv := redistest.StartWith(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction")
	reports, logs, _ := checkAndLog(t, srv.Addr)
	if len(reports) != 1 || reports[0].verdict != durableYes || len(reports[0].problems) != 0 {
		t.Fatalf("reports = %+v, want one durable", reports)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len() + logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Errorf("warnings or errors for a durable Redis: %v", logs.All())
	}
	if got := gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr); got != durableYes {
		t.Errorf("gauge = %v, want 1", got)
	}
}

func TestRedisDurabilityEvictingPolicies(t *testing.T) {
	for policy, want := range map[string]string{
		"volatile-lru": "evicts keys with a TTL",
		"allkeys-lfu":  "may evict any key",
	} {
		t.Run(policy, func(t *testing.T) {
			srv := redistest.StartWith(t, "--appendonly", "yes", "--maxmemory", "100mb", "--maxmemory-policy", policy)
			reports, logs, _ := checkAndLog(t, srv.Addr)
			if len(reports) != 1 || reports[0].verdict != durableNo {
				t.Fatalf("reports = %+v, want not durable", reports)
			}
			errs := logs.FilterLevelExact(zapcore.ErrorLevel).All()
			if len(errs) != 1 || !strings.Contains(errs[0].Message, want) || !strings.Contains(errs[0].Message, "noeviction") {
				t.Errorf("error logs = %v, want one saying %q", logs.All(), want)
			}
		})
	}
}

func TestRedisDurabilityRDBOnly(t *testing.T) {
	srv := redistest.StartWith(t, "--save", "60 1")
	reports, logs, _ := checkAndLog(t, srv.Addr)
	if len(reports) != 1 || reports[0].verdict != durableNo {
		t.Fatalf("reports = %+v, want not durable", reports)
	}
	if errs := logs.FilterLevelExact(zapcore.ErrorLevel).All(); len(errs) != 1 || !strings.Contains(errs[0].Message, "since the last snapshot") {
		t.Errorf("error logs = %v", logs.All())
	}
}

func TestRedisDurabilityConfigDisabled(t *testing.T) {
	srv := redistest.StartWith(t, "--rename-command", "CONFIG", "")
	m := newMonitor(newTestClient(t, srv.Addr))
	core, logs := observer.New(zapcore.DebugLevel)
	for range 2 { // said once, however often it is checked
		reports, err := m.check(t.Context())
		if err != nil || len(reports) != 1 || reports[0].verdict != durableUnknown {
			t.Fatalf("check = %+v, %v; want one unknown", reports, err)
		}
		m.logStart(zap.New(core), reports[0])
	}
	if logs.FilterLevelExact(zapcore.ErrorLevel).Len() != 0 {
		t.Errorf("CONFIG disabled is treated as a failure: %v", logs.All())
	}
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warns) != 1 || !strings.Contains(warns[0].Message, "CONFIG GET is disabled") {
		t.Errorf("warnings = %v, want one saying CONFIG is disabled", logs.All())
	}
	if got := gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr); got != durableUnknown {
		t.Errorf("gauge = %v, want -1", got)
	}

	// The module starts without require_durable, and refuses with it,
	// saying how to skip the check.
	if err := provisionRedis(t, &Redis{Addresses: []string{srv.Addr}}); err != nil {
		t.Fatalf("Provision without require_durable: %v", err)
	}
	err := provisionRedis(t, &Redis{Addresses: []string{srv.Addr}, RequireDurable: true})
	if err == nil || !strings.Contains(err.Error(), "remove require_durable") {
		t.Fatalf("Provision with require_durable = %v, want a refusal saying how to skip it", err)
	}
}

func TestRedisRequireDurable(t *testing.T) {
	plain := startRedisServer(t)
	err := provisionRedis(t, &Redis{Addresses: []string{plain.Addr}, RequireDurable: true})
	if err == nil || !strings.Contains(err.Error(), "may forget finished payments") || !strings.Contains(err.Error(), plain.Addr) {
		t.Fatalf("Provision with require_durable on a Redis without persistence = %v, want a refusal", err)
	}
	// Without require_durable the same Redis starts (and is only reported).
	m := &Redis{Addresses: []string{plain.Addr}}
	reg, err := provisionRedisWithRegistry(t, m)
	if err != nil {
		t.Fatalf("Provision without require_durable: %v", err)
	}
	if got := gaugeValue(t, reg, durableGauge, plain.Addr); got != durableNo {
		t.Errorf("gauge in Caddy's registry = %v, want 0", got)
	}

	durable := redistest.StartWith(t, "--appendonly", "yes")
	m = &Redis{Addresses: []string{durable.Addr}, RequireDurable: true}
	if err := provisionRedis(t, m); err != nil {
		t.Fatalf("Provision with require_durable on an AOF Redis: %v", err)
	}
	s := m.Backend()
	if res, err := s.Claim(t.Context(), "before", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim = %v, %v", res.Outcome, err)
	}
	// Someone turns AOF off; the next check (after a reconnect) sees it,
	// and new claims are refused while completions still go through.
	raw := newTestClient(t, durable.Addr)
	if err := raw.ConfigSet(t.Context(), "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.backend.mon.check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(t.Context(), "after", "B", "fp", time.Minute, time.Hour); !errors.Is(err, ErrNotDurable) {
		t.Errorf("Claim with AOF off under require_durable = %v, want ErrNotDurable", err)
	}
	if err := s.Complete(t.Context(), "before", "A", Response{Status: 200}, time.Hour); err != nil {
		t.Errorf("Complete with AOF off = %v, want nil (the legacy system has the payment)", err)
	}
}

// provisionRedisWithRegistry provisions m and returns the config's
// metrics registry and Provision's error.
func provisionRedisWithRegistry(t *testing.T, m *Redis) (prometheus.Gatherer, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := m.Provision(ctx)
	t.Cleanup(func() { _ = m.Cleanup() })
	return ctx.GetMetricsRegistry(), err
}

// gaugeValue reads the gauge's sample for node from g.
func gaugeValue(t *testing.T, g prometheus.Gatherer, vec *prometheus.GaugeVec, node string) float64 {
	t.Helper()
	if g == prometheus.DefaultGatherer {
		// The package-level collector itself, registered or not.
		var m dto.Metric
		if err := vec.WithLabelValues(node).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetGauge().GetValue()
	}
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "caddy_billbridge_store_durable" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "node" && l.GetValue() == node {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no caddy_billbridge_store_durable{node=%q} in the registry", node)
	return 0
}

// TestRedisDurabilityCheckedAfterReconnect: the settings are read again
// when the client reconnects, without a restart of Caddy.
func TestRedisDurabilityCheckedAfterReconnect(t *testing.T) {
	srv := startRedisServer(t) // no persistence
	m := &Redis{Addresses: []string{srv.Addr}}
	if err := provisionRedis(t, m); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr); got != durableNo {
		t.Fatalf("gauge at start = %v, want 0", got)
	}
	raw := newTestClient(t, srv.Addr)
	if err := raw.ConfigSet(t.Context(), "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	// Cut every client connection: the store's next command reconnects.
	if err := raw.Do(t.Context(), "CLIENT", "KILL", "TYPE", "normal").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		_, _ = m.Backend().Claim(t.Context(), "k"+strconv.Itoa(i), "A", "fp", time.Minute, time.Hour)
		if gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr) == durableYes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gauge still says %v 10s after the reconnect", gaugeValue(t, prometheus.DefaultGatherer, durableGauge, srv.Addr))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisRequireDurableUnreachable: require_durable cannot check a
// Redis that does not answer, so it refuses to start.
func TestRedisRequireDurableUnreachable(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	m := &Redis{Addresses: []string{"127.0.0.1:" + strconv.Itoa(port)}, DialTimeout: ms(200), RequireDurable: true}
	err = provisionRedis(t, m)
	if err == nil || !strings.Contains(err.Error(), "cannot check Redis") || !strings.Contains(err.Error(), "remove require_durable") {
		t.Fatalf("Provision with require_durable and Redis down = %v, want a refusal", err)
	}
	if m.Backend() != nil {
		t.Errorf("a refused Provision left a backend")
	}
}
