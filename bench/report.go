package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/billbridge/caddy-billbridge/bench/internal/hist"
)

// report is everything a run measured; latest.json is its JSON form.
type report struct {
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Commit    string    `json:"commit"`
	Dirty     []string  `json:"uncommitted,omitempty"` // tracked files changed outside bench/
	Machine   machine   `json:"machine"`
	Params    params    `json:"params"`
	Scenarios []*scenario

	Closed    map[string]*agg `json:"closed"`
	FixedRate float64         `json:"fixed_rate,omitempty"`
	Fixed     map[string]*agg `json:"fixed,omitempty"`
	Runs      []*runRec       `json:"runs"`

	Memory      []memRec      `json:"memory"`
	ExactlyOnce exactlyOnce   `json:"exactly_once"`
	CaddyLogs   []logSummary  `json:"caddy_logs"`
	Targets     []target      `json:"targets"`
	Profiles    []profile     `json:"profiles,omitempty"`
	Long        []*longResult `json:"long,omitempty"`
	// Deliveries: what the stub saw of every run of a queued scenario.
	Deliveries []*delivery `json:"deliveries,omitempty"`

	webhookGood   int64 // 200s to unique webhooks, warm-up included
	forwardedGood int64 // 200s to (h)'s forwarded webhooks
}

type machine struct {
	NumCPU int    `json:"nproc"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
	MemMiB int64  `json:"mem_mib"`
	Go     string `json:"go"`
	Caddy  string `json:"caddy"`
	Redis  string `json:"redis"`
	// LoadAvg is /proc/loadavg when the run began: other work on the machine.
	LoadAvg string `json:"loadavg"`
}

type params struct {
	Rounds   int    `json:"rounds"`
	Duration string `json:"duration"`
	Warmup   string `json:"warmup"`
	Conns    int    `json:"conns"`
}

// runRec is one loadgen run.
type runRec struct {
	Mode       string           `json:"mode"` // closed, fixed, long
	Round      int              `json:"round,omitempty"`
	Scenario   string           `json:"scenario"`
	RPS        float64          `json:"rps"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	SentErrors int64            `json:"sent_errors"`
	P50ms      float64          `json:"p50_ms"`
	P99ms      float64          `json:"p99_ms"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	// CPU time per request, in µs, of each process, over the whole run
	// (warm-up included).
	CPU         cpuPerReq `json:"cpu_us_per_req"`
	MachineBusy float64   `json:"machine_busy_pct"`
	// ForeignCPU is the CPU used meanwhile by processes outside the
	// benchmark, in cores (machine busy time minus the stack's, per second).
	ForeignCPU float64 `json:"foreign_cpu_cores"`
	// Disturbed: other work used more than disturbedCores meanwhile.
	Disturbed bool `json:"disturbed,omitempty"`

	window float64
	hist   *hist.H
	sent   int64
}

// disturbedCores is how much CPU other processes may use during a run
// before the run is flagged as disturbed.
const disturbedCores = 0.25

type cpuPerReq struct {
	Caddy   float64 `json:"caddy"`
	Stub    float64 `json:"stub"`
	Redis   float64 `json:"redis"`
	Loadgen float64 `json:"loadgen"`
	Total   float64 `json:"total"`
}

// agg is a scenario's runs of one mode, together.
type agg struct {
	Scenario   string           `json:"scenario"`
	Name       string           `json:"name"`
	Rounds     int              `json:"rounds"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`      // in measured windows
	SentErrors int64            `json:"sent_errors"` // warm-up included
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	RPS        float64          `json:"rps"` // all rounds' requests over all rounds' time
	RPSMedian  float64          `json:"rps_median"`
	RPSMin     float64          `json:"rps_min"`
	RPSMax     float64          `json:"rps_max"`
	// Ratio is the median over rounds of this scenario's throughput over
	// (a)'s in the same round: the runs are neighbours in time, so noise
	// that lasts a while hits both. Only pairs where neither run was
	// disturbed count, when there are any (CleanPairs); Pairs says how
	// many pairs were used.
	Ratio      float64 `json:"ratio_to_a"`
	Pairs      int     `json:"pairs"`
	CleanPairs bool    `json:"clean_pairs"`
	// RatioH, PairsH, CleanPairsH, P99DeltaH and CPURatioH are the same
	// against (h), reverse_proxy of the same webhook POST: the webhooks'
	// fair baseline.
	RatioH      float64 `json:"ratio_to_h"`
	PairsH      int     `json:"pairs_h"`
	CleanPairsH bool    `json:"clean_pairs_h"`
	P99DeltaH   float64 `json:"p99_minus_h_median_ms"`
	CPURatioH   float64 `json:"cpu_ratio_to_h"`
	// P99Median is the median of the rounds' p99; P99DeltaMedian the
	// median over rounds of this p99 minus (a)'s p99 in the same round.
	P99Median      float64 `json:"p99_median_ms"`
	P99DeltaMedian float64 `json:"p99_minus_a_median_ms"`
	Disturbed      int     `json:"disturbed_rounds"`
	// CPURatio is (a)'s CPU per request (all processes of the stack) over
	// this scenario's: the throughput ratio to expect when the stack has
	// the machine to itself and is bound by CPU, whatever else ran
	// meanwhile.
	CPURatio    float64   `json:"cpu_ratio_to_a"`
	P50ms       float64   `json:"p50_ms"`
	P90ms       float64   `json:"p90_ms"`
	P99ms       float64   `json:"p99_ms"`
	P999ms      float64   `json:"p999_ms"`
	Maxms       float64   `json:"max_ms"`
	CPU         cpuPerReq `json:"cpu_us_per_req"`
	MachineBusy float64   `json:"machine_busy_pct"`
	ForeignCPU  float64   `json:"foreign_cpu_cores"`

	window  float64
	foreign float64 // summed over rounds
	runs    []*runRec
	hist    hist.H
	sent    int64
	cpu     cpuPerReq // summed µs
	busy    float64   // summed over rounds
}

type memRec struct {
	Process  string `json:"process"`
	StartRSS int64  `json:"start_rss"`
	EndRSS   int64  `json:"end_rss"`
	PeakRSS  int64  `json:"peak_rss"` // VmHWM
}

type exactlyOnce struct {
	WebhookOK      int64 `json:"webhook_200s"`
	SmokePosts     int64 `json:"smoke_posts"`
	LegacyPayments int64 `json:"legacy_payments"`
	// Duplicates: payments whose txn_ref the stub had booked before.
	Duplicates int64 `json:"duplicates"`
	// ForwardedOK and Forwarded: (h)'s 200s (smoke test's included) and
	// the JSON bodies the stub booked.
	ForwardedOK int64 `json:"forwarded_200s"`
	Forwarded   int64 `json:"forwarded"`
	// WaitSeconds: how long the check waited for the queues to drain.
	WaitSeconds float64 `json:"wait_s"`
	OK          bool    `json:"ok"`
	Note        string  `json:"note"`
}

type logSummary struct {
	Process string         `json:"process"`
	Lines   int64          `json:"lines"`
	Bytes   int64          `json:"bytes"`
	Levels  map[string]int `json:"levels"`
	// Problems counts warn and error messages, by message.
	Problems map[string]int `json:"problems,omitempty"`
}

type target struct {
	What     string `json:"what"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil: not measured
}

