package store

import (
	"context"
	"fmt"
	"time"
)

// The Redis store's custody: each transition is one script on the
// record's shard (see redis_layout.go), which moves the record and its
// entries in the shard's indexes together.

// holdScript: ARGV = fingerprint, flow, payload, status, content type,
// body, retention ms. Returns {5, now} for a new record (the caller
// knows the rest), {5, now, created, attempts, amb, fp} for a released
// or expired synchronous one taken into custody, or {outcome, record}
// with outcome 2 replay, 3 in flight, 4 conflict.
var holdScript = newLuaScript(luaRecordScript + `
local fp, flow, ret = ARGV[1], ARGV[2], tonumber(ARGV[7])
local cur = redis.call('HMGET', key, 'state', 'fp', 'lease_until', 'amb', 'custody', 'attempts', 'created')
local state = cur[1]
if not state then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  forgetStale(m)
  redis.call('HSET', key, 'state', 'queued', 'fp', fp, 'status', ARGV[4], 'ctype', ARGV[5], 'body', ARGV[6],
    'amb', '0', 'attempts', '0', 'created', ms(now), 'updated', ms(now),
    'custody', '1', 'flow', flow, 'payload', ARGV[3], 'next', ms(now))
  redis.call('PEXPIRE', key, ret)
  relist(m, nil, nil, 'queued', flow, now, now, now + ret)
  return {5, now}
end
local sfp = cur[2] or ''
if sfp ~= '' and sfp ~= fp then return {4, rec(key)} end
if state == 'done' or cur[5] == '1' then return {2, rec(key)} end
local amb = cur[4] or '0'
if state == 'processing' then
  if (tonumber(cur[3] or '0') or 0) > now then return {3, rec(key)} end
  amb = '1' -- the synchronous attempt's lease ran out: it may have posted
elseif state ~= 'released' then
  return corrupt('state ' .. state)
end
local created = tonumber(cur[7] or '0') or 0
forgetStale(m)
redis.call('HSET', key, 'state', 'queued', 'status', ARGV[4], 'ctype', ARGV[5], 'body', ARGV[6],
  'amb', amb, 'updated', ms(now), 'custody', '1', 'flow', flow, 'payload', ARGV[3], 'next', ms(now))
redis.call('HDEL', key, 'owner', 'lease_until')
redis.call('PEXPIRE', key, ret)
relist(m, nil, nil, 'queued', flow, created, now, now + ret)
return {5, now, created, tonumber(cur[6] or '0') or 0, amb, sfp}
`)

// Hold implements Queue.
func (b *RedisBackend) Hold(ctx context.Context, e Entry, retention time.Duration) (ClaimResult, error) {
	if err := checkEntry(e, retention); err != nil {
		return ClaimResult{}, err
	}
	if b.requireDurable && b.mon.unsafe.Load() {
		return ClaimResult{}, fmt.Errorf("store: hold %q: %w", e.Key, ErrNotDurable)
	}
	v, w, err := b.run(ctx, holdScript, b.keys(e.Key), e.Fingerprint, e.Flow, e.Payload,
		e.Response.Status, e.Response.ContentType, nonNil(e.Response.Body), millis(retention))
	if err != nil {
		return ClaimResult{}, fmt.Errorf("store: hold %q: %w", e.Key, err)
	}
	vals, _ := v.([]any)
	if len(vals) == 0 {
		return ClaimResult{}, &corruptError{key: e.Key, what: fmt.Sprintf("hold returned %v", v)}
	}
	if code, _ := vals[0].(int64); code >= int64(Replay) && code <= int64(Conflict) {
		// Not taken: the claim's answers, with the stored record.
		return claimResult(e.Key, v, nil)
	}
	if vals[0] != int64(Queued) {
		return ClaimResult{}, &corruptError{key: e.Key, what: fmt.Sprintf("hold returned %v", v)}
	}
	nums, strs, ok := splitInts(vals[1:])
	fresh := len(nums) == 1 && len(strs) == 0
	takenOver := len(nums) == 3 && len(strs) == 2
	if !ok || !fresh && !takenOver {
		return ClaimResult{}, &corruptError{key: e.Key, what: fmt.Sprintf("hold returned %v", v)}
	}
	now := msTime(nums[0])
	rec := Record{
		State:       StateQueued,
		Fingerprint: e.Fingerprint,
		Response:    Response{Status: e.Response.Status, ContentType: e.Response.ContentType, Body: cloneBytes(e.Response.Body)},
		CreatedAt:   now,
		UpdatedAt:   now,
		Custody:     true,
		Flow:        e.Flow,
		Payload:     cloneBytes(e.Payload),
		NextAttempt: now,
	}
	if takenOver {
		rec.CreatedAt, rec.Attempts = msTime(nums[1]), int(nums[2])
		rec.Ambiguous, rec.Fingerprint = strs[0] == "1", strs[1]
	}
	if err := w.err(); err != nil {
		// The gateway must not be told: it retries, and finds the event
		// held (Replay) if the write survived.
		return ClaimResult{}, fmt.Errorf("store: hold %q: %w", e.Key, err)
	}
	return ClaimResult{Outcome: Queued, Record: rec, Ambiguous: rec.Ambiguous}, nil
}

