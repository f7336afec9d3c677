package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestRedisUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string
		want    Redis
		wantErr string
	}{
		{name: "bare", input: `redis`, want: Redis{}},
		{name: "inline url", input: `redis {env.REDIS_URL}`, want: Redis{URL: "{env.REDIS_URL}"}},
		{name: "empty block", input: "redis {\n}", want: Redis{}},
		{
			name: "everything",
			input: `redis rediss://redis.internal:6380 {
				username billbridge
				password {env.REDIS_PASSWORD}
				db {env.REDIS_DB}
				tls {
					insecure_skip_verify
					server_name redis.internal
					ca_file /etc/ssl/redis-ca.pem
				}
				key_prefix pay:
				dial_timeout 2s
				timeout 500ms
				pool_size 32
			}`,
			want: Redis{
				URL: "rediss://redis.internal:6380", Username: "billbridge", Password: "{env.REDIS_PASSWORD}", DB: "{env.REDIS_DB}",
				TLS:       &RedisTLS{Enabled: true, InsecureSkipVerify: true, ServerName: "redis.internal", CAFile: "/etc/ssl/redis-ca.pem"},
				KeyPrefix: "pay:", DialTimeout: caddy.Duration(2 * time.Second), Timeout: caddy.Duration(500 * time.Millisecond), PoolSize: 32,
			},
		},
		{
			name: "cluster addresses",
			input: `redis {
				address 10.0.0.1:6379 10.0.0.2:6379
				address 10.0.0.3:6379
				cluster
			}`,
			want: Redis{Addresses: []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"}, Cluster: true},
		},
		{
			name: "sentinel",
			input: `redis {
				address s1:26379 s2:26379
				master_name mymaster
				sentinel_username sentinel
				sentinel_password {env.SENTINEL_PASSWORD}
			}`,
			want: Redis{Addresses: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", SentinelUsername: "sentinel", SentinelPassword: "{env.SENTINEL_PASSWORD}"},
		},
		{
			name:  "one-line tls",
			input: "redis {\n address r:6379\n tls_insecure\n tls_server_name r.example\n tls_ca_file /ca.pem\n}",
			want:  Redis{Addresses: []string{"r:6379"}, TLS: &RedisTLS{Enabled: true, InsecureSkipVerify: true, ServerName: "r.example", CAFile: "/ca.pem"}},
		},
		{name: "bare tls", input: "redis {\n tls\n}", want: Redis{TLS: &RedisTLS{Enabled: true}}},
		{name: "url subdirective", input: "redis {\n url redis://r:1/2\n}", want: Redis{URL: "redis://r:1/2"}},
		{name: "days", input: "redis {\n timeout 1d\n}", want: Redis{Timeout: caddy.Duration(24 * time.Hour)}},
		{
			name:  "durability and replicas",
			input: "redis {\n require_durable\n wait_replicas 2\n wait_timeout 250ms\n}",
			want:  Redis{RequireDurable: true, WaitReplicas: intPtr(2), WaitTimeout: caddy.Duration(250 * time.Millisecond)},
		},
		{name: "wait off", input: "redis {\n wait_replicas 0\n}", want: Redis{WaitReplicas: intPtr(0)}},
		{name: "require_durable with an argument", input: "redis {\n require_durable yes\n}", wantErr: "wrong argument count"},
		{name: "require_durable twice", input: "redis {\n require_durable\n require_durable\n}", wantErr: "already specified"},
		{name: "negative wait_replicas", input: "redis {\n wait_replicas -1\n}", wantErr: "non-negative"},
		{name: "bad wait_timeout", input: "redis {\n wait_timeout soon\n}", wantErr: "invalid wait_timeout"},

		{name: "two urls inline", input: `redis redis://a redis://b`, wantErr: "wrong argument count"},
		{name: "url twice", input: "redis redis://a {\n url redis://b\n}", wantErr: "url already specified"},
		{name: "unknown", input: "redis {\n hostname x\n}", wantErr: "unrecognized subdirective 'hostname'"},
		{name: "unknown tls", input: "redis {\n tls {\n verify no\n }\n}", wantErr: "unrecognized tls subdirective 'verify'"},
		{name: "password twice", input: "redis {\n password a\n password b\n}", wantErr: "password already specified"},
		{name: "password missing", input: "redis {\n password\n}", wantErr: "wrong argument count"},
		{name: "password extra", input: "redis {\n password a b\n}", wantErr: "wrong argument count"},
		{name: "address missing", input: "redis {\n address\n}", wantErr: "wrong argument count"},
		{name: "cluster arg", input: "redis {\n cluster yes\n}", wantErr: "wrong argument count"},
		{name: "cluster twice", input: "redis {\n cluster\n cluster\n}", wantErr: "cluster already specified"},
		{name: "tls twice", input: "redis {\n tls\n tls\n}", wantErr: "tls already specified"},
		{name: "tls arg", input: "redis {\n tls on\n}", wantErr: "wrong argument count"},
		{name: "insecure twice", input: "redis {\n tls {\n insecure_skip_verify\n }\n tls_insecure\n}", wantErr: "tls insecure_skip_verify already specified"},
		{name: "server name twice", input: "redis {\n tls_server_name a\n tls {\n server_name b\n }\n}", wantErr: "tls server_name already specified"},
		{name: "bad duration", input: "redis {\n timeout soon\n}", wantErr: "invalid timeout 'soon'"},
		{name: "bad pool size", input: "redis {\n pool_size many\n}", wantErr: "invalid pool_size 'many'"},
		{name: "zero pool size", input: "redis {\n pool_size 0\n}", wantErr: "invalid pool_size '0'"},
		{name: "db twice", input: "redis {\n db 1\n db 2\n}", wantErr: "db already specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Redis
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v (tls %+v)\nwant %+v (tls %+v)", got, got.TLS, tc.want, tc.want.TLS)
			}
		})
	}
}