type profile struct {
	Scenario  string `json:"scenario"`
	File      string `json:"file"`
	AllocFile string `json:"alloc_file"`
	// Requests is about how many requests Caddy served in the window.
	Requests int64  `json:"requests"`
	Top      string `json:"top"`
	Cum      string `json:"top_cum"`
	Allocs   string `json:"allocs_cum"`
}

type longSample struct {
	T            float64 `json:"t_s"`
	Sent         int64   `json:"sent"`
	Delivered    int64   `json:"stub_payments"` // the stub's count, all runs
	CaddyRSS     int64   `json:"caddy_rss"`
	CaddyRSSAnon int64   `json:"caddy_rss_anon"` // heap, stacks: the process's own
	CaddyRSSFile int64   `json:"caddy_rss_file"` // mapped files: the binary, bbolt's mmap
	FileSize     int64   `json:"file_size,omitempty"`
	// Draining: taken after the last answer, while the queue drained;
	// left out of the slopes, whose x is requests sent.
	Draining   bool  `json:"draining,omitempty"`
	CaddyHeap  int64 `json:"caddy_heap_goal"` // memstats.NextGC
	Goroutines int   `json:"caddy_goroutines"`
	RedisRSS   int64 `json:"redis_rss"`
	OtherRSS   int64 `json:"caddy_base_rss"` // the idle caddy-base, for contrast
}

type longResult struct {
	Scenario string `json:"scenario"`
	Name     string `json:"name"`
	Process  string `json:"process"`
	// Seconds: the whole run, the queue's drain included;
	// AnsweredSeconds: until the last answer.
	Seconds         float64   `json:"seconds"`
	AnsweredSeconds float64   `json:"answered_seconds"`
	Delivery        *delivery `json:"delivery,omitempty"`
	// The store's growth over the run, for its bytes per payment.
	RedisUsedMemoryBefore int64        `json:"redis_used_memory_before"`
	FileBefore            int64        `json:"file_size_before,omitempty"`
	FileAfter             int64        `json:"file_size_after,omitempty"`
	FileAllocBefore       int64        `json:"file_alloc_before,omitempty"`
	FileAllocAfter        int64        `json:"file_alloc_after,omitempty"`
	AnonSlopeMiBPerM      float64      `json:"caddy_rss_anon_slope_mib_per_million"`
	StoreBytesPerPayment  float64      `json:"store_bytes_per_payment"`
	Requests              int64        `json:"requests"`
	Conns                 int          `json:"conns"`
	Interval              string       `json:"interval"`
	Samples               []longSample `json:"samples"`
	// After warm-up (the first 20 % of requests): least-squares slopes.
	WarmAt            int64   `json:"warm_at_requests"`
	CaddySlopeMiBPerM float64 `json:"caddy_rss_slope_mib_per_million"`
	HeapSlopeMiBPerM  float64 `json:"caddy_heap_goal_slope_mib_per_million"`
	CaddySlopeKiBMin  float64 `json:"caddy_rss_slope_kib_per_min"`
	CaddyRSSWarm      int64   `json:"caddy_rss_at_warm"`
	CaddyRSSEnd       int64   `json:"caddy_rss_end"`
	CaddyRSSMax       int64   `json:"caddy_rss_max"`
	GoroutinesWarm    int     `json:"caddy_goroutines_at_warm"`
	GoroutinesEnd     int     `json:"caddy_goroutines_end"`
	RedisSlopeMiBPerM float64 `json:"redis_rss_slope_mib_per_million"`
	RedisKeys         int64   `json:"redis_keys"`
	RedisUsedMemory   int64   `json:"redis_used_memory"`

	run *runRec
}

