package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Due asks every shard in two pipelined rounds: which of its records are
// due and since when (plain ZRANGEBYSCORE, in one pipeline), then, from
// the shards that hold the oldest max of them, a lease of that many each
// (dueScript, followed by WAIT on each master). A worker racing another
// one gets fewer than it asked for, never a record twice: a script
// leases only what is due when it runs.

// peekSlack is how far past its estimate of the server's clock the first
// round looks: the estimate may lag by a round trip, and the second round
// leases only what is due by the server's clock anyway.
const peekSlack = 250 * time.Millisecond

// dueScript: ARGV = owner, max, lease ms. Leases up to max due records of
// the shard to owner, oldest due first: queued ones whose next attempt
// has come, and processing ones whose lease ran out (taken over as
// ambiguous). Returns {key, due, record, …} (due: when it was due, unix
// ms). Index entries of
// records that are gone, or no longer queued, are dropped on the way,
// and a few of the shard's expired records are forgotten.
var dueScript = newLuaScript(luaShardScript + `
local owner, max, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
trim(max)
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', dueK, '-inf', now, 'LIMIT', 0, max)) do
  local k = rb .. m
  local c = redis.call('HMGET', k, 'state', 'custody', 'lease_until', 'next', 'amb', 'flow', 'created')
  local state = c[1]
  if not state or c[2] ~= '1' or (state ~= 'queued' and state ~= 'processing') then
    redis.call('ZREM', dueK, m)
    redis.call('ZREM', openK, m)
  else
    local at
    if state == 'queued' then at = tonumber(c[4] or '0') or 0 else at = tonumber(c[3] or '0') or 0 end
    if at > now then
      redis.call('ZADD', dueK, at, m)
    else
      local amb = c[5] or '0'
      if state == 'processing' then amb = '1' end -- its worker died mid-delivery
      redis.call('HSET', k, 'state', 'processing', 'owner', owner, 'amb', amb,
        'updated', ms(now), 'lease_until', ms(now + lease))
      redis.call('HINCRBY', k, 'attempts', 1)
      local flow = c[6] or ''
      relist(m, state, flow, 'processing', flow, tonumber(c[7] or '0') or 0, now + lease, nil)
      out[#out + 1] = m
      out[#out + 1] = at
      out[#out + 1] = rec(k)
    end
  end
end
return out
`)

// Due implements Queue. Deliveries the replicas did not confirm are not
// returned (a failover could hand them to another worker too): they come
// back after their lease, as ambiguous. Due fails only when it has
// nothing to return and some shard failed.
func (b *RedisBackend) Due(ctx context.Context, owner string, max int, lease time.Duration) ([]Delivery, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if max <= 0 || lease <= 0 {
		return nil, fmt.Errorf("store: due: max %d and lease %v must be positive", max, lease)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	quota, err := b.dueQuota(ctx, max)
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	if len(quota) == 0 {
		return nil, nil
	}
	shards := make([]int, 0, len(quota))
	for i := range quota {
		shards = append(shards, i)
	}
	slices.Sort(shards)
	groups, err := b.byMaster(ctx, shards)
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	var (
		mu   sync.Mutex
		out  []dueDelivery
		errs []error
		wg   sync.WaitGroup
	)
	for _, g := range groups {
		wg.Go(func() {
			ds, err := b.leaseGroup(ctx, g, quota, owner, lease)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, ds...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("store: due: %w", errors.Join(errs...))
	}
	slices.SortFunc(out, func(a, b dueDelivery) int { return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.Key, b.Key)) })
	ds := make([]Delivery, len(out))
	for i, d := range out {
		ds[i] = d.Delivery
	}
	return ds, nil
}

// dueDelivery is a delivery and when it was due (unix ms).
type dueDelivery struct {
	Delivery
	at int64
}

// dueQuota returns how many records to lease from each shard: the
// shards of the oldest max due records. The first round cannot read the
// server's clock before it asks, so it estimates it from the local one
// and the offset the last round measured (TIME, in the same pipeline).
func (b *RedisBackend) dueQuota(ctx context.Context, max int) (map[int]int, error) {
	start := time.Now()
	upTo := strconv.FormatInt(start.UnixMilli()+b.clockOffset.Load()+peekSlack.Milliseconds(), 10)
	p := b.client.Pipeline()
	clock := p.Time(ctx)
	cmds := make([]*redis.ZSliceCmd, redisShards)
	for i := range cmds {
		cmds[i] = p.ZRangeByScoreWithScores(ctx, queueBase(b.prefix, i)+"due", &redis.ZRangeBy{Min: "-inf", Max: upTo, Count: int64(max)})
	}
	_, _ = p.Exec(ctx)
	if t, err := clock.Result(); err == nil {
		b.clockOffset.Store(t.UnixMilli() - start.Add(time.Since(start)/2).UnixMilli())
	}
	type cand struct {
		at    float64
		shard int
	}
	var cands []cand
	var failed error
	for i, cmd := range cmds {
		zs, err := cmd.Result()
		if err != nil {
			failed = cmp.Or(failed, err)
			continue
		}
		for _, z := range zs {
			cands = append(cands, cand{z.Score, i})
		}
	}
	if len(cands) == 0 && failed != nil {
		if topologyError(failed) {
			b.mon.refresh()
		}
		return nil, failed
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.shard, b.shard)) })
	quota := map[int]int{}
	for _, c := range cands[:min(max, len(cands))] {
		quota[c.shard]++
	}
	return quota, nil
}