// splitInts splits a script's reply into its leading integers and the
// strings after them.
func splitInts(vals []any) (nums []int64, strs []string, ok bool) {
	for _, v := range vals {
		switch x := v.(type) {
		case int64:
			if len(strs) > 0 {
				return nil, nil, false
			}
			nums = append(nums, x)
		case string:
			strs = append(strs, x)
		default:
			return nil, nil, false
		}
	}
	return nums, strs, true
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// deliveredScript: ARGV = owner, attempt (see attemptTail), retention
// ms. Returns {code, attempts before}: code 0 done, 1 already done
// (nothing changed but the expiry), 2 done but owner did not hold it,
// 3 done but the record was missing (recreated, in custody).
var deliveredScript = newLuaScript(luaRecordScript + luaHistory + `
local owner = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'owner', 'attempts', 'custody', 'flow', 'hist')
local attempts = tonumber(cur[3] or '0') or 0
local code = 0
if not cur[1] then
  if redis.call('EXISTS', key) == 1 then return corrupt('no state') end
  forgetStale(m)
  redis.call('HSET', key, 'fp', '', 'amb', '0', 'attempts', '1', 'created', ms(now), 'custody', '1')
  code = 3
elseif cur[1] == 'done' then
  -- Written anyway so that a WAIT after a retried call covers the first.
  redis.call('PEXPIRE', key, ARGV[3])
  return {1, attempts}
else
  if cur[1] ~= 'processing' or cur[2] ~= owner or cur[4] ~= '1' then code = 2 end
  if cur[4] == '1' then unlist(m, cur[1], cur[5] or '') end
end
redis.call('HSET', key, 'state', 'done', 'owner', owner, 'updated', ms(now), 'hist', addHistory(cur[6], ARGV[2]))
-- Delivered: the payload (customers' names and codes) is not needed
-- again, and is not kept for the retention.
redis.call('HDEL', key, 'lease_until', 'next', 'reason', 'payload')
redis.call('PEXPIRE', key, ARGV[3])
return {code, attempts}
`)

// Delivered implements Queue.
func (b *RedisBackend) Delivered(ctx context.Context, key, owner string, a Attempt, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	v, w, err := b.run(ctx, deliveredScript, b.keys(key), owner, attemptTail(a), millis(retention))
	if err != nil {
		return fmt.Errorf("store: delivered %q: %w", key, err)
	}
	code, attempts, err := codeAndAttempts(key, "delivered", v)
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
		return &corruptError{key: key, what: fmt.Sprintf("delivered returned %d", code)}
	}
	if err := w.err(); err != nil {
		return fmt.Errorf("store: delivered %q: %w", key, err)
	}
	return out
}

// settleScript ends a worker's attempt without delivery. ARGV = owner,
// attempt (see attemptTail), ambiguous ("0" or "1"), the new state
// (queued or dead), delay ms (queued), reason (dead), retention ms.
// Returns {code, attempts}: code 0 settled, 1 owner does not hold it,
// 3 the record is missing.
var settleScript = newLuaScript(luaRecordScript + luaHistory + `
local owner, to = ARGV[1], ARGV[4]
local cur = redis.call('HMGET', key, 'state', 'owner', 'attempts', 'custody', 'flow', 'hist', 'amb', 'created')
if not cur[1] then return {3, 0} end
local attempts = tonumber(cur[3] or '0') or 0
if cur[1] ~= 'processing' or cur[2] ~= owner or cur[4] ~= '1' then return {1, attempts} end
local amb = cur[7] or '0'
if ARGV[3] == '1' then amb = '1' end
local flow = cur[5] or ''
redis.call('HSET', key, 'state', to, 'amb', amb, 'updated', ms(now), 'hist', addHistory(cur[6], ARGV[2]))
redis.call('HDEL', key, 'lease_until')
local due = nil
if to == 'queued' then
  due = now + tonumber(ARGV[5])
  redis.call('HSET', key, 'next', ms(due))
  redis.call('HDEL', key, 'reason')
else
  redis.call('HSET', key, 'reason', ARGV[6])
  redis.call('HDEL', key, 'next')
end
redis.call('PEXPIRE', key, ARGV[7])
relist(m, 'processing', flow, to, flow, tonumber(cur[8] or '0') or 0, due, now + tonumber(ARGV[7]))
return {0, attempts}
`)

// Retry implements Queue.
func (b *RedisBackend) Retry(ctx context.Context, key, owner string, a Attempt, ambiguous bool, after, retention time.Duration) error {
	return b.settle(ctx, "retry", key, owner, a, ambiguous, StateQueued, after, "", retention)
}

