package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A Redis that forgets cannot keep the exactly-once promise: a finished
// payment it forgets is claimable again, and the next gateway retry is
// posted to the legacy system a second time. The monitor reads each
// master's persistence and eviction settings, and its replicas, at start
// and after every reconnect or topology error, says at error level what
// will happen to payments when they are unsafe, and exports the verdict.

// Durability verdicts, also the values of caddy_billbridge_store_durable.
const (
	durableUnknown = -1 // CONFIG is disabled (managed Redis) or the node did not answer
	durableNo      = 0  // no AOF, or an evicting maxmemory-policy
	durableYes     = 1  // appendonly yes and maxmemory-policy noeviction
)

// Package-level collectors, registered on each config's registry (the
// Caddy way: a new registry per config load, the same collectors).
var (
	durableGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "billbridge", Name: "store_durable",
		Help: "Whether a Redis master of the store can keep finished payments: 1 AOF on and maxmemory-policy noeviction, 0 it may forget them (no AOF, or an evicting policy), -1 unknown (CONFIG disabled).",
	}, []string{"node"})
	replicasGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "billbridge", Name: "store_replicas",
		Help: "Replicas connected to a Redis master of the store, as its INFO replication last reported.",
	}, []string{"node"})
)

// registerStoreMetrics adds the store's collectors to reg, tolerating
// collectors already registered there.
func registerStoreMetrics(reg prometheus.Registerer, logger *zap.Logger) {
	if reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{durableGauge, replicasGauge} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				logger.Warn("registering the store's metrics", zap.Error(err))
			}
		}
	}
}

// nodeReport is what one check found on one master.
type nodeReport struct {
	addr     string
	verdict  int
	problems []string // why it may forget payments, for the log
	configOK bool     // CONFIG GET answered
	cfgErr   error    // why not
	fields   []zap.Field
	replicas int // connected_slaves; -1 unknown
}

// monitor checks the masters of one client. It is shared by every store
// module using the client.
type monitor struct {
	client redis.UniversalClient
	// logs: background checks log what changed (the module's monitor;
	// a bare backend's stays quiet).
	logs bool

	mu      sync.Mutex
	nodes   map[string]nodeReport
	logged  map[string]string // addr -> last verdict logged in the background
	unknown map[string]bool   // addr -> "CONFIG disabled" said once
	// hadReplicas: masters seen with replicas. Such a master keeps
	// waiting for one when they go: a master whose replica has left may
	// be the one a failover is leaving behind, and what it accepts now
	// is lost when it is made a replica of the new master.
	hadReplicas map[string]bool
	last        time.Time
	running     bool
	pending     bool
	unsafe      atomic.Bool // some master may forget payments, or is unknown
	reloadAt    atomic.Int64
}

func newMonitor(client redis.UniversalClient) *monitor {
	return &monitor{client: client, nodes: map[string]nodeReport{}, logged: map[string]string{}, unknown: map[string]bool{}, hadReplicas: map[string]bool{}}
}

// minCheckInterval bounds how often a background check runs.
const minCheckInterval = time.Second

// checkTimeout bounds one check of every master.
const checkTimeout = 2 * time.Second

// kick asks for a background check, at most one per minCheckInterval;
// kicks during a check coalesce into one more.
func (m *monitor) kick() {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.running {
		m.pending = true
		m.mu.Unlock()
		return
	}
	wait := minCheckInterval - time.Since(m.last)
	m.running = true
	m.mu.Unlock()
	go func() {
		for {
			if wait > 0 {
				time.Sleep(wait)
			}
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			reports, _ := m.check(ctx)
			cancel()
			if m.logs {
				m.logChanges(caddy.Log().Named("billbridge.stores.redis"), reports)
			}
			m.mu.Lock()
			if !m.pending {
				m.running = false
				m.mu.Unlock()
				return
			}
			m.pending = false
			m.mu.Unlock()
			wait = minCheckInterval
		}
	}()
}