func newReport(b *bench) *report {
	r := &report{
		Started: time.Now(), Scenarios: b.scen,
		Closed: map[string]*agg{}, Fixed: map[string]*agg{},
		Params: params{Rounds: b.cfg.rounds, Duration: b.cfg.duration.String(), Warmup: b.cfg.warmup.String(), Conns: b.cfg.conns},
	}
	r.Machine = machine{NumCPU: runtime.NumCPU(), Go: runtime.Version()}
	if ci, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(ci), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				r.Machine.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Machine.Kernel = strings.TrimSpace(string(k))
	}
	r.Machine.MemMiB = procMemTotal() >> 20
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.Machine.LoadAvg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	if out, err := exec.Command(filepath.Join(b.bin, "caddy"), "version").Output(); err == nil {
		r.Machine.Caddy = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		r.Machine.Redis = strings.TrimSpace(string(out))
	}
	if out, err := gitOut(b.root, "rev-parse", "--short", "HEAD"); err == nil {
		r.Commit = out
		if st, err := gitOut(b.root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"); err == nil && st != "" {
			for line := range strings.SplitSeq(st, "\n") {
				if f := strings.Fields(line); len(f) > 1 {
					r.Dirty = append(r.Dirty, f[len(f)-1])
				}
			}
			r.Commit += fmt.Sprintf(" with uncommitted changes to %d tracked files (%s)", len(r.Dirty), strings.Join(r.Dirty, ", "))
		}
	}
	return r
}

func gitOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func procMemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	for line := range strings.SplitSeq(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

// add records one loadgen run.
func (r *report) add(mode string, rnd int, s *scenario, res lgResult, before, after cpuSnap) *runRec {
	run := &runRec{
		Mode: mode, Round: rnd, Scenario: s.Key, Requests: res.Requests, Errors: res.Errors, SentErrors: res.SentErrors,
		ErrorKinds: res.ErrorKinds, window: res.Window, hist: res.Hist, sent: res.Sent,
		P50ms: ms(res.Hist.Quantile(0.5)), P99ms: ms(res.Hist.Quantile(0.99)),
	}
	if res.Window > 0 {
		run.RPS = float64(res.Requests) / res.Window
	}
	if res.Sent > 0 {
		per := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(res.Sent) }
		run.CPU = cpuPerReq{
			Caddy: per(after.caddy - before.caddy), Stub: per(after.stub - before.stub),
			Redis: per(after.redis - before.redis), Loadgen: per(res.CPU),
		}
		run.CPU.Total = run.CPU.Caddy + run.CPU.Stub + run.CPU.Redis + run.CPU.Loadgen
	}
	if t := after.total - before.total; t > 0 {
		run.MachineBusy = 100 * (after.busy - before.busy) / t
		wall := after.at.Sub(before.at).Seconds()
		ours := (after.allCaddies - before.allCaddies + after.stub - before.stub +
			after.redis - before.redis + res.CPU).Seconds()
		busy := (after.busy - before.busy) / clockTicks
		run.ForeignCPU = round(max(0, busy-ours)/wall, 2)
		run.Disturbed = run.ForeignCPU > disturbedCores
	}
	switch s.kind {
	case "webhook":
		r.webhookGood += res.Sent - res.SentErrors
	case "rpwebhook":
		r.forwardedGood += res.Sent - res.SentErrors
	}
	r.Runs = append(r.Runs, run)
	if mode == "long" {
		return run
	}
	m := r.Closed
	if mode == "fixed" {
		m = r.Fixed
	}
	a := m[s.Key]
	if a == nil {
		a = &agg{Scenario: s.Key, Name: s.Name, RPSMin: math.Inf(1)}
		m[s.Key] = a
	}
	a.Rounds++
	a.Requests += res.Requests
	a.Errors += res.Errors
	a.SentErrors += res.SentErrors
	for k, v := range res.ErrorKinds {
		if a.ErrorKinds == nil {
			a.ErrorKinds = map[string]int64{}
		}
		a.ErrorKinds[k] += v
	}
	a.window += res.Window
	a.hist.Merge(res.Hist)
	a.sent += res.Sent
	a.RPSMin = math.Min(a.RPSMin, run.RPS)
	a.RPSMax = math.Max(a.RPSMax, run.RPS)
	f := float64(res.Sent)
	a.cpu.Caddy += run.CPU.Caddy * f
	a.cpu.Stub += run.CPU.Stub * f
	a.cpu.Redis += run.CPU.Redis * f
	a.cpu.Loadgen += run.CPU.Loadgen * f
	a.busy += run.MachineBusy
	a.foreign += run.ForeignCPU
	a.runs = append(a.runs, run)
	if run.Disturbed {
		a.Disturbed++
	}
	return run
}

// autoRate is the fixed phase's offered rate: half the closed-loop
// throughput of the slowest of (a)-(d), so every scenario has headroom.
func (r *report) autoRate() float64 {
	r.summarise()
	low := math.Inf(1)
	for _, k := range []string{"a", "b", "c", "d"} {
		if a := r.Closed[k]; a != nil && a.RPSMedian > 0 {
			low = math.Min(low, a.RPSMedian)
		}
	}
	if math.IsInf(low, 1) {
		return 100
	}
	r.FixedRate = math.Max(50, math.Floor(low/2/50)*50)
	return r.FixedRate
}

