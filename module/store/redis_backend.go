package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix of the Redis store unless configured.
const DefaultKeyPrefix = "billbridge:"

// RedisBackend is the Redis Store and [Queue]. A record is a hash (see
// recordFields: state, owner, fp, status, ctype, body, amb, attempts,
// created, updated, lease_until, and custody's custody, flow, payload,
// next, hist and reason; times in unix milliseconds, Redis server time).
// Every transition is one Lua script, so it is atomic, and lease checks
// use the Redis server's clock (TIME), so Caddy instances with skewed
// clocks agree. Every write sets PEXPIRE to the retention.
//
// Records are spread over redisShards shards by a hash of their key, and
// each shard keeps the custody queue of its records (what is due, by
// when; what List shows; what Stats counts) in keys of the same Redis
// Cluster slot, so that a script changes a record and its place in the
// queue together (see redis_layout.go). Due asks every shard, in one
// pipeline per master.
//
// With replicas, a transition is not reported until the replicas have it:
// each script is followed, on the same connection to the master that owns
// the key's slot, by WAIT (see [WithWait]). A transition the replicas did
// not confirm in time is an error that wraps [ErrNotReplicated], so the
// caller answers 503 rather than something a failover could erase.
type RedisBackend struct {
	client redis.UniversalClient
	prefix string

	// waitReplicas: -1 auto (1 when the key's master reports replicas),
	// 0 off, n > 0 always n.
	waitReplicas int
	waitTimeout  time.Duration
	// requireDurable refuses new claims while the last check found a
	// master that may forget payments.
	requireDurable bool
	mon            *monitor
	claims         claimBook
	// clockOffset is the Redis server's clock minus the local one, in
	// ms, as Due last measured it.
	clockOffset atomic.Int64
}

// RedisOption configures a [RedisBackend].
type RedisOption func(*RedisBackend)

// DefaultWaitTimeout is how long a write waits for its replicas unless
// configured.
const DefaultWaitTimeout = 500 * time.Millisecond

// WithWait makes every transition wait until replicas replicas have it
// (Redis WAIT), for at most timeout (DefaultWaitTimeout if zero).
// replicas < 0 is the default: one replica when the master serving the
// key reports connected replicas, none otherwise; 0 turns waiting off.
func WithWait(replicas int, timeout time.Duration) RedisOption {
	return func(b *RedisBackend) {
		if replicas < 0 {
			replicas = -1
		}
		b.waitReplicas = replicas
		if timeout > 0 {
			b.waitTimeout = timeout
		}
	}
}

// withMonitor shares a client's monitor (the module's pooled client).
func withMonitor(m *monitor) RedisOption {
	return func(b *RedisBackend) { b.mon = m }
}

// withRequireDurable makes Claim fail while a master may forget payments.
func withRequireDurable() RedisOption {
	return func(b *RedisBackend) { b.requireDurable = true }
}

// NewRedisBackend returns a store that keeps its records in client under
// prefix (DefaultKeyPrefix if empty). The caller owns client. Without
// options it waits for one replica when the key's master reports
// replicas (see [WithWait]).
func NewRedisBackend(client redis.UniversalClient, prefix string, opts ...RedisOption) *RedisBackend {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	b := &RedisBackend{client: client, prefix: prefix, waitReplicas: -1, waitTimeout: DefaultWaitTimeout}
	for _, o := range opts {
		o(b)
	}
	if b.mon == nil {
		b.mon = newMonitor(client)
	}
	return b
}

// FullKey returns the Redis key of a logical key: prefix + "{" + shard +
// "}:" + logical, the shard (two digits) chosen by a hash of the logical
// key. The braces make the shard a Redis Cluster hash tag, so a record
// and the queue structures of its shard share one slot (see
// redis_layout.go).
func (b *RedisBackend) FullKey(logical string) string {
	return fullKey(b.prefix, logical)
}

