package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

// fnv1a64 is FNV-1a (32 bits) of s modulo 64, written out here so that
// the test pins the layout: a store that sharded otherwise would not find
// the records written before.
func fnv1a64(s string) int {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h % 64)
}

func TestRedisRecordLayout(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	prefix := testPrefix(t, client)
	s := NewRedisBackend(client, prefix)
	const logical = "bill24:webhook:abc"
	if got, want := s.FullKey(logical), fmt.Sprintf("%s{%02d}:bill24:webhook:abc", prefix, fnv1a64(logical)); got != want {
		t.Fatalf("FullKey = %q, want %q", got, want)
	}
	if got, want := NewRedisBackend(client, "").FullKey("k"), fmt.Sprintf("billbridge:{%02d}:k", fnv1a64("k")); got != want {
		t.Errorf("FullKey with the default prefix = %q, want %q", got, want)
	}
	shards := map[string]bool{}
	for i := range 1000 {
		shards[s.FullKey(fmt.Sprintf("bill24:webhook:%d", i))[len(prefix):len(prefix)+4]] = true
	}
	if len(shards) != redisShards {
		t.Errorf("1000 keys went to %d shards, want all %d", len(shards), redisShards)
	}
	ctx := t.Context()
	res, err := s.Claim(ctx, logical, "A", "fp1", time.Minute, time.Hour)
	if err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim = %v, %v", res.Outcome, err)
	}
	h, err := client.HGetAll(ctx, s.FullKey(logical)).Result()
	if err != nil {
		t.Fatalf("HGETALL: %v", err)
	}
	// A claim writes what it knows; the response fields come with Complete.
	want := []string{"state", "owner", "fp", "amb", "attempts", "created", "updated", "lease_until"}
	for _, f := range want {
		if _, ok := h[f]; !ok {
			t.Errorf("field %q missing from %v", f, h)
		}
	}
	if len(h) != len(want) {
		t.Errorf("a claim wrote %d fields, want %d: %v", len(h), len(want), h)
	}
	if h["state"] != "processing" || h["owner"] != "A" || h["fp"] != "fp1" || h["attempts"] != "1" || h["amb"] != "0" {
		t.Errorf("hash = %v", h)
	}
	// Times are Redis server time in unix milliseconds.
	tm, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	created, _ := strconv.ParseInt(h["created"], 10, 64)
	lease, _ := strconv.ParseInt(h["lease_until"], 10, 64)
	if d := tm.UnixMilli() - created; d < 0 || d > 5000 {
		t.Errorf("created = %d, server time %d", created, tm.UnixMilli())
	}
	if lease-created != time.Minute.Milliseconds() {
		t.Errorf("lease_until - created = %d ms", lease-created)
	}
	// The claim's record, built without reading it back, is the stored one.
	if got, _, err := s.Get(ctx, logical); err != nil || !reflect.DeepEqual(got, res.Record) {
		t.Errorf("Claim returned %+v, Get %+v (%v)", res.Record, got, err)
	}
	ttl, err := client.PTTL(ctx, s.FullKey(logical)).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL = %v, %v; want about an hour", ttl, err)
	}
	// Every write refreshes the expiry.
	if err := s.Complete(ctx, logical, "A", Response{Status: 200, ContentType: "text/plain", Body: []byte("ok")}, 10*time.Hour); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if ttl, _ := client.PTTL(ctx, s.FullKey(logical)).Result(); ttl <= 9*time.Hour {
		t.Errorf("PTTL after Complete = %v, want about 10h", ttl)
	}
	h, _ = client.HGetAll(ctx, s.FullKey(logical)).Result()
	if h["state"] != "done" || h["status"] != "200" || h["ctype"] != "text/plain" || h["body"] != "ok" || h["lease_until"] != "0" {
		t.Errorf("done hash = %v", h)
	}
	// A synchronous record never touches custody's indexes.
	if keys, _ := client.Keys(ctx, prefix+"*#*").Result(); len(keys) != 0 {
		t.Errorf("a synchronous record wrote queue keys %v", keys)
	}
}

func TestRedisScriptCacheFlushed(t *testing.T) {
	client := newTestClient(t, startRedisServer(t).Addr) // SCRIPT FLUSH is server-wide: own server
	s := NewRedisBackend(client, testPrefix(t, client))
	ctx := t.Context()
	for i := range 3 {
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		key := "k" + strconv.Itoa(i)
		if res, err := s.Claim(ctx, key, "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
			t.Fatalf("Claim after SCRIPT FLUSH = %v, %v", res.Outcome, err)
		}
		if err := client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		if err := s.Complete(ctx, key, "A", Response{Status: 200}, time.Hour); err != nil {
			t.Fatalf("Complete after SCRIPT FLUSH: %v", err)
		}
	}
}