func (r *report) summarise() {
	for _, m := range []map[string]*agg{r.Closed, r.Fixed} {
		for _, a := range m {
			if a.window > 0 {
				a.RPS = float64(a.Requests) / a.window
			}
			a.P50ms, a.P90ms, a.P99ms = ms(a.hist.Quantile(0.5)), ms(a.hist.Quantile(0.9)), ms(a.hist.Quantile(0.99))
			a.P999ms, a.Maxms = ms(a.hist.Quantile(0.999)), ms(time.Duration(a.hist.Max))
			if a.sent > 0 {
				f := float64(a.sent)
				a.CPU = cpuPerReq{Caddy: a.cpu.Caddy / f, Stub: a.cpu.Stub / f, Redis: a.cpu.Redis / f, Loadgen: a.cpu.Loadgen / f}
				a.CPU.Total = a.CPU.Caddy + a.CPU.Stub + a.CPU.Redis + a.CPU.Loadgen
			}
			if math.IsInf(a.RPSMin, 1) {
				a.RPSMin = 0
			}
			if a.Rounds > 0 {
				a.MachineBusy = round(a.busy/float64(a.Rounds), 1)
				a.ForeignCPU = round(a.foreign/float64(a.Rounds), 2)
			}
		}
		base, baseH := m["a"], m["h"]
		for _, a := range m {
			var rps, p99 []float64
			for _, run := range a.runs {
				rps = append(rps, run.RPS)
				p99 = append(p99, run.P99ms)
			}
			a.RPSMedian, a.P99Median = median(rps), round(median(p99), 3)
			a.Ratio, a.P99DeltaMedian, a.Pairs, a.CleanPairs = paired(a, base)
			a.RatioH, a.P99DeltaH, a.PairsH, a.CleanPairsH = paired(a, baseH)
		}
		for _, a := range m {
			if base != nil && a.CPU.Total > 0 {
				a.CPURatio = round(base.CPU.Total/a.CPU.Total, 3)
			}
			if baseH != nil && a.CPU.Total > 0 {
				a.CPURatioH = round(baseH.CPU.Total/a.CPU.Total, 3)
			}
		}
	}
}

// paired is the median over rounds of a's throughput over base's in the
// same round, and of a's p99 minus base's, over the pairs where neither
// run was disturbed when there are any (clean).
func paired(a, base *agg) (ratio, delta float64, pairs int, clean bool) {
	if base == nil {
		return 0, 0, 0, false
	}
	var rs, ds, cleanR, cleanD []float64
	for i, run := range a.runs {
		if i >= len(base.runs) || base.runs[i].RPS <= 0 {
			continue
		}
		b := base.runs[i]
		rs = append(rs, run.RPS/b.RPS)
		ds = append(ds, run.P99ms-b.P99ms)
		if !run.Disturbed && !b.Disturbed {
			cleanR = append(cleanR, run.RPS/b.RPS)
			cleanD = append(cleanD, run.P99ms-b.P99ms)
		}
	}
	if clean = len(cleanR) > 0; clean {
		rs, ds = cleanR, cleanD
	}
	return round(median(rs), 3), round(median(ds), 3), len(rs), clean
}

// finish gathers what is known only at the end: memory, the exactly-once
// count, Caddy's logs, the verdict on each target.
func (r *report) finish(b *bench) {
	r.summarise()
	b.rss.sample()
	for _, p := range b.watched() {
		r.Memory = append(r.Memory, memRec{Process: p.name, StartRSS: b.rss.first[p.pid()],
			EndRSS: b.rss.last[p.pid()], PeakRSS: procStatus(p.pid(), "VmHWM")})
	}
	// The queued scenarios' last payments may still be on their way: wait
	// (bounded) until the stub has as many as were answered, then a
	// moment more, so that a payment posted twice has time to show.
	start := time.Now()
	st, err := b.stubStats()
	for err == nil && st.Payments < r.webhookGood+b.smokes && time.Since(start) < b.cfg.drainMax {
		time.Sleep(100 * time.Millisecond)
		st, err = b.stubStats()
	}
	if err == nil {
		time.Sleep(time.Second)
		st, err = b.stubStats()
	}
	r.ExactlyOnce = exactlyOnce{WebhookOK: r.webhookGood, SmokePosts: b.smokes, LegacyPayments: st.Payments,
		Duplicates: st.Duplicates, ForwardedOK: r.forwardedGood + b.smokeForwarded, Forwarded: st.Forwarded,
		WaitSeconds: round(time.Since(start).Seconds(), 1)}
	switch {
	case err != nil:
		r.ExactlyOnce.Note = "could not read the stub's count: " + err.Error()
	case st.Payments == r.webhookGood+b.smokes && st.Duplicates == 0 && st.Forwarded == r.ExactlyOnce.ForwardedOK:
		r.ExactlyOnce.OK = true
		r.ExactlyOnce.Note = "every webhook answered 200 reached the legacy stub once, the queued ones included; no txn_ref was booked twice; no replay reached it; every forwarded (h) body was booked once"
	default:
		r.ExactlyOnce.Note = fmt.Sprintf("the stub booked %d payments (%d of them txn_refs it had booked before) and %d forwarded bodies, but %d unique webhooks were answered 200 (plus %d in the smoke test) and %d forwarded ones",
			st.Payments, st.Duplicates, st.Forwarded, r.webhookGood, b.smokes, r.ExactlyOnce.ForwardedOK)
	}
	for _, c := range b.caddies {
		r.CaddyLogs = append(r.CaddyLogs, summariseLog(c.name, filepath.Join(b.tmp, c.name+".log")))
	}
	r.targets()
	r.Seconds = round(time.Since(r.Started).Seconds(), 0)
}

