package billbridge

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// flowMetrics are billbridge's collectors, in Caddy's registry as
// caddy_billbridge_*. Labels are flows, outcomes and status classes only:
// never event ids or customers.
type flowMetrics struct {
	events   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dedupes  *prometheus.CounterVec
	legacy   *prometheus.HistogramVec
	verifies *prometheus.CounterVec
	delivery *prometheus.CounterVec
}

var (
	metricsOnce sync.Once
	metrics     *flowMetrics
)

// registerMetrics creates the collectors once per process and registers
// them on this config's registry (a new one per config load).
func registerMetrics(reg prometheus.Registerer, logger *zap.Logger) *flowMetrics {
	metricsOnce.Do(func() {
		const ns, sub = "caddy", "billbridge"
		metrics = &flowMetrics{
			events: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "events_total",
				Help: "Gateway requests handled, by flow and outcome.",
			}, []string{"flow", "outcome"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "event_duration_seconds",
				Help:    "Time to answer a gateway request, by flow.",
				Buckets: prometheus.DefBuckets,
			}, []string{"flow"}),
			dedupes: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "dedupe_total",
				Help: "Store decisions for money-moving events: claimed, replay, in_flight, conflict, found_by_lookup, store_error.",
			}, []string{"flow", "result"}),
			legacy: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "legacy_duration_seconds",
				Help:    "Legacy API call latency, by flow and status class (2xx…5xx, error).",
				Buckets: prometheus.DefBuckets,
			}, []string{"flow", "status"}),
			verifies: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "verifications_total",
				Help: "Checks with the gateway's own record: verified, mismatch, not_final, unknown, error.",
			}, []string{"flow", "result"}),
			delivery: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "deliveries_total",
				Help: "Delivery attempts of payments held in custody, by flow and outcome: delivered, retry, dead.",
			}, []string{"flow", "outcome"}),
		}
	})
	for _, c := range []prometheus.Collector{metrics.events, metrics.duration, metrics.dedupes, metrics.legacy, metrics.verifies, metrics.delivery} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				logger.Warn("registering metrics", zap.Error(err))
			}
		}
	}
	return metrics
}

func (m *flowMetrics) observe(flow, outcome string, d time.Duration) {
	m.events.WithLabelValues(flow, outcome).Inc()
	m.duration.WithLabelValues(flow).Observe(d.Seconds())
}

func (m *flowMetrics) dedupe(flow, result string) {
	m.dedupes.WithLabelValues(flow, result).Inc()
}

func (m *flowMetrics) delivered(flow, outcome string) {
	m.delivery.WithLabelValues(flow, outcome).Inc()
}

func (m *flowMetrics) verify(flow, result string) {
	m.verifies.WithLabelValues(flow, result).Inc()
}

func (m *flowMetrics) observeLegacy(flow string, status int, err error, d time.Duration) {
	class := "error"
	if err == nil {
		class = strconv.Itoa(status/100) + "xx"
	}
	m.legacy.WithLabelValues(flow, class).Observe(d.Seconds())
}