func TestRedisCorruptRecordIsAnError(t *testing.T) {
	client := newTestClient(t, testRedisAddr(t))
	s := NewRedisBackend(client, testPrefix(t, client))
	ctx := t.Context()

	// A key of another type.
	client.Set(ctx, s.FullKey("str"), "x", time.Hour)
	if res, err := s.Claim(ctx, "str", "A", "fp", time.Minute, time.Hour); err == nil {
		t.Errorf("Claim on a string key = %v, want an error", res.Outcome)
	}
	if _, found, err := s.Get(ctx, "str"); err == nil {
		t.Errorf("Get on a string key: found %v, want an error", found)
	}
	// A hash without state.
	client.HSet(ctx, s.FullKey("nostate"), "owner", "A")
	if res, err := s.Claim(ctx, "nostate", "A", "fp", time.Minute, time.Hour); err == nil {
		t.Errorf("Claim on a hash without state = %v, want an error", res.Outcome)
	}
	// An unknown state.
	client.HSet(ctx, s.FullKey("weird"), "state", "weird", "fp", "fp")
	if res, err := s.Claim(ctx, "weird", "A", "fp", time.Minute, time.Hour); err == nil {
		t.Errorf("Claim on an unknown state = %v, want an error", res.Outcome)
	}
	// A field that is not a number.
	client.HSet(ctx, s.FullKey("nan"), "state", "done", "fp", "fp", "attempts", "many")
	if _, _, err := s.Get(ctx, "nan"); err == nil {
		t.Errorf("Get with attempts=many: want an error")
	}
}