func summariseLog(name, path string) logSummary {
	s := logSummary{Process: name, Levels: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return s
	}
	defer func() { _ = f.Close() }() // read only
	if fi, err := f.Stat(); err == nil {
		s.Bytes = fi.Size()
	}
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			s.Lines++
			var e struct{ Level, Msg string }
			if json.Unmarshal(line, &e) == nil && e.Level != "" {
				s.Levels[e.Level]++
				if e.Level == "warn" || e.Level == "error" || e.Level == "fatal" {
					if s.Problems == nil {
						s.Problems = map[string]int{}
					}
					s.Problems[e.Level+": "+e.Msg]++
				}
			}
		}
		for errors.Is(err, bufio.ErrBufferFull) { // an over-long line: skip the rest
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			break
		}
	}
	return s
}

func (r *report) targets() {
	yes, no := true, false
	verdict := func(ok bool) *bool {
		if ok {
			return &yes
		}
		return &no
	}
	base := r.Closed["a"]
	for _, t := range []struct {
		key  string
		want float64
	}{{"b", 1.0}, {"d", 0.8}, {"e", 1.5}, {"f", 1.0}, {"g", 1.0}} {
		tg := target{What: fmt.Sprintf("(%s) throughput ≥ %.1f× (a)", t.key, t.want), Measured: "not measured"}
		if a := r.Closed[t.key]; a != nil && base != nil && base.RPSMedian > 0 {
			tg.Measured = fmt.Sprintf("%.2f× (median of %s pairs of rounds); %.2f× from CPU per request", a.Ratio, pairs(a), a.CPURatio)
			if r.Closed["h"] != nil {
				tg.Measured += fmt.Sprintf("; against (h): %.2f×, %.2f× from CPU", a.RatioH, a.CPURatioH)
			}
			tg.Met = verdict(a.Ratio >= t.want)
		}
		r.Targets = append(r.Targets, tg)
	}
	fbase := r.Fixed["a"]
	for _, key := range []string{"b", "d"} {
		tg := target{What: fmt.Sprintf("(%s) p99 ≤ (a) p99 + 2 ms at the same offered load", key), Measured: "not measured"}
		if a := r.Fixed[key]; a != nil && fbase != nil {
			d := a.P99DeltaMedian
			tg.Measured = fmt.Sprintf("%+.2f ms (median of %s pairs of rounds; medians of p99 %.2f vs %.2f ms at %.0f req/s)", d, pairs(a), a.P99Median, fbase.P99Median, r.FixedRate)
			tg.Met = verdict(d <= 2)
		}
		r.Targets = append(r.Targets, tg)
	}
	if len(r.Long) == 0 {
		r.Targets = append(r.Targets, target{What: "no RSS growth once warm (Caddy, < 5 MiB per million requests after warm-up)", Measured: "not measured (run with -long)"})
	}
	for _, l := range r.Long {
		// On the file store, VmRSS counts the pages of bbolt's mmap that
		// are resident, which follow the file's size: the process's own
		// memory is RssAnon.
		what, slope := "RSS", l.CaddySlopeMiBPerM
		if l.Process == "caddy-file" {
			what, slope = "RssAnon (VmRSS less mapped files)", l.AnonSlopeMiBPerM
		}
		tg := target{What: fmt.Sprintf("no %s growth once warm ((%s), %s, < 5 MiB per million requests after warm-up)", what, l.Scenario, l.Process), Measured: "too few samples"}
		if len(l.Samples) > 2 {
			tg.Measured = fmt.Sprintf("%+.2f MiB per million requests (VmRSS %+.2f, RssAnon %+.2f, heap goal %+.2f), VmRSS %s → %s over %d requests",
				slope, l.CaddySlopeMiBPerM, l.AnonSlopeMiBPerM, l.HeapSlopeMiBPerM, fmtBytes(l.CaddyRSSWarm), fmtBytes(l.CaddyRSSEnd), l.Requests)
			tg.Met = verdict(slope < 5 && l.HeapSlopeMiBPerM < 5)
		}
		r.Targets = append(r.Targets, tg)
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		for _, m := range []map[string]*agg{r.Closed, r.Fixed} {
			if a := m[k]; a != nil && a.SentErrors > 0 {
				r.Targets = append(r.Targets, target{What: fmt.Sprintf("(%s) no errors", k),
					Measured: fmt.Sprintf("%d errors: %v", a.SentErrors, a.ErrorKinds), Met: &no})
			}
		}
	}
}

// analyse fits the memory samples taken after warm-up, and the store's
// bytes per payment.
func (l *longResult) analyse(file bool) {
	if l.Requests > 0 {
		if file {
			l.StoreBytesPerPayment = round(float64(l.FileAfter-l.FileBefore)/float64(l.Requests), 0)
		} else {
			l.StoreBytesPerPayment = round(float64(l.RedisUsedMemory-l.RedisUsedMemoryBefore)/float64(l.Requests), 0)
		}
	}
	l.WarmAt = l.Requests / 5
	var warm []longSample
	for _, s := range l.Samples {
		if s.Sent >= l.WarmAt && !s.Draining {
			warm = append(warm, s)
		}
		l.CaddyRSSMax = max(l.CaddyRSSMax, s.CaddyRSS)
	}
	if len(warm) < 3 {
		return
	}
	l.CaddyRSSWarm, l.GoroutinesWarm = warm[0].CaddyRSS, warm[0].Goroutines
	last := warm[len(warm)-1]
	l.CaddyRSSEnd, l.GoroutinesEnd = last.CaddyRSS, last.Goroutines
	perM := func(y func(longSample) int64) float64 {
		return slope(warm, func(s longSample) float64 { return float64(s.Sent) }, y) * 1e6 / (1 << 20)
	}
	l.CaddySlopeMiBPerM = round(perM(func(s longSample) int64 { return s.CaddyRSS }), 3)
	l.AnonSlopeMiBPerM = round(perM(func(s longSample) int64 { return s.CaddyRSSAnon }), 3)
	l.HeapSlopeMiBPerM = round(perM(func(s longSample) int64 { return s.CaddyHeap }), 3)
	l.RedisSlopeMiBPerM = round(perM(func(s longSample) int64 { return s.RedisRSS }), 3)
	l.CaddySlopeKiBMin = round(slope(warm, func(s longSample) float64 { return s.T }, func(s longSample) int64 { return s.CaddyRSS })*60/1024, 3)
}