// check reads every master's settings now and records them. err is set
// when no master could be asked at all.
func (m *monitor) check(ctx context.Context) ([]nodeReport, error) {
	var (
		mu      sync.Mutex
		reports []nodeReport
	)
	one := func(ctx context.Context, c *redis.Client) error {
		r, err := inspect(ctx, c)
		if err != nil {
			return err
		}
		mu.Lock()
		reports = append(reports, r)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := m.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, one)
	case *redis.Client:
		err = one(ctx, c)
	default:
		err = fmt.Errorf("unsupported client %T", m.client)
	}
	m.mu.Lock()
	m.last = time.Now()
	if err == nil {
		// Every master answered: forget nodes that are masters no more.
		m.nodes = make(map[string]nodeReport, len(reports))
	}
	for _, r := range reports {
		m.nodes[r.addr] = r
		if r.replicas > 0 {
			m.hadReplicas[r.addr] = true
		}
	}
	unsafe := false
	for _, r := range m.nodes {
		unsafe = unsafe || r.verdict != durableYes
	}
	m.mu.Unlock()
	m.unsafe.Store(unsafe)
	for _, r := range reports {
		durableGauge.WithLabelValues(r.addr).Set(float64(r.verdict))
		if r.replicas >= 0 {
			replicasGauge.WithLabelValues(r.addr).Set(float64(r.replicas))
		}
	}
	if err == nil && len(reports) == 0 {
		err = errors.New("no master answered")
	}
	return reports, err
}

// replicas returns the replicas addr last reported, or that it had
// earlier, whichever is more; known is false if it was never checked.
func (m *monitor) replicas(addr string) (n int, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.nodes[addr]
	if m.hadReplicas[addr] && (!ok || r.replicas <= 0) {
		return 1, true
	}
	if !ok || r.replicas < 0 {
		return 0, false
	}
	return r.replicas, true
}

// inspect reads one master's persistence, eviction and replication. It
// fails only when the master did not answer at all; a refused CONFIG is
// an unknown verdict.
func inspect(ctx context.Context, c *redis.Client) (nodeReport, error) {
	r := nodeReport{addr: c.Options().Addr, verdict: durableUnknown, replicas: -1}
	var aof, save, policy, maxmem *redis.MapStringStringCmd
	var repl *redis.StringCmd
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		aof = p.ConfigGet(ctx, "appendonly")
		save = p.ConfigGet(ctx, "save")
		policy = p.ConfigGet(ctx, "maxmemory-policy")
		maxmem = p.ConfigGet(ctx, "maxmemory")
		repl = p.Info(ctx, "replication")
		return nil
	})
	info, err := repl.Result()
	if err != nil && !isServerReply(err) {
		return r, fmt.Errorf("%s: %w", r.addr, err)
	}
	if err == nil {
		r.replicas = infoInt(info, "connected_slaves")
		if role := infoField(info, "role"); role != "" {
			r.fields = append(r.fields, zap.String("role", role))
		}
	}
	for _, cmd := range []*redis.MapStringStringCmd{aof, save, policy, maxmem} {
		if err := cmd.Err(); err != nil {
			if !isServerReply(err) {
				return r, fmt.Errorf("%s: %w", r.addr, err)
			}
			r.cfgErr = err
			return r, nil
		}
	}
	r.configOK = true
	a, s, p, mm := aof.Val()["appendonly"], save.Val()["save"], policy.Val()["maxmemory-policy"], maxmem.Val()["maxmemory"]
	r.fields = append(r.fields, zap.String("appendonly", a), zap.String("save", s),
		zap.String("maxmemory_policy", p), zap.String("maxmemory", mm), zap.Int("replicas", r.replicas))
	r.verdict = durableYes
	if a != "yes" {
		r.verdict = durableNo
		if s == "" {
			r.problems = append(r.problems, "no persistence (appendonly no, save \"\"): when Redis restarts it has forgotten every finished payment, and a gateway retry of one is posted to the legacy API again")
		} else {
			r.problems = append(r.problems, "no AOF (appendonly no; only RDB snapshots, save \""+s+"\"): a crash forgets the payments finished since the last snapshot, and their retries are posted to the legacy API again")
		}
	}
	if p != "" && p != "noeviction" {
		r.verdict = durableNo
		what := "may evict any key"
		if strings.HasPrefix(p, "volatile-") {
			what = "evicts keys with a TTL, and every billbridge record has one"
		}
		r.problems = append(r.problems, "maxmemory-policy "+p+" "+what+": an evicted finished payment is forgotten and its next retry is posted to the legacy API again (set maxmemory-policy noeviction)")
	}
	return r, nil
}

