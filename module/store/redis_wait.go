package store

import (
	"context"
	"crypto/sha1" //nolint:gosec // G505: Redis names scripts by their SHA-1 (EVALSHA); not used for security
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// luaScript is a script run by EVALSHA, or EVAL once Redis has lost it.
type luaScript struct {
	src  string
	hash string
}

func newLuaScript(src string) *luaScript {
	sum := sha1.Sum([]byte(src)) //nolint:gosec // G401: Redis names scripts by SHA-1 (EVALSHA); a name, not a security check
	return &luaScript{src: src, hash: hex.EncodeToString(sum[:])}
}

// waitResult is what WAIT said after a script.
type waitResult struct {
	want, got int
	timeout   time.Duration
}

// err is nil when the replicas confirmed the write (or none were asked).
func (w waitResult) err() error {
	if w.got >= w.want {
		return nil
	}
	return fmt.Errorf("%w: %d of %d replicas had the write after %v", ErrNotReplicated, w.got, w.want, w.timeout)
}

// pipeliner is a client that runs a pipeline on one connection to one
// server: a *redis.Client, or the node client of a cluster master.
type pipeliner interface {
	Pipeline() redis.Pipeliner
	EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd
	Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd
}

// node returns the client of the master that owns fullKey's slot, and its
// address (the monitor's name for it).
func (b *RedisBackend) node(ctx context.Context, fullKey string) (pipeliner, string, error) {
	switch c := b.client.(type) {
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, fullKey)
		if err != nil {
			return nil, "", err
		}
		return n, n.Options().Addr, nil
	case *redis.Client:
		return c, c.Options().Addr, nil
	}
	return b.client, "", nil
}

// replicasFor returns how many replicas must confirm a write to addr.
func (b *RedisBackend) replicasFor(addr string) int {
	if b.waitReplicas >= 0 {
		return b.waitReplicas
	}
	n, known := b.mon.replicas(addr)
	if !known {
		// A master never checked: a replica just promoted (which has no
		// replica of its own yet), or a store used without its module.
		// Check it; until then it is served like a lone master.
		b.mon.kick()
		return 0
	}
	return min(n, 1)
}

// run runs script with keys on the master of keys[0] (all of them are
// in its slot) and, when replicas must confirm writes, WAIT on the same
// connection. The script's result comes back even when the replicas did
// not confirm it: the caller decides.
func (b *RedisBackend) run(ctx context.Context, script *luaScript, keys []string, args ...any) (any, waitResult, error) {
	c, addr, err := b.node(ctx, keys[0])
	if err != nil {
		if topologyError(err) {
			b.mon.refresh()
		}
		return nil, waitResult{}, err
	}
	want := b.replicasFor(addr)
	v, got, err := evalWait(ctx, c, script, keys, want, b.waitTimeout, args)
	if err != nil {
		if topologyError(err) {
			b.mon.refresh()
		}
		return nil, waitResult{}, err
	}
	w := waitResult{want: want, got: got, timeout: b.waitTimeout}
	if w.err() != nil {
		// The replicas may be gone, or the master changed: look again.
		b.mon.kick()
	}
	return v, w, nil
}

// runNoWait runs script without waiting for replicas.
func (b *RedisBackend) runNoWait(ctx context.Context, script *luaScript, keys []string, args ...any) (any, waitResult, error) {
	c, _, err := b.node(ctx, keys[0])
	if err != nil {
		return nil, waitResult{}, err
	}
	v, _, err := evalWait(ctx, c, script, keys, 0, 0, args)
	return v, waitResult{}, err
}

// evalWait pipelines EVALSHA (EVAL if the server lost the script) and
// WAIT want timeout on one connection: WAIT counts the replicas that have
// this connection's last write, so it must follow the script on the
// connection that ran it.
func evalWait(ctx context.Context, c pipeliner, script *luaScript, keys []string, want int, timeout time.Duration, args []any) (any, int, error) {
	v, got, err := evalWaitOnce(ctx, c, script.hash, "", keys, want, timeout, args)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Nothing ran: run the source, which also loads it again.
		v, got, err = evalWaitOnce(ctx, c, "", script.src, keys, want, timeout, args)
	}
	return v, got, err
}