// TestRedisOutage kills Redis: every operation must fail with an error (the
// caller fails closed), never look like a claim or an absent record; once
// Redis is back, the same client and a new one work again.
func TestRedisOutage(t *testing.T) {
	srv := startRedisServer(t) // killed below: always its own server
	client := newTestClient(t, srv.Addr)
	s := NewRedisBackend(client, "billbridge:")
	if res, err := s.Claim(t.Context(), "before", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
		t.Fatalf("Claim before the outage = %v, %v", res.Outcome, err)
	}

	srv.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := s.Claim(ctx, "during", "A", "fp", time.Minute, time.Hour)
	if err == nil {
		t.Fatalf("Claim during the outage = %v, want an error", res.Outcome)
	}
	if res.Outcome != 0 {
		t.Errorf("Claim during the outage returned outcome %v with its error", res.Outcome)
	}
	if _, found, err := s.Get(ctx, "before"); err == nil {
		t.Errorf("Get during the outage: found=%v, want an error", found)
	}
	if err := s.Complete(ctx, "before", "A", Response{Status: 200}, time.Hour); err == nil || errors.Is(err, ErrLeaseLost) {
		t.Errorf("Complete during the outage = %v, want a connection error", err)
	}
	if err := s.Release(ctx, "before", "A", false, time.Hour); err == nil || errors.Is(err, ErrLeaseLost) {
		t.Errorf("Release during the outage = %v, want a connection error", err)
	}

	srv.Restart()
	var lastErr error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var res ClaimResult
		res, lastErr = s.Claim(t.Context(), "after", "A", "fp", time.Minute, time.Hour)
		if lastErr == nil {
			if res.Outcome != Claimed {
				t.Fatalf("Claim after the outage = %v", res.Outcome)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("the same client did not recover: %v", lastErr)
	}
	fresh := NewRedisBackend(newTestClient(t, srv.Addr), "billbridge:")
	if res, err := fresh.Claim(t.Context(), "after", "B", "fp", time.Minute, time.Hour); err != nil || res.Outcome != InFlight {
		t.Fatalf("Claim with a new client = %v, %v; want in flight", res.Outcome, err)
	}
}

// provisionRedis provisions m with a bare Caddy context and cleans it up
// when the test ends.
func provisionRedis(t *testing.T, m *Redis) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := m.Provision(ctx)
	t.Cleanup(func() {
		if err := m.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return err
}

func TestRedisModuleSharesClient(t *testing.T) {
	addr := testRedisAddr(t)
	raw := newTestClient(t, addr)
	prefix := testPrefix(t, raw)

	m1 := &Redis{Addresses: []string{addr}, KeyPrefix: prefix + "one:", DialTimeout: caddy.Duration(time.Second)}
	m2 := &Redis{Addresses: []string{addr}, KeyPrefix: prefix + "two:", DialTimeout: caddy.Duration(time.Second)}
	if err := provisionRedis(t, m1); err != nil {
		t.Fatalf("Provision m1: %v", err)
	}
	if err := provisionRedis(t, m2); err != nil {
		t.Fatalf("Provision m2: %v", err)
	}
	if m1.poolKey != m2.poolKey || m1.backend.client != m2.backend.client {
		t.Fatalf("identical settings got different clients")
	}
	if refs, _ := redisClients.References(m1.poolKey); refs != 2 {
		t.Errorf("pool references = %d, want 2", refs)
	}
	if strings.Contains(m1.poolKey, "localhost") || strings.Contains(m1.poolKey, addr) {
		t.Errorf("pool key is not a digest: %q", m1.poolKey)
	}
	client := m1.backend.client

	// Both work, under their own prefixes.
	ctx := t.Context()
	for _, m := range []*Redis{m1, m2} {
		if res, err := m.Backend().Claim(ctx, "k", "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
			t.Fatalf("Claim via %s = %v, %v", m.KeyPrefix, res.Outcome, err)
		}
		if n, err := raw.Exists(ctx, m.FullKey("k")).Result(); err != nil || n != 1 {
			t.Errorf("key %q not in Redis: %d, %v", m.FullKey("k"), n, err)
		}
	}

	// Another database is another client.
	m3 := &Redis{Addresses: []string{addr}, DB: "1", KeyPrefix: prefix}
	if err := provisionRedis(t, m3); err != nil {
		t.Fatalf("Provision m3: %v", err)
	}
	if m3.poolKey == m1.poolKey {
		t.Errorf("db 1 shares the pool key of db 0")
	}
	// So is another password, and the key does not carry it.
	m4 := &Redis{Addresses: []string{addr}, Password: "hunter2-secret", KeyPrefix: prefix}
	if err := provisionRedis(t, m4); err != nil {
		t.Fatalf("Provision m4: %v", err)
	}
	if m4.poolKey == m1.poolKey || strings.Contains(m4.poolKey, "hunter2") {
		t.Errorf("pool key with a password = %q", m4.poolKey)
	}

	// A reload: the old module goes, the client stays for the other.
	if err := m1.Cleanup(); err != nil {
		t.Fatalf("Cleanup m1: %v", err)
	}
	if err := m2.Backend().Release(ctx, "k", "A", false, time.Hour); err != nil {
		t.Fatalf("Release via m2 after m1's cleanup: %v", err)
	}
	if err := m2.Cleanup(); err != nil {
		t.Fatalf("Cleanup m2: %v", err)
	}
	if _, ok := redisClients.References(m1.poolKey); ok {
		t.Errorf("pool entry survives its last user")
	}
	if err := client.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Ping on the client after the last cleanup = %v, want ErrClosed", err)
	}
	if err := m2.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

func TestRedisModulePlaceholders(t *testing.T) {
	addr := testRedisAddr(t)
	raw := newTestClient(t, addr)
	prefix := testPrefix(t, raw)
	t.Setenv("BB_STORE_TEST_URL", "redis://"+addr+"/0")
	t.Setenv("BB_STORE_TEST_ADDR", addr)
	t.Setenv("BB_STORE_TEST_PREFIX", prefix+"env:")
	t.Setenv("BB_STORE_TEST_DB", "0")

	for name, m := range map[string]*Redis{
		"url":       {URL: "{env.BB_STORE_TEST_URL}", KeyPrefix: "{env.BB_STORE_TEST_PREFIX}"},
		"addresses": {Addresses: []string{"{env.BB_STORE_TEST_ADDR}"}, DB: "{env.BB_STORE_TEST_DB}", KeyPrefix: "{env.BB_STORE_TEST_PREFIX}"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := provisionRedis(t, m); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			if got, want := m.FullKey("k"), fullKey(prefix+"env:", "k"); got != want || !strings.HasPrefix(got, prefix+"env:{") {
				t.Errorf("FullKey = %q, want %q", got, want)
			}
			if res, err := m.Backend().Claim(t.Context(), "k-"+name, "A", "fp", time.Minute, time.Hour); err != nil || res.Outcome != Claimed {
				t.Fatalf("Claim = %v, %v", res.Outcome, err)
			}
			if n, _ := raw.Exists(t.Context(), fullKey(prefix+"env:", "k-"+name)).Result(); n != 1 {
				t.Errorf("the record is not under the resolved prefix")
			}
			if m.URL != "" && m.URL != "{env.BB_STORE_TEST_URL}" {
				t.Errorf("Provision rewrote the configured URL to %q", m.URL)
			}
		})
	}
}

func TestRedisModuleUnreachableOnlyWarns(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port) // nothing listens here
	m := &Redis{Addresses: []string{addr}, DialTimeout: caddy.Duration(200 * time.Millisecond)}
	if err := provisionRedis(t, m); err != nil {
		t.Fatalf("Provision with Redis down = %v, want only a warning", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if res, err := m.Backend().Claim(ctx, "k", "A", "fp", time.Minute, time.Hour); err == nil {
		t.Fatalf("Claim with Redis down = %v, want an error", res.Outcome)
	}
}

func TestRedisModuleErrorsAreRedacted(t *testing.T) {
	t.Setenv("BB_STORE_TEST_SECRET_URL", "redis://user:env-s3cr3t@127.0.0.1:notaport/0")
	t.Setenv("BB_STORE_TEST_UNSET", "")
	for _, tc := range []struct {
		name    string
		m       *Redis
		secrets []string
		want    string
	}{
		{"bad port", &Redis{URL: "redis://user:s3cr3t-pw@127.0.0.1:notaport/0"}, []string{"s3cr3t-pw"}, "invalid url"},
		{"encoded password", &Redis{URL: "redis://user:p%40ss-secret@127.0.0.1:notaport"}, []string{"p%40ss-secret", "p@ss-secret"}, "invalid url"},
		{"bad host", &Redis{URL: "redis://user:s3cr3t-pw@exa mple.com/0"}, []string{"s3cr3t-pw"}, "invalid url"},
		{"bad db in url", &Redis{URL: "redis://user:s3cr3t-pw@127.0.0.1:1/x"}, []string{"s3cr3t-pw"}, "invalid database number"},
		{"bad query in url", &Redis{URL: "redis://user:s3cr3t-pw@127.0.0.1:1/0?nonsense=1"}, []string{"s3cr3t-pw"}, "nonsense"},
		{"bad scheme", &Redis{URL: "http://user:s3cr3t-pw@127.0.0.1:1"}, []string{"s3cr3t-pw"}, "scheme"},
		{"from env", &Redis{URL: "{env.BB_STORE_TEST_SECRET_URL}"}, []string{"env-s3cr3t"}, "invalid url"},
		{"password field", &Redis{Addresses: []string{"127.0.0.1:1"}, Password: "s3cr3t-pw", DB: "s3cr3t-pw"}, nil, "db must be"},
		{"unset env", &Redis{Addresses: []string{"127.0.0.1:1"}, Password: "{env.BB_STORE_TEST_UNSET}"}, nil, "password is set but resolves to an empty value"},
		{"url and addresses", &Redis{URL: "redis://127.0.0.1:1", Addresses: []string{"127.0.0.1:2"}}, nil, "mutually exclusive"},
		{"url and master", &Redis{URL: "redis://127.0.0.1:1", MasterName: "m"}, nil, "master_name"},
		{"db in cluster", &Redis{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}, DB: "2"}, nil, "cluster"},
		{"braces in prefix", &Redis{Addresses: []string{"127.0.0.1:1"}, KeyPrefix: "pay}"}, nil, "braces"},
		{"tls options without tls", &Redis{Addresses: []string{"127.0.0.1:1"}, TLS: &RedisTLS{InsecureSkipVerify: true}}, nil, "tls is not enabled"},
		{"missing ca file", &Redis{Addresses: []string{"127.0.0.1:1"}, TLS: &RedisTLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, nil, "ca_file"},
		{"negative timeout", &Redis{Addresses: []string{"127.0.0.1:1"}, Timeout: caddy.Duration(-time.Second)}, nil, "timeout"},
		{"negative wait_replicas", &Redis{Addresses: []string{"127.0.0.1:1"}, WaitReplicas: intPtr(-1)}, nil, "wait_replicas"},
		{"wait_timeout at timeout", &Redis{Addresses: []string{"127.0.0.1:1"}, Timeout: caddy.Duration(time.Second), WaitTimeout: caddy.Duration(time.Second)}, nil, "wait_timeout (1s) must be shorter than timeout (1s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := provisionRedis(t, tc.m)
			if err == nil {
				t.Fatalf("Provision succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
			for _, sec := range append(tc.secrets, "s3cr3t") {
				if strings.Contains(msg, sec) {
					t.Errorf("error leaks %q: %s", sec, msg)
				}
			}
			if tc.m.Backend() != nil {
				t.Errorf("failed Provision left a backend")
			}
		})
	}
}

func TestRedisSettingsDescribeIsRedacted(t *testing.T) {
	m := &Redis{URL: "rediss://user:s3cr3t-pw@redis.example.com:6380/2"}
	s, err := m.settings()
	if err != nil {
		t.Fatal(err)
	}
	if d := s.describe(); strings.Contains(d, "s3cr3t") || !strings.Contains(d, "redis.example.com:6380") {
		t.Errorf("describe = %q", d)
	}
	if err := s.redact(errors.New("AUTH failed for s3cr3t-pw")); strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("redact = %q", err)
	}
	if !s.tlsOn {
		t.Errorf("rediss:// did not turn TLS on")
	}
	c, err := s.newClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	o := c.(*redis.Client).Options()
	if o.Addr != "redis.example.com:6380" || o.DB != 2 || o.Password != "s3cr3t-pw" || o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example.com" {
		t.Errorf("options from the URL: addr %q db %d tls %v", o.Addr, o.DB, o.TLSConfig != nil)
	}
}

func TestRedisClientKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Redis
		kind string
	}{
		{"one address", &Redis{Addresses: []string{"127.0.0.1:1"}}, "*redis.Client"},
		{"url", &Redis{URL: "redis://127.0.0.1:1/3"}, "*redis.Client"},
		{"several addresses", &Redis{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}, "*redis.ClusterClient"},
		{"cluster flag", &Redis{Addresses: []string{"127.0.0.1:1"}, Cluster: true}, "*redis.ClusterClient"},
		{"cluster url", &Redis{URL: "redis://127.0.0.1:1?addr=127.0.0.1:2", Cluster: true}, "*redis.ClusterClient"},
		{"sentinel", &Redis{Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}, MasterName: "mymaster", SentinelPassword: "x"}, "*redis.ClusterClient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.m.settings()
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.newClient(nil)
			if err != nil {
				t.Fatal(err)
			}
			closeClient(t, c)
			if got := typeName(c); got != tc.kind {
				t.Errorf("client = %s, want %s", got, tc.kind)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	}
	return "other"
}