// isServerReply reports whether err is an error reply from Redis (such
// as an unknown or forbidden command), not a failure to reach it.
func isServerReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// logChanges logs each report whose verdict changed since the last one
// logged for its node, and says once per node that CONFIG is disabled.
func (m *monitor) logChanges(logger *zap.Logger, reports []nodeReport) {
	for _, r := range reports {
		m.mu.Lock()
		key := strconv.Itoa(r.verdict) + strings.Join(r.problems, ";")
		changed := m.logged[r.addr] != key
		m.logged[r.addr] = key
		m.mu.Unlock()
		if changed {
			m.log(logger, r)
		}
	}
}

// logStart logs r at a module's start, whatever was logged before, and
// remembers it so the background checks log only changes.
func (m *monitor) logStart(logger *zap.Logger, r nodeReport) {
	m.mu.Lock()
	m.logged[r.addr] = strconv.Itoa(r.verdict) + strings.Join(r.problems, ";")
	m.mu.Unlock()
	m.log(logger, r)
}

// log says what r means for payments.
func (m *monitor) log(logger *zap.Logger, r nodeReport) {
	node := zap.String("node", r.addr)
	switch {
	case !r.configOK:
		m.mu.Lock()
		said := m.unknown[r.addr]
		m.unknown[r.addr] = true
		m.mu.Unlock()
		if !said {
			logger.Warn("cannot read Redis's persistence and eviction settings (CONFIG GET is disabled or failed, as on many managed services); make sure it runs with appendonly yes and maxmemory-policy noeviction, or finished payments may be forgotten and posted again",
				node, zap.Error(r.cfgErr))
		}
	case r.verdict == durableNo:
		logger.Error("Redis may forget finished payments: "+strings.Join(r.problems, "; "), append([]zap.Field{node}, r.fields...)...)
	}
}

// durabilityError is the refusal of require_durable, or nil.
func durabilityError(reports []nodeReport, checkErr error, describe string) error {
	if checkErr != nil && len(reports) == 0 {
		return fmt.Errorf("require_durable: cannot check Redis at %s: %w (remove require_durable to start without the check)", describe, checkErr)
	}
	var errs []error
	for _, r := range reports {
		switch {
		case !r.configOK:
			errs = append(errs, fmt.Errorf("require_durable: cannot read the persistence settings of Redis at %s (%w); check appendonly yes and maxmemory-policy noeviction by hand and remove require_durable to start", r.addr, r.cfgErr))
		case r.verdict != durableYes:
			errs = append(errs, fmt.Errorf("require_durable: Redis at %s may forget finished payments: %s", r.addr, strings.Join(r.problems, "; ")))
		}
	}
	if checkErr != nil {
		errs = append(errs, fmt.Errorf("require_durable: checking Redis at %s: %w", describe, checkErr))
	}
	return errors.Join(errs...)
}

// infoField returns the value of name in an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func infoInt(info, name string) int {
	n, err := strconv.Atoi(infoField(info, name))
	if err != nil {
		return -1
	}
	return n
}

// topologyError reports whether err means the client's view of the
// servers may be stale: the connection broke, the node is not (or no
// longer) the master of the slot, or the cluster is reconfiguring.
func topologyError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, redis.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsLoadingError(err) {
		return true
	}
	if _, ok := redis.IsMovedError(err); ok {
		return true
	}
	if _, ok := redis.IsAskError(err); ok {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"MOVED ", "ASK ", "READONLY ", "CLUSTERDOWN ", "TRYAGAIN ", "MASTERDOWN ", "LOADING ", "connection refused", "connection reset", "broken pipe", "i/o timeout", "no such host"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// minReloadInterval bounds how often a topology error reloads the
// cluster's slot map (go-redis adds its own 200 ms cooldown).
const minReloadInterval = 100 * time.Millisecond

// refresh reacts to a topology error: the cluster's slot map (and, for
// Sentinel, the master the sentinels name) is reloaded at once, and the
// masters are checked again.
func (m *monitor) refresh() {
	if m == nil {
		return
	}
	now := time.Now().UnixNano()
	last := m.reloadAt.Load()
	if now-last >= int64(minReloadInterval) && m.reloadAt.CompareAndSwap(last, now) {
		if c, ok := m.client.(*redis.ClusterClient); ok {
			c.ReloadState(context.Background())
		}
	}
	m.kick()
}