func evalWaitOnce(ctx context.Context, c pipeliner, sha, src string, keys []string, want int, timeout time.Duration, args []any) (any, int, error) {
	if want == 0 {
		// No replica to wait for: one plain command, no pipeline.
		if sha != "" {
			return resultOnly(c.EvalSha(ctx, sha, keys, args...).Result())
		}
		return resultOnly(c.Eval(ctx, src, keys, args...).Result())
	}
	p := c.Pipeline()
	var cmd *redis.Cmd
	if sha != "" {
		cmd = p.EvalSha(ctx, sha, keys, args...)
	} else {
		cmd = p.Eval(ctx, src, keys, args...)
	}
	// Pipeliner lacks Wait; the server blocks up to timeout, which must
	// stay below the socket read timeout (checked at provision).
	wait := waitCmd(ctx, want, timeout)
	_ = p.Process(ctx, wait)
	_, _ = p.Exec(ctx)
	v, err := cmd.Result()
	if err != nil {
		return nil, 0, err
	}
	got, err := wait.Result()
	if err != nil {
		return nil, 0, fmt.Errorf("WAIT: %w", err)
	}
	return v, int(got), nil
}

func waitCmd(ctx context.Context, want int, timeout time.Duration) *redis.IntCmd {
	return redis.NewIntCmd(ctx, "wait", want, timeout.Milliseconds())
}

// scriptCall is one run of a script in a batch.
type scriptCall struct {
	keys []string
	args []any
}

// evalBatch runs script once per call in one pipeline on c, followed by
// WAIT want timeout when want > 0 (c must then be one server's client;
// a cluster client routes each call to the master of its keys). It
// returns each call's result and error, and how many replicas WAIT
// counted (the fewest, when scripts the server had lost were run again
// in a second pipeline). err is set when WAIT itself failed.
func evalBatch(ctx context.Context, c pipeliner, script *luaScript, calls []scriptCall, want int, timeout time.Duration) (vals []any, errs []error, got int, err error) {
	vals, errs = make([]any, len(calls)), make([]error, len(calls))
	todo := make([]int, len(calls))
	for i := range todo {
		todo[i] = i
	}
	got = want
	for _, fromSource := range []bool{false, true} {
		p := c.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, i := range todo {
			if fromSource {
				cmds[j] = p.Eval(ctx, script.src, calls[i].keys, calls[i].args...)
			} else {
				cmds[j] = p.EvalSha(ctx, script.hash, calls[i].keys, calls[i].args...)
			}
		}
		var wait *redis.IntCmd
		if want > 0 {
			wait = waitCmd(ctx, want, timeout)
			_ = p.Process(ctx, wait)
		}
		_, _ = p.Exec(ctx)
		var again []int
		for j, i := range todo {
			v, e := cmds[j].Result()
			if e != nil && !fromSource && redis.HasErrorPrefix(e, "NOSCRIPT") {
				again = append(again, i) // nothing ran
				continue
			}
			vals[i], errs[i] = v, e
		}
		if wait != nil {
			n, werr := wait.Result()
			if werr != nil {
				return vals, errs, 0, fmt.Errorf("WAIT: %w", werr)
			}
			got = min(got, int(n))
		}
		if len(again) == 0 {
			break
		}
		todo = again
	}
	return vals, errs, got, nil
}

func resultOnly(v any, err error) (any, int, error) { return v, 0, err }

// claimBook remembers, for each claim this process holds, the attempt
// count its claim got, so that a Complete or Release that finds another
// owner can tell a lease taken over (the count went up) from a claim the
// store lost (it did not).
type claimBook struct {
	mu    sync.Mutex
	m     map[string]claimEntry
	swept int
}

type claimEntry struct {
	attempts int64
	expires  time.Time
}

// claimBookSlack keeps an entry past its lease for a late Complete.
const claimBookSlack = 10 * time.Minute

func (cb *claimBook) add(owner, key string, attempts int, lease time.Duration) {
	now := time.Now()
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.m == nil {
		cb.m = make(map[string]claimEntry)
	}
	cb.m[owner+"\x00"+key] = claimEntry{attempts: int64(attempts), expires: now.Add(lease + claimBookSlack)}
	// Claims never settled (a caller that panicked) must not pile up.
	if len(cb.m) > 1024 && len(cb.m) > 2*cb.swept {
		for k, e := range cb.m {
			if now.After(e.expires) {
				delete(cb.m, k)
			}
		}
		cb.swept = len(cb.m)
	}
}

func (cb *claimBook) take(owner, key string) (int64, bool) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	k := owner + "\x00" + key
	e, ok := cb.m[k]
	delete(cb.m, k)
	return e.attempts, ok
}