// Bury implements Queue.
func (b *RedisBackend) Bury(ctx context.Context, key, owner string, a Attempt, ambiguous bool, reason string, retention time.Duration) error {
	return b.settle(ctx, "bury", key, owner, a, ambiguous, StateDead, 0, reason, retention)
}

func (b *RedisBackend) settle(ctx context.Context, op, key, owner string, a Attempt, ambiguous bool, to State, after time.Duration, reason string, retention time.Duration) error {
	if err := checkSettle(ctx, key, owner, retention); err != nil {
		return err
	}
	delay := int64(0)
	if after > 0 {
		delay = millis(after)
	}
	v, w, err := b.run(ctx, settleScript, b.keys(key), owner, attemptTail(a), flag(ambiguous),
		string(to), delay, reason, millis(retention))
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	code, attempts, err := codeAndAttempts(key, op, v)
	if err != nil {
		return err
	}
	claimed, known := b.claims.take(owner, key)
	switch code {
	case 0:
		if err := w.err(); err != nil {
			return fmt.Errorf("store: %s %q: %w", op, key, err)
		}
		return nil
	case 1:
		return b.lostOrLease(known, claimed, attempts)
	case 3:
		return errRecordMissing
	}
	return &corruptError{key: key, what: fmt.Sprintf("%s returned %d", op, code)}
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// operateScript is an operator's change. ARGV = "redeliver" or
// "discard", reason (discard), retention ms. Returns {0, record} done,
// {2, record} wrong state, {3} not found, {4, record} no payload.
var operateScript = newLuaScript(luaRecordScript + `
local op = ARGV[1]
local cur = redis.call('HMGET', key, 'state', 'custody', 'flow', 'created')
local state = cur[1]
if not state then return {3} end
if state ~= 'dead' and state ~= 'released' and state ~= 'queued' then return {2, rec(key)} end
if op == 'redeliver' and redis.call('HSTRLEN', key, 'payload') == 0 then return {4, rec(key)} end
local flow = cur[3] or ''
local from = nil
if cur[2] == '1' then from = state else forgetStale(m) end
local created = tonumber(cur[4] or '0') or 0
local ret = tonumber(ARGV[3])
if op == 'redeliver' then
  redis.call('HSET', key, 'state', 'queued', 'custody', '1', 'updated', ms(now), 'next', ms(now))
  redis.call('HDEL', key, 'owner', 'reason', 'lease_until')
  relist(m, from, flow, 'queued', flow, created, now, now + ret)
else
  redis.call('HSET', key, 'state', 'discarded', 'custody', '1', 'updated', ms(now), 'reason', ARGV[2])
  redis.call('HDEL', key, 'owner', 'next', 'lease_until')
  relist(m, from, flow, 'discarded', flow, created, nil, now + ret)
end
redis.call('PEXPIRE', key, ret)
return {0, rec(key)}
`)

// Redeliver implements Queue.
func (b *RedisBackend) Redeliver(ctx context.Context, key string, retention time.Duration) (Record, error) {
	return b.operate(ctx, "redeliver", key, "", retention)
}

// Discard implements Queue.
func (b *RedisBackend) Discard(ctx context.Context, key, reason string, retention time.Duration) (Record, error) {
	return b.operate(ctx, "discard", key, reason, retention)
}

func (b *RedisBackend) operate(ctx context.Context, op, key, reason string, retention time.Duration) (Record, error) {
	if err := checkKey(key); err != nil {
		return Record{}, err
	}
	if err := checkRetention(retention); err != nil {
		return Record{}, err
	}
	v, w, err := b.run(ctx, operateScript, b.keys(key), op, reason, millis(retention))
	if err != nil {
		return Record{}, fmt.Errorf("store: %s %q: %w", op, key, err)
	}
	vals, _ := v.([]any)
	var code int64
	if len(vals) > 0 {
		code, _ = vals[0].(int64)
	}
	if code == 3 && len(vals) == 1 {
		return Record{}, ErrNotFound
	}
	if len(vals) != 2 {
		return Record{}, &corruptError{key: key, what: fmt.Sprintf("%s returned %v", op, v)}
	}
	fields, _ := vals[1].([]any)
	rec, found, err := parseRecord(key, fields)
	if err != nil {
		return Record{}, err
	}
	if !found {
		return Record{}, &corruptError{key: key, what: op + " returned no record"}
	}
	switch code {
	case 0:
		if err := w.err(); err != nil {
			return Record{}, fmt.Errorf("store: %s %q: %w", op, key, err)
		}
		return rec, nil
	case 2:
		return rec, fmt.Errorf("%w: %s", ErrWrongState, rec.State)
	case 4:
		return rec, ErrNoPayload
	}
	return Record{}, &corruptError{key: key, what: fmt.Sprintf("%s returned %d", op, code)}
}

// Interface guards
var _ Queue = (*RedisBackend)(nil)