// claimScript: ARGV = owner, fingerprint, lease ms, retention ms. Returns
// {1, now} for a new record (the caller knows the rest), {1, created,
// updated, lease_until, attempts, amb, fp} for an existing one claimed (or
// claimed again by its owner), or {outcome, record} with outcome 2
// replay, 3 in flight, 4 conflict.
var claimScript = newLuaScript(luaPrelude + `
local key = KEYS[1]
local owner, fp, lease, ret = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local cur = redis.call('HMGET', key, 'state', 'owner', 'fp', 'lease_until', 'amb', 'custody', 'attempts', 'created', 'updated')
local state = cur[1]
if not state then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'fp', fp, 'amb', '0',
    'attempts', '1', 'created', ms(now), 'updated', ms(now), 'lease_until', ms(now + lease))
  redis.call('PEXPIRE', key, ret)
  return {1, now}
end
local sfp = cur[3] or ''
if sfp ~= '' and sfp ~= fp then return {4, rec(key)} end
-- A record in custody: the gateway was told it is taken.
if state == 'done' or cur[6] == '1' then return {2, rec(key)} end
local amb = cur[5] or '0'
local created = tonumber(cur[8] or '0') or 0
local attempts = tonumber(cur[7] or '0') or 0
if state == 'processing' then
  local lease_until = tonumber(cur[4] or '0') or 0
  if lease_until > now then
    if cur[2] == owner then
      -- A retried claim: write anyway, so that a WAIT after it also
      -- covers the first claim's write.
      redis.call('PEXPIRE', key, ret)
      return {1, created, tonumber(cur[9] or '0') or 0, lease_until, attempts, amb, sfp}
    end
    return {3, rec(key)}
  end
  amb = '1'
elseif state ~= 'released' then
  return corrupt('state ' .. state)
end
redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'amb', amb,
  'updated', ms(now), 'lease_until', ms(now + lease))
attempts = redis.call('HINCRBY', key, 'attempts', 1)
redis.call('PEXPIRE', key, ret)
return {1, created, now, now + lease, attempts, amb, sfp}
`)

// completeScript: ARGV = owner, status, content type, body, retention ms.
// Returns {code, attempts before}: code 0 done, 1 already done (nothing
// changed but the expiry), 2 done but the owner did not hold the claim,
// 3 done but the record was missing, 4 done but the record had been
// taken into custody (Hold after the claim's lease ran out). A record in
// custody leaves the queue.
var completeScript = newLuaScript(luaRecordScript + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'attempts', 'custody', 'flow')
local code = 0
local attempts = tonumber(cur[3] or '0') or 0
if not cur[1] then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  redis.call('HSET', key, 'fp', '', 'amb', '0', 'attempts', '1', 'created', ms(now))
  code = 3
elseif cur[1] == 'done' then
  -- Written anyway so that a WAIT after a retried call covers the first.
  redis.call('PEXPIRE', key, ARGV[5])
  return {1, attempts}
elseif cur[1] ~= 'processing' or cur[2] ~= owner then
  code = 2
  -- Taken into custody since the claim: a lease taken over, not lost.
  if cur[4] == '1' then code = 4 end
end
if cur[4] == '1' then unlist(m, cur[1], cur[5] or '') end
redis.call('HSET', key, 'state', 'done', 'owner', owner, 'status', ARGV[2],
  'ctype', ARGV[3], 'body', ARGV[4], 'updated', ms(now), 'lease_until', '0')
