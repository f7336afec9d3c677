// Command bench is billbridge's load benchmark beside Caddy's own
// reverse_proxy. From the repository root:
//
//	go run ./bench                 # 3 rounds × 8 scenarios × 5 s, closed loop then fixed rate (about 10 minutes)
//	go run ./bench -profile        # and CPU profiles of Caddy under (a), (b), (d), (f) and (g)
//	go run ./bench -long           # and 1,000,000 webhooks each to (d), (f) and (g), sampling RSS
//	go run ./bench -long -rounds 0 # the long runs alone
//
// It builds the Caddy binary with billbridge (./cmd/caddy), the legacy
// stub (bench/stub) and the load generator (bench/loadgen); starts the
// stub, a private redis-server and five Caddy processes on free ports of
// 127.0.0.1; drives each scenario from the load generator's own process, in
// interleaved rounds; and prints the table, which it also writes to
// bench/results/latest.json and latest.md. Every child stops when it ends,
// Ctrl-C included. See bench/README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/billbridge/caddy-billbridge/bench/internal/hist"
)

type config struct {
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	conns      int
	rate       float64
	fixed      bool
	long       bool
	longN      int64
	longNFile  int64
	longOn     string
	drainMax   time.Duration
	sample     time.Duration
	profile    bool
	profileDur time.Duration
	quiet      float64
	quietMax   time.Duration
	out        string
	keep       bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds of every scenario, per phase")
	flag.DurationVar(&cfg.duration, "d", 5*time.Second, "measured time per scenario and round")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured lead-in before each measured run")
	flag.IntVar(&cfg.conns, "c", 32, "concurrent keep-alive connections")
	flag.BoolVar(&cfg.fixed, "fixed", true, "also run every scenario at one fixed offered rate, to compare latency at the same load")
	flag.Float64Var(&cfg.rate, "rate", 0, "the fixed rate in requests/s (0: half the closed-loop throughput of the slowest of (a)-(d))")
	flag.BoolVar(&cfg.long, "long", false, "then send -long-n webhooks to each of -long-on, sampling RSS")
	flag.Int64Var(&cfg.longN, "long-n", 1_000_000, "requests in each -long run")
	flag.Int64Var(&cfg.longNFile, "long-n-file", 0, "requests in the -long run on the file store (g) (0: -long-n)")
	flag.StringVar(&cfg.longOn, "long-on", "d,f,g", "the scenarios of the -long runs, in order")
	flag.DurationVar(&cfg.drainMax, "drain-max", 2*time.Minute, "after a queued scenario, the longest wait for its backlog to be delivered (the -long runs wait 5 times as long)")
	flag.DurationVar(&cfg.sample, "sample", 5*time.Second, "RSS sampling interval of the -long run")
	flag.BoolVar(&cfg.profile, "profile", false, "then take CPU profiles of Caddy under (a), (b), (d), (f) and (g)")
	flag.DurationVar(&cfg.profileDur, "profile-d", 10*time.Second, "length of each CPU profile")
	flag.Float64Var(&cfg.quiet, "quiet", 0, "before each run, wait until other processes use less than this many cores (0: never wait)")
	flag.DurationVar(&cfg.quietMax, "quiet-max", time.Minute, "the longest -quiet waits before a run")
	flag.StringVar(&cfg.out, "out", "", "results directory (default: bench/results in the repository)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binaries, Caddyfiles, logs)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenario is one thing measured.
type scenario struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	kind  string // loadgen -kind
	caddy *caddyProc
	// Queued: the webhook is held and delivered later by the workers, so
	// the bench measures the delivery too and waits for its backlog.
	Queued bool `json:"queued,omitempty"`
}

type caddyProc struct {
	name  string
	proc  *proc
	port  int
	admin int
	file  string
}

func (c *caddyProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

type bench struct {
	cfg            config
	root           string // the repository
	tmp            string
	bin            string // tmp/bin
	kids           children
	stub           *proc
	stubAddr       string
	redis          *proc
	redisAdr       string
	base, mem, rds *caddyProc
	rdsq, file     *caddyProc // queued: on Redis (f), on the file store (g)
	fileDB         string     // (g)'s bbolt file
	caddies        []*caddyProc
	scen           []*scenario
	replayID       string
	rss            *rssSampler
	smokes         int64 // webhook posts the smoke test made
	smokeForwarded int64 // (h) posts the smoke test made
}

func run(ctx context.Context, cfg config) (err error) {
	if runtime.GOOS != "linux" {
		return errors.New("the benchmark reads /proc: it runs on Linux")
	}
	b := &bench{cfg: cfg, replayID: "b0000000-0000-4000-8000-00000000e5e5"}
	if b.root, err = moduleRoot(); err != nil {
		return err
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(b.root, "bench", "results")
		b.cfg.out = cfg.out
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "billbridge-bench-"); err != nil {
		return err
	}
	defer func() {
		b.kids.stopAll()
		if cfg.keep {
			fmt.Fprintf(os.Stderr, "kept %s\n", b.tmp)
		} else {
			_ = os.RemoveAll(b.tmp)
		}
	}()
	b.bin = filepath.Join(b.tmp, "bin")

	logf("building caddy (./cmd/caddy), the stub and the load generator")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.bin+"/", "./cmd/caddy", "./bench/stub", "./bench/loadgen")
	build.Dir = b.root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	if err := b.startAll(ctx); err != nil {
		return err
	}
	if err := b.smoke(); err != nil {
		return fmt.Errorf("smoke test: %w", err)
	}
	b.rss = newRSSSampler(b.watched(), time.Second)
	defer b.rss.stop()

	rep := newReport(b)
	if cfg.rounds > 0 {
		if err := b.phase(ctx, rep, "closed", 0); err != nil {
			return err
		}
		if cfg.fixed {
			rate := cfg.rate
			if rate <= 0 {
				rate = rep.autoRate()
			}
			if err := b.phase(ctx, rep, "fixed", rate); err != nil {
				return err
			}
		}
	}
	if cfg.profile {
		if err := b.profiles(ctx, rep); err != nil {
			return err
		}
	}
	if cfg.long {
		if err := b.longRuns(ctx, rep); err != nil {
			return err
		}
	}
	rep.finish(b)
	return rep.write(b)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// moduleRoot finds the repository: the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the benchmark from inside the repository")
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(mod, []byte("module github.com/billbridge/caddy-billbridge")) {
		return "", fmt.Errorf("%s is not billbridge's go.mod", gomod)
	}
	return filepath.Dir(gomod), nil
}

// startAll starts the stub, Redis and the two Caddy processes.
func (b *bench) startAll(ctx context.Context) error {
	// The stub picks its own port and says which.
	pr, pw := io.Pipe()
	stub, err := b.kids.start("stub", pw, filepath.Join(b.tmp, "stub.log"), nil, filepath.Join(b.bin, "stub"))
	if err != nil {
		return err
	}
	b.stub = stub
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addrCh <- a
			}
		}
	}()
	select {
	case b.stubAddr = <-addrCh:
	case <-stub.done:
		return fmt.Errorf("stub exited: %w", stub.err)
	case <-time.After(10 * time.Second):
		return errors.New("stub did not start")
	case <-ctx.Done():
		return ctx.Err()
	}

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server is needed for (d): %w (apt-get install redis-server)", err)
	}
	rport, err := freePort()
	if err != nil {
		return err
	}
	b.redisAdr = fmt.Sprintf("127.0.0.1:%d", rport)
	b.redis, err = b.kids.start("redis-server", nil, filepath.Join(b.tmp, "redis.log"), nil, redisBin,
		"--port", strconv.Itoa(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", b.tmp, "--daemonize", "no", "--loglevel", "warning")
	if err != nil {
		return err
	}
	if err := waitFor(ctx, b.redis, 10*time.Second, func() error {
		r, err := redisCmd(b.redisAdr, "PING")
		if err == nil && r != "PONG" {
			err = fmt.Errorf("PING: %q", r)
		}
		return err
	}); err != nil {
		return err
	}

	// Five Caddy processes: the store is a global setting, so (d), (f)
	// and (g) need their own; and (c), whose unique ids fill the memory
	// store for its 30-day retention, gets its own too, so that its
	// growing heap (and the GC work it brings) does not weigh on the
	// others.
	b.base = &caddyProc{name: "caddy-base"}         // (a), (b), (e), (h): memory store, one record
	b.mem = &caddyProc{name: "caddy-memory"}        // (c)
	b.rds = &caddyProc{name: "caddy-redis"}         // (d), deliver sync
	b.rdsq = &caddyProc{name: "caddy-redis-queued"} // (f), deliver queued
	b.file = &caddyProc{name: "caddy-file"}         // (g), deliver queued
	b.fileDB = filepath.Join(b.tmp, "events.db")
	b.caddies = []*caddyProc{b.base, b.mem, b.rds, b.rdsq, b.file}
	for _, c := range b.caddies {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if c.admin, err = freePort(); err != nil {
			return err
		}
		p := caddyfileParams{Admin: c.admin, Port: c.port, Stub: b.stubAddr, Store: "memory", Deliver: "sync", Webhook: true}
		switch c {
		case b.base:
			p.ReverseProxy, p.Proxy = true, true
		case b.rds:
			p.Store = "redis redis://" + b.redisAdr
		case b.rdsq:
			p.Store, p.Deliver = "redis redis://"+b.redisAdr, "queued"
		case b.file:
			p.Store, p.Deliver = "file "+b.fileDB, "queued"
		}
		c.file = filepath.Join(b.tmp, c.name+".Caddyfile")
		if err := os.WriteFile(c.file, []byte(caddyfile(p)), 0o644); err != nil {
			return err
		}
		caddyBin := filepath.Join(b.bin, "caddy")
		val := exec.CommandContext(ctx, caddyBin, "validate", "--config", c.file, "--adapter", "caddyfile")
		val.Env = b.caddyEnv()
		if out, err := val.CombinedOutput(); err != nil {
			return fmt.Errorf("caddy validate %s: %w\n%s", c.file, err, out)
		}
		logf("%s: caddy validate ok", filepath.Base(c.file))
		c.proc, err = b.kids.start(c.name, nil, filepath.Join(b.tmp, c.name+".log"), b.caddyEnv(), caddyBin,
			"run", "--config", c.file, "--adapter", "caddyfile")
		if err != nil {
			return err
		}
		if err := waitFor(ctx, c.proc, 20*time.Second, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/config/", c.admin))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("admin: %s", resp.Status)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	logf("stub %s, redis-server %s", b.stubAddr, b.redisAdr)
	for _, c := range b.caddies {
		logf("%s: %s (admin 127.0.0.1:%d), pid %d", c.name, c.addr(), c.admin, c.proc.pid())
	}

	b.scen = []*scenario{
		{Key: "a", Name: "reverse_proxy (baseline)", kind: "rp", caddy: b.base},
		{Key: "b", Name: "bill24_proxy", kind: "proxy", caddy: b.base},
		{Key: "c", Name: "bill24_webhook, memory store", kind: "webhook", caddy: b.mem},
		{Key: "d", Name: "bill24_webhook, Redis store", kind: "webhook", caddy: b.rds},
		{Key: "e", Name: "duplicate webhook, replayed", kind: "replay", caddy: b.base},
		{Key: "f", Name: "bill24_webhook queued, Redis store", kind: "webhook", caddy: b.rdsq, Queued: true},
		{Key: "g", Name: "bill24_webhook queued, file store", kind: "webhook", caddy: b.file, Queued: true},
		{Key: "h", Name: "reverse_proxy of the webhook POST", kind: "rpwebhook", caddy: b.base},
	}
	return nil
}

// caddyEnv keeps Caddy's data and config directories inside the temporary
// directory.
func (b *bench) caddyEnv() []string {
	return append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(b.tmp, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(b.tmp, "xdg-config"),
		"HOME="+b.tmp)
}

// watched lists the processes whose memory is sampled.
func (b *bench) watched() []*proc {
	return []*proc{b.base.proc, b.mem.proc, b.rds.proc, b.rdsq.proc, b.file.proc, b.redis, b.stub}
}

// smoke checks one answer of every scenario, and delivers (e)'s payment
// once, so that the load on (e) is all duplicates.
func (b *bench) smoke() error {
	for _, s := range b.scen {
		args := []string{"-addr", s.caddy.addr(), "-kind", s.kind, "-c", "1", "-n", "1", "-warmup", "0", "-d", "10s"}
		if s.kind == "replay" {
			args = append(args, "-id", b.replayID)
		}
		for range 2 { // twice: for (e), the second is the first replay
			res, err := b.loadgen(context.Background(), args, nil)
			if err != nil {
				return fmt.Errorf("(%s): %w", s.Key, err)
			}
			if res.SentErrors > 0 {
				return fmt.Errorf("(%s) %s: %v %s", s.Key, s.Name, res.ErrorKinds, res.ErrorBody)
			}
			switch s.kind {
			case "webhook":
				b.smokes++
			case "rpwebhook":
				b.smokeForwarded++
			}
		}
		if s.kind == "replay" {
			b.smokes++ // its first delivery posted; the second was replayed
		}
	}
	// The queued scenarios' payments arrive a moment later, from the
	// delivery workers.
	var st stubStats
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if st, err = b.stubStats(); err != nil {
			return fmt.Errorf("after the smoke test, counting the legacy stub's payments: %w", err)
		}
		if st.Payments >= b.smokes || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Payments != b.smokes || st.Duplicates != 0 || st.Forwarded != b.smokeForwarded {
		return fmt.Errorf("after the smoke test the legacy stub has %d payments (%d duplicates) and %d forwarded, want %d and %d",
			st.Payments, st.Duplicates, st.Forwarded, b.smokes, b.smokeForwarded)
	}
	logf("smoke test: every scenario answers 200 with the expected body; every payment was posted once, the replayed one too, the queued ones by the workers")
	return nil
}

// stubStats is the legacy stub's GET /stats.
type stubStats struct {
	Lookups    int64 `json:"lookups"`
	Payments   int64 `json:"payments"`   // form posts booked: billbridge's
	Duplicates int64 `json:"duplicates"` // of those, txn_refs booked before
	Forwarded  int64 `json:"forwarded"`  // JSON bodies booked: (h)'s
}

func (b *bench) stubStats() (stubStats, error) {
	var st stubStats
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + b.stubAddr + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// loadgen runs the load generator and decodes its result. onStderr, if
// set, sees its stderr lines (progress); otherwise they go to ours.
func (b *bench) loadgen(ctx context.Context, args []string, onStderr func(string)) (lgResult, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "loadgen"), args...)
	setProcAttr(cmd)
	var out bytes.Buffer
	cmd.Stdout = &out
	var wg sync.WaitGroup
	if onStderr != nil {
		pr, err := cmd.StderrPipe()
		if err != nil {
			return lgResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				onStderr(sc.Text())
			}
		}()
	} else {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return lgResult{}, err
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return lgResult{}, errors.New("interrupted")
		}
		return lgResult{}, fmt.Errorf("loadgen %s: %w", strings.Join(args, " "), err)
	}
	var res lgResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("loadgen output: %w", err)
	}
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// lgResult is loadgen's output (see bench/loadgen).
type lgResult struct {
	Kind       string           `json:"kind"`
	Window     float64          `json:"window_s"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	Sent       int64            `json:"sent"`
	SentErrors int64            `json:"sent_errors"`
	ErrorKinds map[string]int64 `json:"error_kinds"`
	ErrorBody  string           `json:"error_body"`
	Hist       *hist.H          `json:"hist"`
	CPU        time.Duration    `json:"-"`
}

// cpuSnap is the CPU time used so far by each process of the stack, and
// by the whole machine.
type cpuSnap struct {
	caddy, allCaddies, stub, redis time.Duration
	busy, total                    float64 // jiffies of all CPUs
	at                             time.Time
}

func (b *bench) cpu(c *caddyProc) cpuSnap {
	var all time.Duration
	for _, o := range b.caddies {
		all += procCPU(o.proc.pid())
	}
	busy, total := machineCPU()
	return cpuSnap{caddy: procCPU(c.proc.pid()), allCaddies: all,
		stub: procCPU(b.stub.pid()), redis: procCPU(b.redis.pid()), busy: busy, total: total, at: time.Now()}
}

// phase runs every scenario, rounds times, interleaved: a b c d e, a b c d e, …
func (b *bench) phase(ctx context.Context, rep *report, mode string, rate float64) error {
	if mode == "fixed" {
		logf("fixed-rate phase: %.0f requests/s offered to every scenario", rate)
	} else {
		logf("closed-loop phase: %d connections, as fast as answers come", b.cfg.conns)
	}
	for r := 1; r <= b.cfg.rounds; r++ {
		for _, s := range b.scen {
			args := []string{"-addr", s.caddy.addr(), "-kind", s.kind, "-c", strconv.Itoa(b.cfg.conns),
				"-d", (b.cfg.warmup + b.cfg.duration).String(), "-warmup", b.cfg.warmup.String()}
			if rate > 0 {
				args = append(args, "-rate", strconv.FormatFloat(rate, 'f', 0, 64))
			}
			if s.kind == "replay" {
				args = append(args, "-id", b.replayID)
			}
			if err := b.waitQuiet(ctx); err != nil {
				return err
			}
			st0, err := b.stubStats()
			if err != nil {
				return err
			}
			t0 := time.Now()
			before := b.cpu(s.caddy)
			res, err := b.loadgen(ctx, args, nil)
			if err != nil {
				return err
			}
			after := b.cpu(s.caddy)
			run := rep.add(mode, r, s, res, before, after)
			logf("%-6s round %d (%s) %-36s %8.0f req/s  p50 %7s  p99 %7s  errors %d  foreign load %.2f cores",
				mode, r, s.Key, s.Name, run.RPS, fmtDur(res.Hist.Quantile(0.5)), fmtDur(res.Hist.Quantile(0.99)), res.SentErrors, run.ForeignCPU)
			if res.SentErrors > 0 {
				logf("  errors: %v %s", res.ErrorKinds, res.ErrorBody)
			}
			if s.Queued {
				d, err := b.drain(ctx, rep, s, mode, r, st0, t0, res.Sent-res.SentErrors, b.cfg.drainMax)
				if err != nil {
					return err
				}
				logf("  (%s) delivered %.0f/s under load; backlog %d at the stop, drained in %.1f s (%.0f/s, %.2f cores)",
					s.Key, d.PerSecLoad, d.Backlog, d.DrainSeconds, d.PerSecDrain, d.DrainCores)
			}
		}
	}
	return nil
}

// waitQuiet waits, with -quiet, until processes outside the benchmark use
// less than cfg.quiet cores (measured over a second while the stack is
// idle), or for at most cfg.quietMax.
func (b *bench) waitQuiet(ctx context.Context) error {
	if b.cfg.quiet <= 0 {
		return nil
	}
	start := time.Now()
	logged := false
	for {
		before := b.cpu(b.base)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		after := b.cpu(b.base)
		ours := (after.allCaddies - before.allCaddies + after.stub - before.stub + after.redis - before.redis).Seconds()
		foreign := ((after.busy-before.busy)/clockTicks - ours) / after.at.Sub(before.at).Seconds()
		if foreign < b.cfg.quiet {
			if logged {
				logf("  quiet again after %s", time.Since(start).Round(time.Second))
			}
			return nil
		}
		if time.Since(start) > b.cfg.quietMax {
			logf("  other processes still use %.2f cores after %s; going on", foreign, b.cfg.quietMax)
			return nil
		}
		if !logged {
			logf("  other processes use %.2f cores; waiting (up to %s) for a quieter machine", foreign, b.cfg.quietMax)
			logged = true
		}
	}
}

// profiles loads (a), (b), (d), (f) and (g) in turn while taking a CPU
// profile of the Caddy process serving it, and keeps `go tool pprof -top`
// of each. A queued scenario's profile holds its delivery workers' work
// too; its backlog is drained before the next.
func (b *bench) profiles(ctx context.Context, rep *report) error {
	for _, key := range []string{"a", "b", "d", "f", "g"} {
		s := b.scenario(key)
		d := b.cfg.profileDur + 3*time.Second
		args := []string{"-addr", s.caddy.addr(), "-kind", s.kind, "-c", strconv.Itoa(b.cfg.conns),
			"-d", d.String(), "-warmup", "0"}
		type outcome struct {
			res lgResult
			err error
		}
		done := make(chan outcome, 1)
		st0, err := b.stubStats()
		if err != nil {
			return err
		}
		t0 := time.Now()
		go func() {
			res, err := b.loadgen(ctx, args, nil)
			done <- outcome{res, err}
		}()
		if err := b.waitQuiet(ctx); err != nil {
			return err
		}
		logf("profiling (%s) %s for %s", s.Key, s.Name, b.cfg.profileDur)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		secs := int(b.cfg.profileDur.Seconds())
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", s.caddy.admin, secs)
		file := filepath.Join(b.cfg.out, "cpu-"+key+".pprof")
		// The allocations of the same window, as a delta profile.
		allocFile := filepath.Join(b.cfg.out, "allocs-"+key+".pprof")
		allocErr := make(chan error, 1)
		go func() {
			allocErr <- fetch(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/allocs?seconds=%d", s.caddy.admin, secs), allocFile)
		}()
		ferr := fetch(url, file)
		if err := <-allocErr; err != nil && ferr == nil {
			ferr = err
		}
		o := <-done
		if o.err != nil {
			return o.err
		}
		if s.kind == "webhook" {
			rep.webhookGood += o.res.Sent - o.res.SentErrors
		}
		if s.Queued {
			if _, err := b.drain(ctx, rep, s, "profile", 0, st0, t0, o.res.Sent-o.res.SentErrors, b.cfg.drainMax); err != nil {
				return err
			}
		}
		if o.res.SentErrors > 0 {
			logf("  errors while profiling (%s): %v %s", key, o.res.ErrorKinds, o.res.ErrorBody)
		}
		if ferr != nil {
			return fmt.Errorf("profile (%s): %w", key, ferr)
		}
		p := profile{Scenario: key, File: file, AllocFile: allocFile,
			Requests: int64(float64(o.res.Sent) * b.cfg.profileDur.Seconds() / d.Seconds())}
		pprof := func(file string, args ...string) (string, error) {
			cmdArgs := append([]string{"tool", "pprof", "-top"}, args...)
			cmdArgs = append(cmdArgs, filepath.Join(b.bin, "caddy"), file)
			out, err := exec.CommandContext(ctx, "go", cmdArgs...).CombinedOutput()
			if err != nil {
				return "", fmt.Errorf("go tool pprof: %w\n%s", err, out)
			}
			return string(out), nil
		}
		if p.Top, err = pprof(file, "-nodecount=35"); err != nil {
			return err
		}
		if p.Cum, err = pprof(file, "-cum", "-nodecount=120"); err != nil {
			return err
		}
		if p.Allocs, err = pprof(allocFile, "-sample_index=alloc_space", "-cum", "-nodecount=60"); err != nil {
			return err
		}
		txt := fmt.Sprintf("(%s) %s: about %d requests in the %s window\n\n%s\n%s\n%s", key, s.Name, p.Requests, b.cfg.profileDur, p.Top, p.Cum, p.Allocs)
		_ = os.WriteFile(strings.TrimSuffix(file, ".pprof")+".top.txt", []byte(txt), 0o644)
		rep.Profiles = append(rep.Profiles, p)
	}
	return nil
}

func (b *bench) scenario(key string) *scenario {
	if s := b.findScenario(key); s != nil {
		return s
	}
	panic("no scenario " + key)
}

func (b *bench) findScenario(key string) *scenario {
	for _, s := range b.scen {
		if s.Key == key {
			return s
		}
	}
	return nil
}

func fetch(url, file string) error {
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close() // the copy's error is the one to report
		return err
	}
	return f.Close()
}

// longRuns runs longRun on each scenario of -long-on, in turn.
func (b *bench) longRuns(ctx context.Context, rep *report) error {
	for key := range strings.SplitSeq(b.cfg.longOn, ",") {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		s := b.findScenario(key)
		if s == nil || s.kind != "webhook" {
			return fmt.Errorf("-long-on %s: not a webhook scenario (c, d, f or g)", key)
		}
		n := b.cfg.longN
		if s.caddy == b.file && b.cfg.longNFile > 0 {
			n = b.cfg.longNFile
		}
		if err := b.longRun(ctx, rep, s, n); err != nil {
			return err
		}
	}
	return nil
}

// longRun sends n webhooks to s, sampling memory as it goes, and for a
// queued scenario waits for the backlog to be delivered.
func (b *bench) longRun(ctx context.Context, rep *report, s *scenario, n int64) error {
	if err := b.waitQuiet(ctx); err != nil {
		return err
	}
	logf("long run: %d webhooks to (%s) %s, sampling RSS every %s", n, s.Key, s.Name, b.cfg.sample)
	var mu sync.Mutex
	var sent int64
	draining := false
	lr := &longResult{Scenario: s.Key, Name: s.Name, Process: s.caddy.name, Requests: n, Conns: b.cfg.conns, Interval: b.cfg.sample.String()}
	usedMemory := func() int64 {
		v, _ := strconv.ParseInt(redisInfo(b.redisAdr, "memory", "used_memory"), 10, 64)
		return v
	}
	lr.RedisUsedMemoryBefore = usedMemory()
	lr.FileBefore, lr.FileAllocBefore = fileSize(b.fileDB)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	start := time.Now()
	sample := func() {
		mu.Lock()
		n, dr := sent, draining
		mu.Unlock()
		heap, goroutines := caddyHeap(s.caddy.admin)
		pid := s.caddy.proc.pid()
		ls := longSample{
			T: time.Since(start).Seconds(), Sent: n, Draining: dr,
			CaddyRSS: procStatus(pid, "VmRSS"), CaddyRSSAnon: procStatus(pid, "RssAnon"), CaddyRSSFile: procStatus(pid, "RssFile"),
			CaddyHeap: heap, Goroutines: goroutines,
			RedisRSS: procStatus(b.redis.pid(), "VmRSS"),
			OtherRSS: procStatus(b.base.proc.pid(), "VmRSS"),
		}
		if st, err := b.stubStats(); err == nil {
			ls.Delivered = st.Payments
		}
		if s.caddy == b.file {
			ls.FileSize, _ = fileSize(b.fileDB)
		}
		mu.Lock()
		lr.Samples = append(lr.Samples, ls)
		mu.Unlock()
	}
	go func() {
		defer close(sampled)
		t := time.NewTicker(b.cfg.sample)
		defer t.Stop()
		sample()
		for {
			select {
			case <-stopSampling:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	args := []string{"-addr", s.caddy.addr(), "-kind", s.kind, "-c", strconv.Itoa(b.cfg.conns),
		"-n", strconv.FormatInt(n, 10), "-d", "2h", "-warmup", "0", "-progress"}
	lastLog := time.Now()
	st0, err := b.stubStats()
	if err != nil {
		return err
	}
	t0 := time.Now()
	before := b.cpu(s.caddy)
	res, err := b.loadgen(ctx, args, func(line string) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "progress" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			mu.Lock()
			sent = n
			mu.Unlock()
			if time.Since(lastLog) > 30*time.Second {
				lastLog = time.Now()
				logf("long run (%s): %d sent, %s errors, Caddy RSS %s", s.Key, n, f[2], fmtBytes(procStatus(s.caddy.proc.pid(), "VmRSS")))
			}
			return
		}
		fmt.Fprintln(os.Stderr, line)
	})
	mu.Lock()
	sent = n
	mu.Unlock()
	sample() // at the last answer
	mu.Lock()
	draining = true
	mu.Unlock()
	if err != nil {
		close(stopSampling)
		<-sampled
		return err
	}
	after := b.cpu(s.caddy)
	lr.run = rep.add("long", 0, s, res, before, after)
	lr.AnsweredSeconds = round(time.Since(start).Seconds(), 1)
	if s.Queued {
		// Sampling goes on while the backlog drains: the RSS of a Caddy
		// whose store holds it is part of what is measured.
		d, err := b.drain(ctx, rep, s, "long", 0, st0, t0, res.Sent-res.SentErrors, 5*b.cfg.drainMax)
		if err != nil {
			close(stopSampling)
			<-sampled
			return err
		}
		lr.Delivery = d
		logf("long run (%s): backlog %d when the load stopped, drained in %.0f s (%.0f/s)", s.Key, d.Backlog, d.DrainSeconds, d.PerSecDrain)
	}
	close(stopSampling)
	<-sampled
	lr.Seconds = round(time.Since(start).Seconds(), 1)
	lr.RedisKeys, _ = strconv.ParseInt(must(redisCmd(b.redisAdr, "DBSIZE")), 10, 64)
	lr.RedisUsedMemory = usedMemory()
	if s.caddy == b.file {
		lr.FileAfter, lr.FileAllocAfter = fileSize(b.fileDB)
	}
	lr.analyse(s.caddy == b.file)
	rep.Long = append(rep.Long, lr)
	logf("long run (%s): %d requests answered in %.0f s (%.0f req/s), %d errors; Caddy RSS slope after warm-up %+.2f MiB per million requests",
		s.Key, res.Sent, lr.AnsweredSeconds, float64(res.Sent)/lr.AnsweredSeconds, res.SentErrors, lr.CaddySlopeMiBPerM)
	return nil
}

func must(s string, _ error) string { return s }

// caddyHeap reads the Go heap goal and the goroutine count of a Caddy
// process from its admin API (expvar and pprof). The heap goal is twice
// the heap that was live after the last GC (GOGC=100, above 4 MiB), so
// unlike the heap in use it does not swing with the GC cycle: a leak
// shows as a rising goal.
func caddyHeap(admin int) (heapGoal int64, goroutines int) {
	c := &http.Client{Timeout: 5 * time.Second}
	if resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/vars", admin)); err == nil {
		var v struct {
			Memstats struct{ NextGC int64 } `json:"memstats"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		heapGoal = v.Memstats.NextGC
	}
	if resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", admin)); err == nil {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		resp.Body.Close()
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total "); ok {
			goroutines, _ = strconv.Atoi(n)
		}
	}
	return heapGoal, goroutines
}

// rssSampler records each process's lowest and highest VmRSS over time.
type rssSampler struct {
	mu    sync.Mutex
	procs []*proc
	first map[int]int64
	last  map[int]int64
	done  chan struct{}
	once  sync.Once
}

func newRSSSampler(procs []*proc, every time.Duration) *rssSampler {
	s := &rssSampler{procs: procs, first: map[int]int64{}, last: map[int]int64{}, done: make(chan struct{})}
	s.sample()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		v := procStatus(p.pid(), "VmRSS")
		if v == 0 {
			continue
		}
		if _, ok := s.first[p.pid()]; !ok {
			s.first[p.pid()] = v
		}
		s.last[p.pid()] = v
	}
}

func (s *rssSampler) stop() { s.once.Do(func() { close(s.done) }) }

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fmtBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