// TestUnmarshalCaddyfileInPlace covers a dispenser positioned at the module
// name inside a larger Caddyfile, as the global option parser hands it over,
// and caddyfile.UnmarshalModule: the module must read its own segment only.
func TestUnmarshalCaddyfileInPlace(t *testing.T) {
	const input = `billbridge {
		store redis redis://r:6379 {
			key_prefix bb:
		}
		legacy http://127.0.0.1:8081
	}`
	d := caddyfile.NewTestDispenser(input)
	for d.Next() && d.Val() != "redis" {
	}
	var r Redis
	if err := r.UnmarshalCaddyfile(d); err != nil {
		t.Fatalf("UnmarshalCaddyfile: %v", err)
	}
	if r.URL != "redis://r:6379" || r.KeyPrefix != "bb:" {
		t.Errorf("got %+v", r)
	}
	if d.Val() != "}" {
		t.Fatalf("the module left the dispenser at %q, want the closing brace of its block", d.Val())
	}
	if !d.Next() || d.Val() != "legacy" {
		t.Errorf("next token = %q, want legacy", d.Val())
	}

	d = caddyfile.NewTestDispenser(input)
	for d.Next() && d.Val() != "redis" {
	}
	unm, err := caddyfile.UnmarshalModule(d, "billbridge.stores.redis")
	if err != nil {
		t.Fatalf("UnmarshalModule: %v", err)
	}
	if r := unm.(*Redis); r.URL != "redis://r:6379" || r.KeyPrefix != "bb:" {
		t.Errorf("via UnmarshalModule: %+v", r)
	}

	d = caddyfile.NewTestDispenser("store memory\nlegacy x")
	for d.Next() && d.Val() != "memory" {
	}
	if _, err := caddyfile.UnmarshalModule(d, "billbridge.stores.memory"); err != nil {
		t.Fatalf("UnmarshalModule memory: %v", err)
	}
}

func TestMemoryUnmarshalCaddyfile(t *testing.T) {
	for input, wantErr := range map[string]string{
		"memory":               "",
		"memory {\n}":          "",
		"memory fast":          "wrong argument count",
		"memory {\n size 1\n}": "unrecognized subdirective 'size'",
	} {
		var m Memory
		err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if wantErr == "" && err != nil {
			t.Errorf("%q: %v", input, err)
		}
		if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%q: err = %v, want %q", input, err, wantErr)
		}
	}
}

func intPtr(n int) *int { return &n }

func TestFileUnmarshalCaddyfile(t *testing.T) {
	for input, want := range map[string]string{
		"file /var/lib/billbridge/events.db":     "/var/lib/billbridge/events.db",
		"file {env.BILLBRIDGE_STORE}":            "{env.BILLBRIDGE_STORE}",
		"file data/events.db {\n}":               "data/events.db",
		`file "/srv/bill bridge/events.db"`:      "/srv/bill bridge/events.db",
		"file":                                   "error: a path is required",
		"file a.db b.db":                         "error: wrong argument count",
		"file a.db {\n sync off\n}":              "error: unrecognized subdirective 'sync'",
		"file {\n path /var/lib/billbridge/x\n}": "error: a path is required",
	} {
		var f File
		err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: err = %v, want %q", input, err, wantErr)
			}
			continue
		}
		if err != nil || f.Path != want {
			t.Errorf("%q: path %q, err %v; want %q", input, f.Path, err, want)
		}
	}

	d := caddyfile.NewTestDispenser("store file /data/events.db\nlegacy x")
	for d.Next() && d.Val() != "file" {
	}
	unm, err := caddyfile.UnmarshalModule(d, "billbridge.stores.file")
	if err != nil {
		t.Fatalf("UnmarshalModule file: %v", err)
	}
	if f := unm.(*File); f.Path != "/data/events.db" {
		t.Errorf("via UnmarshalModule: %+v", f)
	}
	if !d.Next() || d.Val() != "legacy" {
		t.Errorf("next token = %q, want legacy", d.Val())
	}
}