redis.call('PEXPIRE', key, ARGV[5])
return {code, attempts}
`)

// releaseScript: ARGV = owner, ambiguous ("0" or "1"), retention ms.
// Returns {code, attempts}: code 0 released, 1 the owner does not hold
// the claim, 3 the record is missing, 4 the owner does not hold it as it
// was taken into custody. A record in custody leaves the
// queue.
var releaseScript = newLuaScript(luaRecordScript + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'amb', 'attempts', 'custody', 'flow')
local attempts = tonumber(cur[4] or '0') or 0
if not cur[1] then return {3, 0} end
if cur[2] ~= owner then
  -- In custody: a Hold took the claim over after its lease ran out.
  if cur[5] == '1' then return {4, attempts} end
  return {1, attempts}
end
local amb = cur[3] or '0'
if ARGV[2] == '1' then amb = '1' end
if cur[1] == 'released' then
  if amb == cur[3] then
    -- A retried release: written anyway so that a WAIT covers the first.
    redis.call('PEXPIRE', key, ARGV[3])
    return {0, attempts}
  end
elseif cur[1] ~= 'processing' then
  return {1, attempts}
end
if cur[5] == '1' then unlist(m, cur[1], cur[6] or '') end
redis.call('HSET', key, 'state', 'released', 'amb', amb, 'updated', ms(now), 'lease_until', '0')
redis.call('PEXPIRE', key, ARGV[3])
return {0, attempts}
`)

// millis converts d to whole milliseconds, rounding up, at least 1.
func millis(d time.Duration) int64 {
	n := int64((d + time.Millisecond - 1) / time.Millisecond)
	if n < 1 {
		n = 1
	}
	return n
}

// Claim implements Store.
func (b *RedisBackend) Claim(ctx context.Context, key, owner, fingerprint string, lease, retention time.Duration) (ClaimResult, error) {
	if err := checkClaim(key, owner, lease, retention); err != nil {
		return ClaimResult{}, err
	}
	if b.requireDurable && b.mon.unsafe.Load() {
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, ErrNotDurable)
	}
	keys := b.keys(key)
	v, w, err := b.run(ctx, claimScript, keys[:1], owner, fingerprint, millis(lease), millis(retention))
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	res, err := claimResult(key, v, func(now int64) Record {
		t := msTime(now)
		return Record{State: StateProcessing, Owner: owner, Fingerprint: fingerprint, Attempts: 1,
			CreatedAt: t, UpdatedAt: t, LeaseUntil: t.Add(time.Duration(millis(lease)) * time.Millisecond)}
	})
	if err != nil {
		return ClaimResult{}, err
	}
	if res.Outcome != Claimed {
		return res, nil
	}
	if err := w.err(); err != nil {
		// Nothing was posted: give the unconfirmed claim up at once
		// (best effort, unconfirmed too) rather than leave the next
		// delivery waiting for its lease and then asking the lookup.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.waitTimeout+time.Second)
		_, _, _ = b.runNoWait(rctx, releaseScript, keys, owner, "0", millis(retention))
		cancel()
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	b.claims.add(owner, key, res.Record.Attempts, lease)
	return res, nil
}

// claimResult reads what claimScript returned. For a new record the
// script returns only the time: fresh builds the record from it.
func claimResult(key string, v any, fresh func(now int64) Record) (ClaimResult, error) {
	vals, _ := v.([]any)
	bad := func() (ClaimResult, error) {
		return ClaimResult{}, &corruptError{key: key, what: fmt.Sprintf("claim returned %v", v)}
	}
	if len(vals) < 2 {
		return bad()
	}
	code, _ := vals[0].(int64)
	switch {
	case code == int64(Claimed) && len(vals) == 2:
		now, ok := vals[1].(int64)
		if !ok {
			return bad()
		}
		return ClaimResult{Outcome: Claimed, Record: fresh(now)}, nil
	case code == int64(Claimed) && len(vals) == 7:
		// An existing record, claimed: only what the caller cannot know.
		rec := fresh(0)
		var nums [4]int64
		for i := range nums {
			n, ok := vals[1+i].(int64)
			if !ok {
				return bad()
			}
			nums[i] = n
		}
		amb, _ := vals[5].(string)
		fp, _ := vals[6].(string)
		rec.CreatedAt, rec.UpdatedAt, rec.LeaseUntil = msTime(nums[0]), msTime(nums[1]), msTime(nums[2])
		rec.Attempts, rec.Ambiguous, rec.Fingerprint = int(nums[3]), amb == "1", fp
		return ClaimResult{Outcome: Claimed, Record: rec, Ambiguous: rec.Ambiguous}, nil
	case code >= int64(Replay) && code <= int64(Conflict) && len(vals) == 2:
		fields, _ := vals[1].([]any)
		rec, found, err := parseRecord(key, fields)
		if err != nil {
			return ClaimResult{}, err
		}
		if !found {
			return ClaimResult{}, &corruptError{key: key, what: "claim returned no record"}
		}
		return ClaimResult{Outcome: Outcome(code), Record: rec}, nil
	}
	return bad()
}