// shardGroup is the shards one master serves, and its client.
type shardGroup struct {
	c      pipeliner
	addr   string
	shards []int
}

// byMaster groups shards by the master that serves them.
func (b *RedisBackend) byMaster(ctx context.Context, shards []int) ([]*shardGroup, error) {
	byAddr := map[string]*shardGroup{}
	var out []*shardGroup
	for _, i := range shards {
		c, addr, err := b.node(ctx, queueBase(b.prefix, i))
		if err != nil {
			if topologyError(err) {
				b.mon.refresh()
			}
			return nil, err
		}
		g := byAddr[addr]
		if g == nil {
			g = &shardGroup{c: c, addr: addr}
			byAddr[addr] = g
			out = append(out, g)
		}
		g.shards = append(g.shards, i)
	}
	return out, nil
}

// leaseGroup runs dueScript on the shards of one master, in one pipeline
// followed by WAIT, and returns the deliveries the replicas confirmed.
func (b *RedisBackend) leaseGroup(ctx context.Context, g *shardGroup, quota map[int]int, owner string, lease time.Duration) ([]dueDelivery, error) {
	calls := make([]scriptCall, len(g.shards))
	for j, i := range g.shards {
		calls[j] = scriptCall{keys: b.shardKeys(i), args: []any{owner, quota[i], millis(lease)}}
	}
	want := b.replicasFor(g.addr)
	vals, errs, got, err := evalBatch(ctx, g.c, dueScript, calls, want, b.waitTimeout)
	if err == nil && got < want {
		err = waitResult{want: want, got: got, timeout: b.waitTimeout}.err()
	}
	if err != nil {
		// Leased, but perhaps not on a replica: not delivered now.
		b.mon.kick()
		return nil, err
	}
	var out []dueDelivery
	var failed error
	for j, v := range vals {
		if errs[j] != nil {
			if topologyError(errs[j]) {
				b.mon.refresh()
			}
			failed = cmp.Or(failed, errs[j])
			continue
		}
		ds, err := parseDeliveries(v)
		if err != nil {
			failed = cmp.Or(failed, err)
		}
		for _, d := range ds {
			b.claims.add(owner, d.Key, d.Record.Attempts, lease)
		}
		out = append(out, ds...)
	}
	return out, failed
}

// parseDeliveries reads dueScript's {key, due, record, …}.
func parseDeliveries(v any) ([]dueDelivery, error) {
	vals, ok := v.([]any)
	if !ok || len(vals)%3 != 0 {
		return nil, &corruptError{key: "(due)", what: fmt.Sprintf("due returned %v", v)}
	}
	out := make([]dueDelivery, 0, len(vals)/3)
	for i := 0; i < len(vals); i += 3 {
		key, _ := vals[i].(string)
		at, _ := vals[i+1].(int64)
		fields, _ := vals[i+2].([]any)
		rec, found, err := parseRecord(key, fields)
		if err != nil {
			return out, err
		}
		if !found {
			return out, &corruptError{key: key, what: "due returned no record"}
		}
		out = append(out, dueDelivery{Delivery{Key: key, Record: rec, Ambiguous: rec.Ambiguous}, at})
	}
	return out, nil
}
