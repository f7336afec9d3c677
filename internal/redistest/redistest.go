// Package redistest starts real redis-server processes for billbridge's
// tests (design.md §8: no Redis fakes). It is imported only by tests.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The store's tests run against a real redis-server (design.md §8):
//
//   - by default each test that needs one starts its own on a free port of
//     127.0.0.1, without persistence, and kills it when it ends;
//   - BILLBRIDGE_TEST_REDIS=host:port uses that server instead; tests then
//     touch only keys under a unique prefix, which they delete at the end
//     (never FLUSHALL);
//   - without redis-server on PATH the tests skip, unless
//     BILLBRIDGE_REQUIRE_REDIS=1, which makes that a failure.
//
// Tests that kill the server (outages) always start their own.
const (
	envTestRedis    = "BILLBRIDGE_TEST_REDIS"
	envRequireRedis = "BILLBRIDGE_REQUIRE_REDIS"
)

// reservedRedisPort is never used by a test-started server: it may belong
// to someone else's Redis.
const reservedRedisPort = 6379

// Server is a redis-server process started by a test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	Addr string
	// extra are arguments after the defaults (later ones win); conf, if
	// set, is a config file passed first (Sentinel needs one it can
	// rewrite).
	extra []string
	conf  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
}

// syncBuffer is the server's log, written by exec's copier goroutine and
// read by tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// redisBinary returns the path of redis-server, or skips (or fails, with
// BILLBRIDGE_REQUIRE_REDIS=1) the test without one.
func binary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(envRequireRedis) == "1" {
			tb.Fatalf("redis-server not on PATH and %s=1: %v", envRequireRedis, err)
		}
		tb.Skipf("redis-server not on PATH (install it, or set %s=host:port): %v", envTestRedis, err)
	}
	return bin
}

// Start starts a redis-server on a free port, without persistence, and
// stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb)
}

// StartWith starts a redis-server on a free port with extra arguments
// after the defaults (e.g. "--appendonly", "yes"), and stops it when the
// test ends.
func StartWith(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	return startServer(tb, "", extra)
}

func startServer(tb testing.TB, conf string, extra []string) *Server {
	tb.Helper()
	bin := binary(tb)
	var lastErr error
	for range 5 {
		port, err := FreePort()
		if err != nil {
			tb.Fatalf("finding a free port: %v", err)
		}
		s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), extra: extra}
		if conf != "" {
			s.conf = filepath.Join(s.dir, "redis.conf")
			if err := os.WriteFile(s.conf, []byte(strings.ReplaceAll(conf, "{port}", strconv.Itoa(port))), 0o600); err != nil {
				tb.Fatalf("writing %s: %v", s.conf, err)
			}
		}
		if lastErr = s.start(); lastErr == nil {
			tb.Cleanup(s.kill)
			return s
		}
	}
	tb.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// Log returns what the server wrote to its log so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, err
		}
		if port != reservedRedisPort {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

func (s *Server) start() error {
	if s.port == reservedRedisPort {
		return fmt.Errorf("refusing to start redis-server on port %d", reservedRedisPort)
	}
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--loglevel", "warning",
		// Replicas sync at once, not after the default 5 s wait for others.
		"--repl-diskless-sync-delay", "0",
	)
	args = append(args, s.extra...)
	cmd := exec.Command(s.bin, args...) //nolint:gosec // G204: redis-server from PATH, with our own arguments
	log := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.log = cmd, exited, log
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, strings.TrimSpace(log.String()))
		default:
		}
		if pingRaw(s.Addr) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redis-server on port %d did not answer PING", s.port)
}

// pingRaw sends PING over a plain connection, without go-redis.
func pingRaw(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }() // the PONG, or its absence, is the answer
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// kill stops the server with SIGKILL (like a crash) and waits for it.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Kill stops the server abruptly, as in an outage.
func (s *Server) Kill() {
	s.tb.Helper()
	s.kill()
	if pingRaw(s.Addr) == nil {
		s.tb.Fatalf("redis-server at %s still answers after SIGKILL", s.Addr)
	}
}

// Restart starts the server again on the same port (with no data: there
// is no persistence).
func (s *Server) Restart() {
	s.tb.Helper()
	s.kill()
	var err error
	for range 50 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
}

// Addr returns the address of a Redis for the test:
// BILLBRIDGE_TEST_REDIS, or a server the test starts.
func Addr(tb testing.TB) string {
	tb.Helper()
	if addr := os.Getenv(envTestRedis); addr != "" {
		return addr
	}
	return Start(tb).Addr
}

// NewClient returns a client of addr, closed when the test ends.
func NewClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		ContextTimeoutEnabled: true,
	})
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("closing the redis client: %v", err)
		}
	})
	return c
}

// Prefix returns a key prefix unique to this test and deletes every
// key under it when the test ends.
func Prefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "bbtest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() { deleteKeys(tb, c, prefix) })
	return prefix
}

// deleteKeys deletes the keys under prefix, and no others, on every
// master of a cluster.
func deleteKeys(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cc, ok := c.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			deleteKeys(tb, n, prefix)
			return nil
		})
		if err != nil {
			tb.Logf("cleaning keys under %q: %v", prefix, err)
		}
		return
	}
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		// The server may be gone already (outage tests); nothing to clean.
		tb.Logf("cleaning keys under %q: %v", prefix, err)
		return
	}
	for _, k := range keys {
		c.Del(ctx, k)
	}
}