// Complete implements Store.
func (b *RedisBackend) Complete(ctx context.Context, key, owner string, resp Response, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	v, w, err := b.run(ctx, completeScript, b.keys(key),
		owner, resp.Status, resp.ContentType, body, millis(retention))
	if err != nil {
		return fmt.Errorf("store: complete %q: %w", key, err)
	}
	code, attempts, err := codeAndAttempts(key, "complete", v)
	if err != nil {
		return err
	}
	claimed, known := b.claims.take(owner, key)
	var out error
	switch code {
	case 0, 1:
	case 2:
		out = b.lostOrLease(known, claimed, attempts)
	case 3:
		out = errMissingRecord
	case 4:
		out = ErrLeaseLost
	default:
		return &corruptError{key: key, what: fmt.Sprintf("complete returned %d", code)}
	}
	if err := w.err(); err != nil {
		return fmt.Errorf("store: complete %q: %w", key, err)
	}
	return out
}

// Release implements Store.
func (b *RedisBackend) Release(ctx context.Context, key, owner string, ambiguous bool, retention time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkOwner(owner); err != nil {
		return err
	}
	if err := checkRetention(retention); err != nil {
		return err
	}
	amb := "0"
	if ambiguous {
		amb = "1"
	}
	v, w, err := b.run(ctx, releaseScript, b.keys(key), owner, amb, millis(retention))
	if err != nil {
		return fmt.Errorf("store: release %q: %w", key, err)
	}
	code, attempts, err := codeAndAttempts(key, "release", v)
	if err != nil {
		return err
	}
	claimed, known := b.claims.take(owner, key)
	switch code {
	case 0:
		if err := w.err(); err != nil {
			return fmt.Errorf("store: release %q: %w", key, err)
		}
		return nil
	case 1:
		return b.lostOrLease(known, claimed, attempts)
	case 3:
		return errRecordMissing
	case 4:
		return ErrLeaseLost
	}
	return &corruptError{key: key, what: fmt.Sprintf("release returned %d", code)}
}

// lostOrLease tells a record the store lost from a lease taken over:
// another owner's claim after ours raised the attempt count past the one
// ours got; a record at or below it has lost our claim (a failover to a
// replica that never had it).
func (b *RedisBackend) lostOrLease(known bool, claimed, now int64) error {
	if known && now <= claimed {
		return errRecordRolledBack
	}
	return ErrLeaseLost
}

func codeAndAttempts(key, what string, v any) (code, attempts int64, err error) {
	vals, _ := v.([]any)
	if len(vals) == 2 {
		c, ok1 := vals[0].(int64)
		a, ok2 := vals[1].(int64)
		if ok1 && ok2 {
			return c, a, nil
		}
	}
	return 0, 0, &corruptError{key: key, what: fmt.Sprintf("%s returned %v", what, v)}
}

// Get implements Store.
func (b *RedisBackend) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := checkKey(key); err != nil {
		return Record{}, false, err
	}
	v, err := b.client.HMGet(ctx, b.FullKey(key), recordFields...).Result()
	if err != nil {
		return Record{}, false, fmt.Errorf("store: get %q: %w", key, err)
	}
	return parseRecord(key, v)
}

// Interface guards
var _ Store = (*RedisBackend)(nil)
