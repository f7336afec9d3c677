package billbridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/billbridge/caddy-billbridge/module/store"
)

func TestCustodyGauges(t *testing.T) {
	env := newAdminEnv(t, nil)
	c := &custodyCollector{running: func() *App { return env.app }, now: time.Now, timeout: time.Second}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	// Nothing in custody: no flow series, and nothing waiting.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP caddy_billbridge_custody_oldest_queued_seconds Age of the oldest event in custody not yet delivered (queued or processing); 0 if none.
# TYPE caddy_billbridge_custody_oldest_queued_seconds gauge
caddy_billbridge_custody_oldest_queued_seconds 0
`)); err != nil {
		t.Error(err)
	}

	env.dead(t, "bill24:webhook", "a")
	env.delivered(t, "bill24:webhook", "done") // not in the counts: done
	first := env.hold(t, "bill24:webhook", "b")
	env.hold(t, "shop-a:bill24:webhook", "c")
	env.hold(t, "qm:callback", "d")
	env.lease(t, "W") // b, c, d processing
	env.hold(t, "qm:callback", "e")
	if _, err := env.mem.Discard(t.Context(), "qm:callback:e", "test event", testRetention); err != nil {
		t.Fatal(err)
	}
	if _, err := env.mem.Claim(t.Context(), "qm:callback:sync", "A", "fp", time.Minute, testRetention); err != nil {
		t.Fatal(err) // synchronous: not in custody, not counted
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP caddy_billbridge_custody_events Events in the store's custody, by flow and state (queued, processing, dead, discarded), read from the store at scrape time.
# TYPE caddy_billbridge_custody_events gauge
caddy_billbridge_custody_events{flow="bill24_webhook",state="dead"} 1
caddy_billbridge_custody_events{flow="bill24_webhook",state="discarded"} 0
caddy_billbridge_custody_events{flow="bill24_webhook",state="processing"} 1
caddy_billbridge_custody_events{flow="bill24_webhook",state="queued"} 0
caddy_billbridge_custody_events{flow="qm_callback",state="dead"} 0
caddy_billbridge_custody_events{flow="qm_callback",state="discarded"} 1
caddy_billbridge_custody_events{flow="qm_callback",state="processing"} 1
caddy_billbridge_custody_events{flow="qm_callback",state="queued"} 0
caddy_billbridge_custody_events{flow="shop-a:bill24_webhook",state="dead"} 0
caddy_billbridge_custody_events{flow="shop-a:bill24_webhook",state="discarded"} 0
caddy_billbridge_custody_events{flow="shop-a:bill24_webhook",state="processing"} 1
caddy_billbridge_custody_events{flow="shop-a:bill24_webhook",state="queued"} 0
`), "caddy_billbridge_custody_events"); err != nil {
		t.Error(err)
	}

	// The oldest waiting is b, held first of those not dead or done.
	rec, _, _ := env.mem.Get(t.Context(), first)
	now := rec.CreatedAt.Add(90 * time.Second)
	c.now = func() time.Time { return now }
	if got := testutil.ToFloat64(gaugeOnly{c, custodyOldestDesc}); got != 90 {
		t.Errorf("oldest queued = %v s, want 90", got)
	}
}

// gaugeOnly collects one of c's descriptors.
type gaugeOnly struct {
	c    prometheus.Collector
	desc *prometheus.Desc
}

func (g gaugeOnly) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g gaugeOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { g.c.Collect(all); close(all) }()
	for m := range all {
		if m.Desc() == g.desc {
			ch <- m
		}
	}
}

// stuckStore's Stats answers only when its context ends.
type stuckStore struct{ *store.MemoryBackend }

func (stuckStore) Stats(ctx context.Context) (store.Stats, error) {
	<-ctx.Done()
	return store.Stats{}, ctx.Err()
}

func TestCustodyGaugesStoreDown(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	app := &App{store: stuckStore{store.NewMemoryBackend()}, logger: zap.New(core)}
	c := &custodyCollector{running: func() *App { return app }, now: time.Now, timeout: 50 * time.Millisecond}
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "other", Help: "another collector"})
	other.Set(7)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c, other)
	start := time.Now()
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n != 1 {
		t.Errorf("scrape = %d series, %v; want the other one alone", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the scrape waited %v for the store", d)
	}
	if e := logs.FilterMessageSnippet("custody metrics").All(); len(e) != 1 || e[0].Level != zapcore.DebugLevel {
		t.Errorf("log = %+v", logs.All())
	}

	// No app running, or a store without custody: no series either.
	for _, a := range []*App{nil, {store: syncOnly{store.NewMemoryBackend()}, logger: zap.NewNop()}} {
		c.running = func() *App { return a }
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("app %v: %d series", a, n)
		}
	}
}

// TestCustodyGaugesRegisterOncePerRegistry: every config load registers
// the process's collector on its own registry; a second registration on
// the same one (two apps, or a retried provision) is not an error.
func TestCustodyGaugesRegisterOncePerRegistry(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	for range 2 {
		reg := prometheus.NewPedanticRegistry()
		registerCustodyMetrics(reg, zap.New(core))
		registerCustodyMetrics(reg, zap.New(core))
		if !reg.Unregister(custodyGauges) {
			t.Error("the collector is not registered")
		}
	}
	if logs.Len() != 0 {
		t.Errorf("warnings: %+v", logs.All())
	}
	// A collector of the same name but another shape is refused, loudly.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "caddy_billbridge_custody_oldest_queued_seconds", Help: "x"}))
	registerCustodyMetrics(reg, zap.New(core))
	if logs.FilterMessage("registering the custody metrics").Len() != 1 {
		t.Errorf("a clash is not logged: %+v", logs.All())
	}
}

func TestFlowLabel(t *testing.T) {
	for in, want := range map[string]string{"bill24:webhook": "bill24_webhook", "qm:create_bill": "qm_create_bill", "shop-a:qm:callback": "shop-a:qm_callback", "x": "x"} {
		if got := flowLabel(in); got != want {
			t.Errorf("flowLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