func TestRedisJSONConfig(t *testing.T) {
	const cfg = `{
		"url": "rediss://{env.REDIS_HOST}:6380",
		"addresses": ["a:1"],
		"username": "u",
		"password": "{env.REDIS_PASSWORD}",
		"db": "{env.REDIS_DB}",
		"master_name": "m",
		"sentinel_username": "su",
		"sentinel_password": "sp",
		"cluster": true,
		"tls": {"enabled": true, "insecure_skip_verify": true, "server_name": "n", "ca_file": "/ca.pem"},
		"key_prefix": "bb:",
		"dial_timeout": "2s",
		"timeout": 500000000,
		"pool_size": 20,
		"require_durable": true,
		"wait_replicas": 0,
		"wait_timeout": "300ms"
	}`
	var m Redis
	if err := caddy.StrictUnmarshalJSON([]byte(cfg), &m); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if m.Password != "{env.REDIS_PASSWORD}" || m.DB != "{env.REDIS_DB}" || !m.Cluster || m.TLS == nil || m.TLS.CAFile != "/ca.pem" ||
		time.Duration(m.DialTimeout) != 2*time.Second || time.Duration(m.Timeout) != 500*time.Millisecond || m.PoolSize != 20 ||
		!m.RequireDurable || m.WaitReplicas == nil || *m.WaitReplicas != 0 || time.Duration(m.WaitTimeout) != 300*time.Millisecond {
		t.Errorf("decoded = %+v", m)
	}
	out, err := json.Marshal(Redis{})
	if err != nil || string(out) != "{}" {
		t.Errorf("empty config marshals to %s, %v", out, err)
	}
	for _, id := range []string{"billbridge.stores.redis", "billbridge.stores.memory"} {
		if _, err := caddy.GetModule(id); err != nil {
			t.Errorf("module %s: %v", id, err)
		}
	}
}

// closeClient closes c when the test ends, and fails the test if that
// fails.
func closeClient(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing the client: %v", err)
		}
	})
}

// TestRedisWaitTimeoutDefault: unset, wait_timeout stays below a short
// timeout instead of refusing the config.
func TestRedisWaitTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{0, DefaultWaitTimeout},
		{10 * time.Second, DefaultWaitTimeout},
		{500 * time.Millisecond, 250 * time.Millisecond},
	} {
		s, err := (&Redis{Addresses: []string{"127.0.0.1:1"}, Timeout: caddy.Duration(tc.timeout)}).settings()
		if err != nil {
			t.Fatalf("timeout %v: %v", tc.timeout, err)
		}
		if s.waitTimeout != tc.want {
			t.Errorf("timeout %v: wait_timeout %v, want %v", tc.timeout, s.waitTimeout, tc.want)
		}
	}
}
