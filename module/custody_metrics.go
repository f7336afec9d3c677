package billbridge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// The custody gauges are read from the running app's store on every
// scrape (Queue.Stats), not kept in process: with a shared store, every
// instance reports the same queue, and a count survives restarts.
var (
	custodyEventsDesc = prometheus.NewDesc("caddy_billbridge_custody_events",
		"Events in the store's custody, by flow and state (queued, processing, dead, discarded), read from the store at scrape time.",
		[]string{"flow", "state"}, nil)
	custodyOldestDesc = prometheus.NewDesc("caddy_billbridge_custody_oldest_queued_seconds",
		"Age of the oldest event in custody not yet delivered (queued or processing); 0 if none.",
		nil, nil)
)

// custodyStates are the states the gauges report, 0 included, for every
// flow the store holds events of.
var custodyStates = []store.State{store.StateQueued, store.StateProcessing, store.StateDead, store.StateDiscarded}

// statsTimeout bounds the store's answer to a scrape.
const statsTimeout = time.Second

// custodyCollector reports the custody gauges of the running app's store.
type custodyCollector struct {
	running func() *App
	now     func() time.Time
	timeout time.Duration
}

// custodyGauges is the process's collector: it reads whichever app is
// running, so registering it on each config's registry is enough.
var custodyGauges = &custodyCollector{running: activeApp.Load, now: time.Now, timeout: statsTimeout}

// registerCustodyMetrics registers the custody gauges on reg, once.
func registerCustodyMetrics(reg prometheus.Registerer, logger *zap.Logger) {
	if reg == nil {
		return
	}
	if err := reg.Register(custodyGauges); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			logger.Warn("registering the custody metrics", zap.Error(err))
		}
	}
}

// Describe implements prometheus.Collector.
func (c *custodyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- custodyEventsDesc
	ch <- custodyOldestDesc
}

// Collect implements prometheus.Collector. A store that does not answer in
// time leaves its series out of this scrape; the rest goes on.
func (c *custodyCollector) Collect(ch chan<- prometheus.Metric) {
	app := c.running()
	if app == nil {
		return
	}
	q, ok := app.store.(store.Queue)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := q.Stats(ctx)
	if err != nil {
		app.logger.Debug("custody metrics: the store did not answer; this scrape goes without them", zap.Error(err))
		return
	}
	// By label, so that no two series could ever share one (a scrape
	// with a duplicate fails as a whole).
	byLabel := map[string]map[store.State]int{}
	for flow, counts := range st.Count {
		l := flowLabel(flow)
		if byLabel[l] == nil {
			byLabel[l] = map[store.State]int{}
		}
		for s, n := range counts {
			byLabel[l][s] += n
		}
	}
	for flow, counts := range byLabel {
		for _, s := range custodyStates {
			ch <- prometheus.MustNewConstMetric(custodyEventsDesc, prometheus.GaugeValue, float64(counts[s]), flow, string(s))
		}
	}
	age := 0.0
	if !st.OldestQueued.IsZero() {
		age = max(c.now().Sub(st.OldestQueued).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(custodyOldestDesc, prometheus.GaugeValue, age)
}

// flowLabel writes a flow's store key as the flow label of billbridge's
// other metrics (the handler's flow name, bill24_webhook), the namespace
// kept in front (shop-a:bill24_webhook) so two sites' queues stay apart.
func flowLabel(key string) string {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return key
	}
	return key[:i] + "_" + key[i+1:]
}