// slope is the least-squares slope of y over x.
func slope(s []longSample, x func(longSample) float64, y func(longSample) int64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(s))
	for _, v := range s {
		xv, yv := x(v), float64(y(v))
		sx += xv
		sy += yv
		sxx += xv * xv
		sxy += xv * yv
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

// write prints the tables and saves latest.json and latest.md.
func (r *report) write(b *bench) error {
	md := r.markdown()
	fmt.Println()
	fmt.Println(md)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "latest.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "latest.md"), []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s and latest.md", filepath.Join(b.cfg.out, "latest.json"))
	for _, a := range r.Closed {
		if a.SentErrors > 0 {
			return fmt.Errorf("the run had errors (see the table)")
		}
	}
	for _, a := range r.Fixed {
		if a.SentErrors > 0 {
			return fmt.Errorf("the run had errors (see the table)")
		}
	}
	if !r.ExactlyOnce.OK {
		return fmt.Errorf("exactly-once check: %s", r.ExactlyOnce.Note)
	}
	return nil
}

func (r *report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	p("Run %s, %.0f s, commit %s.", r.Started.Format("2006-01-02 15:04 MST"), r.Seconds, r.Commit)
	p("Machine: %d × %s, %d MiB, Linux %s; %s; Caddy %s; %s. Load average at the start: %s.", r.Machine.NumCPU, r.Machine.CPU, r.Machine.MemMiB,
		r.Machine.Kernel, r.Machine.Go, firstField(r.Machine.Caddy), r.Machine.Redis, r.Machine.LoadAvg)
	p("Load: %d keep-alive connections; %d interleaved rounds × %s measured (after %s warm-up) per scenario and phase.",
		r.Params.Conns, r.Params.Rounds, r.Params.Duration, r.Params.Warmup)
	p("Foreign load: CPU used meanwhile by processes outside the benchmark, in cores (of %d), averaged over the rounds; a round is disturbed when it was above %.2f.", r.Machine.NumCPU, disturbedCores)
	p("")
	if len(r.Closed) > 0 {
		p("**Closed loop** (each connection sends its next request when the last is answered). req/s is the median of the rounds; × (a) the median of each round's ratio to (a) in the same round, over the pairs where neither run was disturbed (\"pairs\"); latencies are over all rounds. \"(a)'s ÷ this\" divides (a)'s CPU per request, all processes, by this scenario's: the throughput ratio a CPU-bound stack would show with the machine to itself:")
		p("")
		p("| scenario | req/s | × (a) | × (h) | pairs | rounds min–max | p50 | p99 | p99.9 | errors | Caddy CPU µs/req | × (a) | stack CPU µs/req | (a)'s ÷ this | (h)'s ÷ this | foreign load | disturbed rounds |")
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, s := range r.Scenarios {
			if a := r.Closed[s.Key]; a != nil {
				cpuRatio := 0.0
				if base := r.Closed["a"]; base != nil && base.CPU.Caddy > 0 {
					cpuRatio = a.CPU.Caddy / base.CPU.Caddy
				}
				p("| (%s) %s | %.0f | %.2f | %s | %s | %.0f–%.0f | %s | %s | %s | %d | %.0f | %.2f | %.0f | %.2f | %s | %.2f cores | %d of %d |", s.Key, s.Name, a.RPSMedian, a.Ratio,
					fmtRatioH(a), pairs(a), a.RPSMin, a.RPSMax, fmtMS(a.P50ms), fmtMS(a.P99ms), fmtMS(a.P999ms), a.SentErrors, a.CPU.Caddy, cpuRatio,
					a.CPU.Total, a.CPURatio, fmtCPURatioH(a), a.ForeignCPU, a.Disturbed, a.Rounds)
			}
		}
		p("")
		p("CPU per request, µs (all processes share the machine's %d cores):", r.Machine.NumCPU)
		p("")
		p("| scenario | Caddy | legacy stub | redis-server | load generator | total | machine busy |")
		p("|---|--:|--:|--:|--:|--:|--:|")
		for _, s := range r.Scenarios {
			if a := r.Closed[s.Key]; a != nil {
				p("| (%s) | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f%% |", s.Key, a.CPU.Caddy, a.CPU.Stub, a.CPU.Redis, a.CPU.Loadgen, a.CPU.Total, a.MachineBusy)
			}
		}
		p("")
	}
	if len(r.Fixed) > 0 {
		p("**Fixed rate** (%.0f req/s offered to every scenario; latency from when each request was due). p50–max are over all rounds; \"p99, median\" is the median of the rounds' p99, \"p99 − (a)\" the median of each round's difference to (a) in the same round (undisturbed pairs, as above):", r.FixedRate)
		p("")
		p("| scenario | achieved req/s | p50 | p90 | p99 | p99.9 | max | p99, median | p99 − (a) | p99 − (h) | pairs | errors | Caddy CPU µs/req | foreign load | disturbed rounds |")
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, s := range r.Scenarios {
			if a := r.Fixed[s.Key]; a != nil {
				delta, deltaH := "—", "—"
				if s.Key != "a" {
					delta = fmt.Sprintf("%+.2f ms", a.P99DeltaMedian)
				}
				if s.Key != "h" && a.PairsH > 0 {
					deltaH = fmt.Sprintf("%+.2f ms", a.P99DeltaH)
				}
				p("| (%s) %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %.0f | %.2f cores | %d of %d |", s.Key, s.Name, a.RPS, fmtMS(a.P50ms), fmtMS(a.P90ms),
					fmtMS(a.P99ms), fmtMS(a.P999ms), fmtMS(a.Maxms), fmtMS(a.P99Median), delta, deltaH, pairs(a), a.SentErrors, a.CPU.Caddy, a.ForeignCPU, a.Disturbed, a.Rounds)
			}
		}
		p("")
	}
	if len(r.Deliveries) > 0 {
		p("**Delivery of the queued scenarios** (the legacy stub's count, GET /stats, read before and after each run and every 50 ms afterwards until it had every payment answered 200). \"under load\": payments booked per second while the load generator ran (warm-up included); \"backlog\": answered but not yet booked when it stopped; \"drain\": the time until the stub had them all, the rate then, and the CPU the stack (every Caddy, the stub, Redis) used meanwhile. The next scenario starts only after the drain. Medians over the runs, with min–max:")
		p("")
		p("| scenario | phase | runs | answered req/s | delivered/s under load | backlog at stop | drain | delivered/s draining | stack CPU draining | µs CPU per payment drained | all drained |")
		p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, s := range r.Scenarios {
			for _, mode := range []string{"closed", "fixed", "profile", "long"} {
				var ds []*delivery
				for _, d := range r.Deliveries {
					if d.Scenario == s.Key && d.Mode == mode {
						ds = append(ds, d)
					}
				}
				if len(ds) == 0 {
					continue
				}
				col := func(f func(*delivery) float64) []float64 {
					v := make([]float64, len(ds))
					for i, d := range ds {
						v[i] = f(d)
					}
					return v
				}
				answered := "—"
				if m := map[string]map[string]*agg{"closed": r.Closed, "fixed": r.Fixed}[mode]; m != nil && m[s.Key] != nil {
					answered = fmt.Sprintf("%.0f", m[s.Key].RPSMedian)
				}
				drained := 0
				for _, d := range ds {
					if d.Drained {
						drained++
					}
				}
				p("| (%s) %s | %s | %d | %s | %s | %s | %s s | %s | %s cores | %s | %d of %d |", s.Key, s.Name, mode, len(ds), answered,
					spread(col(func(d *delivery) float64 { return d.PerSecLoad }), "%.0f"),
					spread(col(func(d *delivery) float64 { return float64(d.Backlog) }), "%.0f"),
					spread(col(func(d *delivery) float64 { return d.DrainSeconds }), "%.1f"),
					spread(col(func(d *delivery) float64 { return d.PerSecDrain }), "%.0f"),
					spread(col(func(d *delivery) float64 { return d.DrainCores }), "%.2f"),
					spread(col(func(d *delivery) float64 { return d.DrainCPUPerPayment }), "%.0f"),
					drained, len(ds))
			}
		}
		p("")
	}
	p("**Targets:**")
	p("")
	p("| target | measured | met |")
	p("|---|---|---|")
	for _, t := range r.Targets {
		met := "not measured"
		if t.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*t.Met]
		}
		p("| %s | %s | %s |", t.What, t.Measured, met)
	}
	p("")
	p("**Memory** (VmRSS when the load began and at the end; peak is VmHWM):")
	p("")
	p("| process | start | end | peak |")
	p("|---|--:|--:|--:|")
	for _, m := range r.Memory {
		p("| %s | %s | %s | %s |", m.Process, fmtBytes(m.StartRSS), fmtBytes(m.EndRSS), fmtBytes(m.PeakRSS))
	}
	p("")
	for _, l := range r.Long {
		r.longMarkdown(p, l)
	}
	e := r.ExactlyOnce
	p("**Exactly once:** legacy stub booked %d payments, %d of them a txn_ref it had booked before; unique webhooks answered 200: %d, plus %d from the smoke test; (h) forwarded bodies booked %d, answered 200 %d; checked after waiting %.1f s for the queues. %s.",
		e.LegacyPayments, e.Duplicates, e.WebhookOK, e.SmokePosts, e.Forwarded, e.ForwardedOK, e.WaitSeconds, upperFirst(e.Note))
	p("")
	for _, l := range r.CaddyLogs {
		lv := make([]string, 0, len(l.Levels))
		for k, v := range l.Levels {
			lv = append(lv, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(lv)
		p("Log of %s: %d lines, %s (%s).", l.Process, l.Lines, fmtBytes(l.Bytes), strings.Join(lv, ", "))
		for m, n := range l.Problems {
			p("- %d × %s", n, m)
		}
	}
	if len(r.Profiles) > 0 {
		p("")
		p("CPU and allocation profiles of Caddy: %s, with `go tool pprof -top` listings in cpu-*.top.txt.", profileFiles(r.Profiles))
		for _, pr := range r.Profiles {
			p("")
			p("(%s), about %d requests in the profile's window:", pr.Scenario, pr.Requests)
			p("")
			p("```")
			lines := strings.Split(pr.Top, "\n")
			for i, l := range lines {
				if i > 0 && strings.HasPrefix(strings.TrimSpace(l), "flat") {
					lines = lines[i:min(len(lines), i+21)]
					break
				}
			}
			p("%s", strings.Join(lines, "\n"))
			p("```")
		}
	}
	return w.String()
}

// longMarkdown writes one -long run.
func (r *report) longMarkdown(p func(string, ...any), l *longResult) {
	p("**Long run** ((%s) %s on %s, %d requests, %d connections, sampled every %s; warm = after the first %d requests; the slopes are fitted to the warm samples taken until the last answer):",
		l.Scenario, l.Name, l.Process, l.Requests, l.Conns, l.Interval, l.WarmAt)
	p("")
	if l.run != nil {
		p("- answered: %.0f req/s over %.0f s, p50 %s, p99 %s, %d errors", float64(l.run.sent)/max(l.AnsweredSeconds, 1e-9), l.AnsweredSeconds,
			fmtMS(l.run.P50ms), fmtMS(l.run.P99ms), l.run.SentErrors)
	}
	if d := l.Delivery; d != nil {
		p("- delivered: %.0f/s while the load ran; backlog %d when it stopped, drained in %.0f s at %.0f/s (stack CPU %.2f cores, %.0f µs per payment); every payment delivered: %v; the whole run %.0f s",
			d.PerSecLoad, d.Backlog, d.DrainSeconds, d.PerSecDrain, d.DrainCores, d.DrainCPUPerPayment, d.Drained, l.Seconds)
	}
	p("- Caddy VmRSS: %s when warm, %s at the last answer, %s at most; slope after warm-up %+.2f MiB per million requests (%+.1f KiB/min); RssAnon slope %+.2f MiB per million",
		fmtBytes(l.CaddyRSSWarm), fmtBytes(l.CaddyRSSEnd), fmtBytes(l.CaddyRSSMax), l.CaddySlopeMiBPerM, l.CaddySlopeKiBMin, l.AnonSlopeMiBPerM)
	p("- Caddy Go heap goal (twice the heap live after the last GC): slope after warm-up %+.2f MiB per million requests; goroutines %d when warm, %d at the end",
		l.HeapSlopeMiBPerM, l.GoroutinesWarm, l.GoroutinesEnd)
	if l.Process == "caddy-file" {
		p("- the bbolt file: %s → %s (%s → %s allocated on disk): %.0f bytes per payment kept (records stay for the 30-day retention)",
			fmtBytes(l.FileBefore), fmtBytes(l.FileAfter), fmtBytes(l.FileAllocBefore), fmtBytes(l.FileAllocAfter), l.StoreBytesPerPayment)
	} else {
		p("- redis-server: %d keys at the end (all runs), used_memory %s → %s: %.0f bytes per payment kept (records stay for the 30-day retention); RSS slope %+.1f MiB per million requests",
			l.RedisKeys, fmtBytes(l.RedisUsedMemoryBefore), fmtBytes(l.RedisUsedMemory), l.StoreBytesPerPayment, l.RedisSlopeMiBPerM)
	}
	p("")
	p("| t (s) | sent | stub's payments | Caddy VmRSS | RssAnon | RssFile | heap goal | goroutines | redis RSS | file |")
	p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	step := max(1, len(l.Samples)/14)
	for i, s := range l.Samples {
		if i%step == 0 || i == len(l.Samples)-1 {
			t := fmt.Sprintf("%.0f", s.T)
			if s.Draining {
				t += " (draining)"
			}
			file := "—"
			if s.FileSize > 0 {
				file = fmtBytes(s.FileSize)
			}
			p("| %s | %d | %d | %s | %s | %s | %s | %d | %s | %s |", t, s.Sent, s.Delivered, fmtBytes(s.CaddyRSS), fmtBytes(s.CaddyRSSAnon),
				fmtBytes(s.CaddyRSSFile), fmtBytes(s.CaddyHeap), s.Goroutines, fmtBytes(s.RedisRSS), file)
		}
	}
	p("")
}

// spread is the median of v, and its range when it has one.
func spread(v []float64, format string) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	m := fmt.Sprintf(format, median(v))
	if len(v) > 1 && lo != hi {
		m += " (" + fmt.Sprintf(format, lo) + "–" + fmt.Sprintf(format, hi) + ")"
	}
	return m
}

func fmtRatioH(a *agg) string {
	if a.Scenario == "h" {
		return "1.00"
	}
	if a.PairsH == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a.RatioH)
}

func fmtCPURatioH(a *agg) string {
	if a.CPURatioH == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a.CPURatioH)
}

func profileFiles(ps []profile) string {
	var names []string
	for _, p := range ps {
		names = append(names, filepath.Base(p.File), filepath.Base(p.AllocFile))
	}
	return strings.Join(names, ", ")
}

// pairs says how many pairs of rounds a paired median used.
func pairs(a *agg) string {
	if a.Scenario == "a" {
		return "—"
	}
	if a.CleanPairs {
		return fmt.Sprintf("%d clean", a.Pairs)
	}
	return fmt.Sprintf("%d, all disturbed", a.Pairs)
}

func fmtMS(v float64) string {
	switch {
	case v <= 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// median of v, or 0 when empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	w := append([]float64(nil), v...)
	sort.Float64s(w)
	n := len(w)
	if n%2 == 1 {
		return w[n/2]
	}
	return (w[n/2-1] + w[n/2]) / 2
}
