package caddyfile

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Caddy as its own process, for what caddytest cannot do in the test's
// own process: kill -9, and several instances at once.

var caddyBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// caddyBinary builds cmd/caddy once per test binary.
func caddyBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkip)
	}
	caddyBuild.once.Do(func() {
		caddyBuild.dir, caddyBuild.err = os.MkdirTemp("", "billbridge-caddy-")
		if caddyBuild.err != nil {
			return
		}
		caddyBuild.path = filepath.Join(caddyBuild.dir, "caddy")
		cmd := exec.Command("go", "build", "-o", caddyBuild.path, "../cmd/caddy")
		caddyBuild.out, caddyBuild.err = cmd.CombinedOutput()
	})
	if caddyBuild.err != nil {
		t.Fatalf("building caddy: %v\n%s", caddyBuild.err, caddyBuild.out)
	}
	return caddyBuild.path
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// caddyProc is a Caddy process serving a Caddyfile.
type caddyProc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	log   *syncBuffer
	Admin string // host:port of its admin API
	Port  int    // its HTTP port
	done  chan struct{}
}

// processGlobals are the global options of a Caddy process's Caddyfile:
// its own admin and HTTP ports, and nothing written outside dir.
func processGlobals(admin string, port int, dir string) string {
	return fmt.Sprintf("\tadmin %s\n\thttp_port %d\n\tauto_https off\n\tpersist_config off\n\tstorage file_system %s\n", admin, port, dir)
}

// startCaddy starts a Caddy process with config, a Caddyfile whose global
// options start with {{globals}} (processGlobals) and whose site listens on
// {{port}}, and waits until it serves.
func startCaddy(t *testing.T, name, config string) *caddyProc {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	p := &caddyProc{t: t, name: name, log: new(syncBuffer), Port: freePort(t), done: make(chan struct{})}
	p.Admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	file := filepath.Join(dir, "Caddyfile")
	config = strings.NewReplacer("{{globals}}", processGlobals(p.Admin, p.Port, dir), "{{port}}", strconv.Itoa(p.Port)).Replace(config)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s's log:\n%s", p.name, p.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited at start:\n%s", name, p.log.String())
		default:
		}
		if resp, err := http.Get(fmt.Sprintf("http://%s/config/", p.Admin)); err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port)); err == nil {
				_ = c.Close()
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", name, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns the address of path on the process.
func (p *caddyProc) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", p.Port, path)
}

// Kill stops the process with SIGKILL, as a crash or an OOM kill does.
func (p *caddyProc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop stops the process with SIGTERM, as systemd does, and waits.
func (p *caddyProc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Errorf("%s did not stop within 20s of SIGTERM", p.name)
		p.Kill()
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
