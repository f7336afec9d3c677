package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix of the Redis store unless configured.
const DefaultKeyPrefix = "billbridge:"

// RedisBackend is the Redis Store. A record is a hash with the fields
// state, owner, fp, status, ctype, body, amb, attempts, created, updated and
// lease_until (times in unix milliseconds, Redis server time). Every
// transition is one Lua script, so it is atomic, and lease checks use the
// Redis server's clock (TIME), so Caddy instances with skewed clocks agree.
// Every write sets PEXPIRE to the retention.
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

// FullKey returns the Redis key of a logical key: prefix + "{" + logical +
// "}". The braces make the logical key a Redis Cluster hash tag, so all
// keys of one event land in one slot.
func (b *RedisBackend) FullKey(logical string) string {
	return fullKey(b.prefix, logical)
}

func fullKey(prefix, logical string) string {
	return prefix + "{" + logical + "}"
}

// recordFields are the hash fields in the order parseRecord reads them.
var recordFields = []string{"state", "owner", "fp", "status", "ctype", "body", "amb", "attempts", "created", "updated", "lease_until"}

// luaPrelude is shared by every script: the key, the server's time in
// milliseconds, and a reader of the whole record in recordFields order.
const luaPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(n) return string.format('%d', n) end
local function rec()
  return redis.call('HMGET', key, 'state', 'owner', 'fp', 'status', 'ctype', 'body', 'amb', 'attempts', 'created', 'updated', 'lease_until')
end
local function corrupt(what)
  return redis.error_reply('billbridge: corrupt record: ' .. what)
end
`

// claimScript: ARGV = owner, fingerprint, lease ms, retention ms.
// Returns {outcome, record} with outcome 1 claimed, 2 replay, 3 in flight,
// 4 conflict.
var claimScript = newLuaScript(luaPrelude + `
local owner, fp, lease, ret = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local cur = redis.call('HMGET', key, 'state', 'owner', 'fp', 'lease_until', 'amb')
local state = cur[1]
if not state then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'fp', fp,
    'status', '0', 'ctype', '', 'body', '', 'amb', '0', 'attempts', '1',
    'created', ms(now), 'updated', ms(now), 'lease_until', ms(now + lease))
  redis.call('PEXPIRE', key, ret)
  return {1, rec()}
end
local sfp = cur[3] or ''
if sfp ~= '' and sfp ~= fp then return {4, rec()} end
if state == 'done' then return {2, rec()} end
local amb = cur[5] or '0'
if state == 'processing' then
  if (tonumber(cur[4] or '0') or 0) > now then
    if cur[2] == owner then
      -- A retried claim: write anyway, so that a WAIT after it also
      -- covers the first claim's write.
      redis.call('PEXPIRE', key, ret)
      return {1, rec()}
    end
    return {3, rec()}
  end
  amb = '1'
elseif state ~= 'released' then
  return corrupt('state ' .. state)
end
redis.call('HSET', key, 'state', 'processing', 'owner', owner, 'amb', amb,
  'updated', ms(now), 'lease_until', ms(now + lease))
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('PEXPIRE', key, ret)
return {1, rec()}
`)

// completeScript: ARGV = owner, status, content type, body, retention ms.
// Returns {code, attempts before}: code 0 done, 1 already done (nothing
// changed but the expiry), 2 done but the owner did not hold the claim,
// 3 done but the record was missing.
var completeScript = newLuaScript(luaPrelude + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'attempts')
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
end
redis.call('HSET', key, 'state', 'done', 'owner', owner, 'status', ARGV[2],
  'ctype', ARGV[3], 'body', ARGV[4], 'updated', ms(now), 'lease_until', '0')
redis.call('PEXPIRE', key, ARGV[5])
return {code, attempts}
`)

// releaseScript: ARGV = owner, ambiguous ("0" or "1"), retention ms.
// Returns {code, attempts}: code 0 released, 1 the owner does not hold
// the claim, 3 the record is missing.
var releaseScript = newLuaScript(luaPrelude + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'amb', 'attempts')
local attempts = tonumber(cur[4] or '0') or 0
if not cur[1] then return {3, 0} end
if cur[2] ~= owner then return {1, attempts} end
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
	fk := b.FullKey(key)
	v, w, err := b.run(ctx, claimScript, fk, owner, fingerprint, millis(lease), millis(retention))
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	vals, _ := v.([]any)
	if len(vals) != 2 {
		return ClaimResult{}, &corruptError{key: key, what: fmt.Sprintf("claim returned %v", v)}
	}
	code, ok := vals[0].(int64)
	if !ok || code < int64(Claimed) || code > int64(Conflict) {
		return ClaimResult{}, &corruptError{key: key, what: fmt.Sprintf("claim returned outcome %v", vals[0])}
	}
	fields, _ := vals[1].([]any)
	rec, found, err := parseRecord(key, fields)
	if err != nil {
		return ClaimResult{}, err
	}
	if !found {
		return ClaimResult{}, &corruptError{key: key, what: "claim returned no record"}
	}
	res := ClaimResult{Outcome: Outcome(code), Record: rec}
	res.Ambiguous = res.Outcome == Claimed && rec.Ambiguous
	if res.Outcome != Claimed {
		return res, nil
	}
	if err := w.err(); err != nil {
		// Nothing was posted: give the unconfirmed claim up at once
		// (best effort, unconfirmed too) rather than leave the next
		// delivery waiting for its lease and then asking the lookup.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.waitTimeout+time.Second)
		_, _, _ = b.runNoWait(rctx, releaseScript, fk, owner, "0", millis(retention))
		cancel()
		return ClaimResult{}, fmt.Errorf("store: claim %q: %w", key, err)
	}
	b.claims.add(owner, key, rec.Attempts, lease)
	return res, nil
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
	v, w, err := b.run(ctx, completeScript, b.FullKey(key),
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
	v, w, err := b.run(ctx, releaseScript, b.FullKey(key), owner, amb, millis(retention))
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

// parseRecord reads the values of recordFields; found is false if the
// record has no state (it does not exist).
func parseRecord(key string, v []any) (rec Record, found bool, err error) {
	if len(v) != len(recordFields) {
		return Record{}, false, &corruptError{key: key, what: fmt.Sprintf("%d fields", len(v))}
	}
	str := func(i int) string {
		s, _ := v[i].(string)
		return s
	}
	num := func(i int) int64 {
		if err != nil {
			return 0
		}
		s := str(i)
		if s == "" {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			err = &corruptError{key: key, what: fmt.Sprintf("field %s: %q", recordFields[i], s)}
		}
		return n
	}
	millisTime := func(i int) time.Time {
		n := num(i)
		if n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	if v[0] == nil {
		return Record{}, false, nil
	}
	rec = Record{
		State:       State(str(0)),
		Owner:       str(1),
		Fingerprint: str(2),
		Response: Response{
			Status:      int(num(3)),
			ContentType: str(4),
			Body:        bytesOrNil(str(5)),
		},
		Ambiguous:  str(6) == "1",
		Attempts:   int(num(7)),
		CreatedAt:  millisTime(8),
		UpdatedAt:  millisTime(9),
		LeaseUntil: millisTime(10),
	}
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// Interface guards
var _ Store = (*RedisBackend)(nil)
