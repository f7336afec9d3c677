package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisClients shares Redis clients across config reloads and across
// modules with identical connection settings. Keys are sha256 digests of
// the effective settings (secrets enter the digest only hashed); values are
// *pooledClient, closed when the last module using them is cleaned up.
var redisClients = caddy.NewUsagePool()

// pingTimeout bounds the connectivity check in Provision.
const pingTimeout = 2 * time.Second

// Redis is the billbridge.stores.redis module: the idempotency store in
// Redis (single node, Sentinel or Cluster), for production and for several
// Caddy instances behind a load balancer.
//
// Every string field may hold global placeholders such as
// {env.REDIS_PASSWORD}; they are resolved at provision. Prefer them to
// writing secrets into the config. If Redis does not answer at provision,
// the module only logs a warning (a Redis blip must not block a reload)
// unless require_durable is set; requests then fail closed until it
// answers.
//
// At provision, and again after reconnects and topology errors, the
// module reads every master's persistence (appendonly, save), eviction
// policy and replicas: a Redis that may forget finished payments is
// logged at error level and reported by caddy_billbridge_store_durable.
// With replicas, every transition waits for one (see WaitReplicas).
type Redis struct {
	// URL of the server: redis://[user:password@]host[:port][/db] or
	// rediss:// for TLS (go-redis URL options such as ?dial_timeout=3s are
	// accepted). With cluster set, more nodes may be given as
	// ?addr=host:port. Not together with addresses.
	URL string `json:"url,omitempty"`

	// Addresses (host:port) of the server, of the cluster nodes, or, with
	// master_name, of the Sentinels. Several addresses mean a cluster,
	// unless master_name is set. Default: localhost:6379.
	Addresses []string `json:"addresses,omitempty"`

	// Username for Redis ACL authentication. Overrides the URL's.
	Username string `json:"username,omitempty"`

	// Password for Redis authentication. Overrides the URL's.
	Password string `json:"password,omitempty"`

	// DB is the database number (a string, so that it can be a
	// placeholder). Not available in cluster mode. Overrides the URL's.
	DB string `json:"db,omitempty"`

	// MasterName is the name of the Sentinel master; setting it selects
	// Sentinel (failover) mode, with addresses listing the Sentinels.
	MasterName string `json:"master_name,omitempty"`

	// SentinelUsername authenticates to the Sentinels.
	SentinelUsername string `json:"sentinel_username,omitempty"`

	// SentinelPassword authenticates to the Sentinels.
	SentinelPassword string `json:"sentinel_password,omitempty"`

	// Cluster selects Redis Cluster mode even with a single address or URL
	// (e.g. a cluster configuration endpoint).
	Cluster bool `json:"cluster,omitempty"`

	// TLS configures TLS to Redis. A rediss:// URL turns TLS on by itself.
	TLS *RedisTLS `json:"tls,omitempty"`

	// KeyPrefix is prepended to every key (default "billbridge:"). It must
	// not contain braces: the store follows it with its shard in braces, a
	// Redis Cluster hash tag.
	KeyPrefix string `json:"key_prefix,omitempty"`

	// DialTimeout bounds establishing a connection (go-redis default: 5s).
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`

	// Timeout bounds each socket read and write (go-redis default: 5s).
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// PoolSize is the maximum number of connections per node (go-redis
	// default: 10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`

	// RequireDurable refuses to start unless every Redis master runs with
	// appendonly yes and maxmemory-policy noeviction, and refuses new
	// claims (503) while a later check (after a reconnect or a failover)
	// finds one that does not. It also refuses to start when Redis does
	// not answer at start or its settings cannot be read (CONFIG
	// disabled, as on many managed services): remove it to start there.
	// Without it, such a Redis is only reported (an error-level log line
	// and the caddy_billbridge_store_durable gauge).
	RequireDurable bool `json:"require_durable,omitempty"`

	// WaitReplicas is how many replicas must have each claim, completion
	// and release before the store reports it (Redis WAIT on the master
	// that owns the key). Unset: 1 when that master reports connected
	// replicas (INFO replication), none otherwise. 0 turns it off. A
	// write not confirmed in time is an error: the gateway gets 503 and
	// retries, never an answer a failover could erase.
	WaitReplicas *int `json:"wait_replicas,omitempty"`

	// WaitTimeout bounds the wait for replicas (default 500ms, or half of
	// timeout if that is shorter). It must be shorter than timeout.
	WaitTimeout caddy.Duration `json:"wait_timeout,omitempty"`

	backend *RedisBackend
	poolKey string
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled turns TLS on.
	Enabled bool `json:"enabled,omitempty"`

	// InsecureSkipVerify disables verification of the server's
	// certificate. Only for testing.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`

	// ServerName overrides the name the server's certificate is checked
	// against (default: the host being dialed).
	ServerName string `json:"server_name,omitempty"`

	// CAFile is a PEM file of CA certificates to trust instead of the
	// system's.
	CAFile string `json:"ca_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Redis) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.stores.redis",
		New: func() caddy.Module { return new(Redis) },
	}
}

// Provision resolves placeholders, validates the settings, and attaches a
// shared client (creating it if no module with the same connection
// settings has one). It checks every master with a short timeout and only
// warns if Redis does not answer, unless require_durable.
func (r *Redis) Provision(ctx caddy.Context) error {
	logger := ctx.Logger()
	s, err := r.settings()
	if err != nil {
		return err
	}
	key := s.poolKey()
	val, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		var mon atomic.Pointer[monitor]
		// Every new connection (a reconnect, or a new master after a
		// failover) has the masters checked again, rate-limited.
		c, err := s.newClient(func(context.Context, *redis.Conn) error {
			mon.Load().kick()
			return nil
		})
		if err != nil {
			return nil, err
		}
		m := newMonitor(c)
		m.logs = true
		mon.Store(m)
		return &pooledClient{client: c, mon: m}, nil
	})
	if err != nil {
		return s.redact(fmt.Errorf("billbridge redis store: %w", err))
	}
	r.poolKey = key
	pc := val.(*pooledClient)
	registerStoreMetrics(ctx.GetMetricsRegistry(), logger)
	opts := []RedisOption{withMonitor(pc.mon), WithWait(s.waitReplicas, s.waitTimeout)}
	if s.requireDurable {
		opts = append(opts, withRequireDurable())
	}
	backend := NewRedisBackend(pc.client, s.prefix, opts...)

	// At start, every master's persistence, eviction and replicas; the
	// monitor checks again after reconnects and topology errors.
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	reports, err := pc.mon.check(pctx)
	for _, rep := range reports {
		pc.mon.logStart(logger, rep)
	}
	if s.requireDurable {
		if derr := durabilityError(reports, s.redact(err), s.describe()); derr != nil {
			return s.redact(fmt.Errorf("billbridge redis store: %w", derr))
		}
	}
	if err != nil && len(reports) == 0 {
		logger.Warn("billbridge redis store: Redis did not answer; requests will fail closed until it does",
			zap.String("redis", s.describe()),
			zap.Error(s.redact(err)))
	}
	for _, rep := range reports {
		want := s.waitReplicas
		if want < 0 {
			want = min(rep.replicas, 1)
		}
		if want > 0 {
			logger.Info("billbridge redis store: every claim and completion waits for replicas",
				zap.String("node", rep.addr), zap.Int("wait_replicas", want), zap.Int("replicas", rep.replicas),
				zap.Duration("wait_timeout", backend.waitTimeout))
		}
	}
	r.backend = backend
	return nil
}

// Cleanup releases the module's hold on the shared client; the client is
// closed when no module uses it any more.
func (r *Redis) Cleanup() error {
	if r.poolKey == "" {
		return nil
	}
	key := r.poolKey
	r.poolKey = ""
	_, err := redisClients.Delete(key)
	return err
}

// Backend returns the store. It is nil before Provision.
func (r *Redis) Backend() Store {
	if r.backend == nil {
		return nil
	}
	return r.backend
}

// FullKey returns the Redis key under which the store keeps logical:
// key_prefix + "{" + shard + "}:" + logical (see [RedisBackend.FullKey]).
func (r *Redis) FullKey(logical string) string {
	if r.backend != nil {
		return r.backend.FullKey(logical)
	}
	prefix := r.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return fullKey(prefix, logical)
}

// pooledClient is a redisClients value: the client and the monitor of
// its masters.
type pooledClient struct {
	client redis.UniversalClient
	mon    *monitor
}

// Destruct closes the client.
func (p *pooledClient) Destruct() error {
	return p.client.Close()
}

// redisSettings are a Redis module's settings with placeholders resolved.
type redisSettings struct {
	url              string
	parsedURL        *url.URL
	addrs            []string
	username         string
	password         string
	db               int
	dbSet            bool
	masterName       string
	sentinelUsername string
	sentinelPassword string
	cluster          bool
	tlsOn            bool
	tlsInsecure      bool
	tlsServerName    string
	caFile           string
	caPEM            []byte
	prefix           string
	dialTimeout      time.Duration
	timeout          time.Duration
	poolSize         int
	requireDurable   bool
	waitReplicas     int // -1 auto
	waitTimeout      time.Duration

	// secrets are redacted from every error and log message.
	secrets []string
}

// settings resolves placeholders and validates. Its errors are redacted.
func (r *Redis) settings() (*redisSettings, error) {
	repl := caddy.NewReplacer()
	s := &redisSettings{}
	var errs []error
	resolve := func(name, v string) string {
		if v == "" {
			return ""
		}
		out := repl.ReplaceAll(v, "")
		if out == "" {
			errs = append(errs, fmt.Errorf("%s is set but resolves to an empty value (unset environment variable?)", name))
		}
		return out
	}

	s.url = resolve("url", r.URL)
	for i, a := range r.Addresses {
		if a := resolve(fmt.Sprintf("addresses[%d]", i), a); a != "" {
			s.addrs = append(s.addrs, a)
		}
	}
	s.username = resolve("username", r.Username)
	s.password = resolve("password", r.Password)
	s.masterName = resolve("master_name", r.MasterName)
	s.sentinelUsername = resolve("sentinel_username", r.SentinelUsername)
	s.sentinelPassword = resolve("sentinel_password", r.SentinelPassword)
	s.cluster = r.Cluster
	s.addSecret(s.password)
	s.addSecret(s.sentinelPassword)

	if s.url != "" {
		for _, p := range urlPasswords(s.url) {
			s.addSecret(p)
		}
		u, err := url.Parse(s.url)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err // url.Error repeats the whole URL, password included
			}
			errs = append(errs, fmt.Errorf("invalid url: %w", err))
		} else {
			s.parsedURL = u
			switch u.Scheme {
			case "redis", "rediss":
			case "unix":
				if s.cluster {
					errs = append(errs, errors.New("url: a unix socket cannot be a cluster"))
				}
			default:
				errs = append(errs, fmt.Errorf("url: scheme must be redis, rediss or unix, got %q", u.Scheme))
			}
		}
		if len(s.addrs) > 0 {
			errs = append(errs, errors.New("url and addresses are mutually exclusive"))
		}
		if s.masterName != "" {
			errs = append(errs, errors.New("master_name needs addresses (the Sentinels), not url"))
		}
	}

	if db := resolve("db", r.DB); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("db must be a non-negative integer, got %q", db))
		}
		s.db, s.dbSet = n, true
	}
	clusterMode := s.cluster || (len(s.addrs) > 1 && s.masterName == "")
	if clusterMode && s.dbSet && s.db != 0 {
		errs = append(errs, errors.New("db is not available in cluster mode"))
	}

	s.tlsOn = s.parsedURL != nil && s.parsedURL.Scheme == "rediss"
	if t := r.TLS; t != nil {
		s.tlsOn = s.tlsOn || t.Enabled
		s.tlsInsecure = t.InsecureSkipVerify
		s.tlsServerName = resolve("tls.server_name", t.ServerName)
		s.caFile = resolve("tls.ca_file", t.CAFile)
		if !s.tlsOn && (s.tlsInsecure || s.tlsServerName != "" || s.caFile != "") {
			errs = append(errs, errors.New("tls options are set but tls is not enabled (set tls.enabled or use a rediss:// url)"))
		}
		if s.caFile != "" {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("tls.ca_file: %w", err))
			} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("tls.ca_file %s: no PEM certificates found", s.caFile))
			}
			s.caPEM = pem
		}
	}

	s.prefix = resolve("key_prefix", r.KeyPrefix)
	if s.prefix == "" {
		s.prefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		errs = append(errs, fmt.Errorf("key_prefix %q must not contain braces (the store follows it with a cluster hash tag)", s.prefix))
	}

	s.dialTimeout = time.Duration(r.DialTimeout)
	s.timeout = time.Duration(r.Timeout)
	s.poolSize = r.PoolSize
	if s.dialTimeout < 0 {
		errs = append(errs, errors.New("dial_timeout must not be negative"))
	}
	if s.timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if s.poolSize < 0 {
		errs = append(errs, errors.New("pool_size must not be negative"))
	}
	s.requireDurable = r.RequireDurable
	s.waitReplicas = -1
	if r.WaitReplicas != nil {
		s.waitReplicas = *r.WaitReplicas
		if s.waitReplicas < 0 {
			errs = append(errs, errors.New("wait_replicas must not be negative"))
		}
	}
	// WAIT blocks on the connection for up to wait_timeout: the socket
	// read timeout (go-redis default 3s) must outlast it. Unset, it is
	// DefaultWaitTimeout or half of timeout, whichever is shorter.
	readTimeout := cmp.Or(s.timeout, 3*time.Second)
	s.waitTimeout = time.Duration(r.WaitTimeout)
	switch {
	case s.waitTimeout < 0:
		errs = append(errs, errors.New("wait_timeout must not be negative"))
	case s.waitTimeout == 0:
		s.waitTimeout = min(DefaultWaitTimeout, readTimeout/2)
	case s.waitTimeout >= readTimeout:
		errs = append(errs, fmt.Errorf("wait_timeout (%v) must be shorter than timeout (%v)", s.waitTimeout, readTimeout))
	}

	if len(errs) > 0 {
		return nil, s.redact(fmt.Errorf("billbridge redis store: %w", errors.Join(errs...)))
	}
	return s, nil
}

func (s *redisSettings) addSecret(v string) {
	if v != "" {
		s.secrets = append(s.secrets, v)
	}
}

// redact returns err with every secret replaced; nil stays nil.
func (s *redisSettings) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, sec := range s.secrets {
		clean = strings.ReplaceAll(clean, sec, "xxxxx")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// describe names the server(s) for log messages, without secrets.
func (s *redisSettings) describe() string {
	if s.parsedURL != nil {
		return s.parsedURL.Redacted()
	}
	if len(s.addrs) == 0 {
		return "localhost:6379"
	}
	return strings.Join(s.addrs, ",")
}

// urlPasswords returns the password of a redis URL as written and decoded,
// found even in a URL that does not parse, so errors can be redacted.
func urlPasswords(raw string) []string {
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return nil
	}
	userinfo := rest[:at]
	colon := strings.Index(userinfo, ":")
	if colon < 0 {
		return nil
	}
	pw := userinfo[colon+1:]
	if pw == "" {
		return nil
	}
	out := []string{pw}
	if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
		out = append(out, dec)
	}
	return out
}

// poolKey is a digest of the settings that make a connection. The key
// prefix is not one: modules that differ only by prefix share a client.
func (s *redisSettings) poolKey() string {
	h := sha256.New()
	hashed := func(v string) string {
		if v == "" {
			return ""
		}
		sum := sha256.Sum256([]byte(v))
		return hex.EncodeToString(sum[:])
	}
	// Writes to a hash.Hash never fail.
	_, _ = fmt.Fprintf(h, "v1\nurl=%s\naddrs=%q\nusername=%q\npassword=%s\ndb=%d,%t\n",
		hashed(s.url), s.addrs, s.username, hashed(s.password), s.db, s.dbSet)
	_, _ = fmt.Fprintf(h, "master=%q\nsentinel_username=%q\nsentinel_password=%s\ncluster=%t\n",
		s.masterName, s.sentinelUsername, hashed(s.sentinelPassword), s.cluster)
	_, _ = fmt.Fprintf(h, "tls=%t,%t,%q,%q,%s\n", s.tlsOn, s.tlsInsecure, s.tlsServerName, s.caFile, hashed(string(s.caPEM)))
	_, _ = fmt.Fprintf(h, "dial=%d\ntimeout=%d\npool=%d\n", s.dialTimeout, s.timeout, s.poolSize)
	return "redis:" + hex.EncodeToString(h.Sum(nil))
}

// tlsConfig returns the TLS settings to use, or nil without TLS. base is
// the configuration a rediss:// URL produced, if any.
func (s *redisSettings) tlsConfig(base *tls.Config) *tls.Config {
	if !s.tlsOn {
		return nil
	}
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if s.tlsInsecure {
		c.InsecureSkipVerify = true
	}
	if s.tlsServerName != "" {
		c.ServerName = s.tlsServerName
	}
	if len(s.caPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.caPEM)
		c.RootCAs = pool
	}
	return c
}

// newClient builds the client the settings describe; onConnect (may be
// nil) runs on every new connection. Sentinel is a ClusterClient over
// the master the sentinels name (go-redis's failover cluster client): its
// ReloadState asks the sentinels again, so a failover can be followed at
// once, and WAIT reaches the master as in a cluster.
func (s *redisSettings) newClient(onConnect func(context.Context, *redis.Conn) error) (redis.UniversalClient, error) {
	if s.url != "" && s.cluster {
		o, err := redis.ParseClusterURL(s.url)
		if err != nil {
			return nil, s.redact(fmt.Errorf("url: %w", err))
		}
		if s.username != "" {
			o.Username = s.username
		}
		if s.password != "" {
			o.Password = s.password
		}
		o.TLSConfig = s.tlsConfig(o.TLSConfig)
		if s.dialTimeout > 0 {
			o.DialTimeout = s.dialTimeout
		}
		if s.timeout > 0 {
			o.ReadTimeout, o.WriteTimeout = s.timeout, s.timeout
		}
		if s.poolSize > 0 {
			o.PoolSize = s.poolSize
		}
		o.ContextTimeoutEnabled = true
		o.OnConnect = onConnect
		return redis.NewClusterClient(o), nil
	}
	if s.url != "" {
		o, err := redis.ParseURL(s.url)
		if err != nil {
			return nil, s.redact(fmt.Errorf("url: %w", err))
		}
		if s.username != "" {
			o.Username = s.username
		}
		if s.password != "" {
			o.Password = s.password
		}
		if s.dbSet {
			o.DB = s.db
		}
		o.TLSConfig = s.tlsConfig(o.TLSConfig)
		if s.dialTimeout > 0 {
			o.DialTimeout = s.dialTimeout
		}
		if s.timeout > 0 {
			o.ReadTimeout, o.WriteTimeout = s.timeout, s.timeout
		}
		if s.poolSize > 0 {
			o.PoolSize = s.poolSize
		}
		o.ContextTimeoutEnabled = true
		o.OnConnect = onConnect
		return redis.NewClient(o), nil
	}
	addrs := s.addrs
	if len(addrs) == 0 {
		addrs = []string{"localhost:6379"}
	}
	if s.masterName != "" {
		return redis.NewFailoverClusterClient(&redis.FailoverOptions{
			MasterName:            s.masterName,
			SentinelAddrs:         addrs,
			SentinelUsername:      s.sentinelUsername,
			SentinelPassword:      s.sentinelPassword,
			Username:              s.username,
			Password:              s.password,
			DB:                    s.db,
			TLSConfig:             s.tlsConfig(nil),
			DialTimeout:           s.dialTimeout,
			ReadTimeout:           s.timeout,
			WriteTimeout:          s.timeout,
			PoolSize:              s.poolSize,
			ContextTimeoutEnabled: true,
			OnConnect:             onConnect,
		}), nil
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs,
		Username:              s.username,
		Password:              s.password,
		DB:                    s.db,
		MasterName:            s.masterName,
		SentinelUsername:      s.sentinelUsername,
		SentinelPassword:      s.sentinelPassword,
		IsClusterMode:         s.cluster,
		TLSConfig:             s.tlsConfig(nil),
		DialTimeout:           s.dialTimeout,
		ReadTimeout:           s.timeout,
		WriteTimeout:          s.timeout,
		PoolSize:              s.poolSize,
		ContextTimeoutEnabled: true,
		OnConnect:             onConnect,
	}), nil
}

// Interface guards
var (
	_ Module             = (*Redis)(nil)
	_ caddy.Provisioner  = (*Redis)(nil)
	_ caddy.CleanerUpper = (*Redis)(nil)
	_ caddy.Destructor   = (*pooledClient)(nil)
)
