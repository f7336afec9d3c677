package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// helperEnv makes the test binary a helper process (see
// TestFileHelperProcess): "hold:<path>" or "crash:<path>".
const helperEnv = "BILLBRIDGE_FILE_HELPER"

// TestFileHelperProcess is not a test: it is what a child process started
// by helperProcess runs.
func TestFileHelperProcess(t *testing.T) {
	mode, path, ok := strings.Cut(os.Getenv(helperEnv), ":")
	if !ok {
		t.Skip("only runs as a helper process")
	}
	var err error
	switch mode {
	case "hold":
		err = helperHold(path)
	case "crash":
		err = helperCrash(path)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// helperProcess starts the test binary as a helper in mode on path, with
// pipes to its stdin and stdout.
func helperProcess(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileHelperProcess$", "-test.count=1") //nolint:gosec // G204: the test binary runs itself
	cmd.Env = append(os.Environ(), helperEnv+"="+mode+":"+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), func() { _ = stdin.Close() }
}

// helperHold opens the store and holds it until stdin closes.
func helperHold(path string) error {
	b, err := OpenFileBackend(path)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return b.Close()
}

func provisionFile(t *testing.T, f *File) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return f.Provision(ctx)
}

func mustProvisionFile(t *testing.T, path string) *File {
	t.Helper()
	f := &File{Path: path}
	if err := provisionFile(t, f); err != nil {
		t.Fatalf("Provision(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = f.Cleanup() })
	return f
}

func TestFileProvisionCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "billbridge")
	path := filepath.Join(dir, "events.db")
	f := mustProvisionFile(t, path)
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	q, ok := f.Backend().(Queue)
	if !ok {
		t.Fatalf("the file store's backend %T is not a Queue", f.Backend())
	}
	if h := HealthOf(t.Context(), q); h.Kind != "file" || !h.Reachable || h.Durable == nil || !*h.Durable {
		t.Errorf("health = %+v", h)
	}
	if err := f.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := fileStores.References(path); ok {
		t.Error("the file is still open after its last module's cleanup")
	}
}

// TestFileModuleSurvivesReload provisions a new config before cleaning up
// the old one, as Caddy does on reload: both share the open file (a
// second open would fail on bbolt's lock), and what was written survives
// closing and opening it again.
func TestFileModuleSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.db")
	old := mustProvisionFile(t, path)
	ctx := t.Context()
	if _, err := old.Backend().Claim(ctx, "inflight", "A", "fp", time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The same file, spelt another way.
	reloaded := mustProvisionFile(t, filepath.Join(dir, "sub", "..", ".", "events.db"))
	if reloaded.Backend() != old.Backend() {
		t.Error("the reloaded config opened the file again")
	}
	if refs, _ := fileStores.References(path); refs != 2 {
		t.Errorf("references = %d, want 2", refs)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if res, err := reloaded.Backend().Claim(ctx, "inflight", "B", "fp", time.Minute, time.Hour); err != nil || res.Outcome != InFlight {
		t.Errorf("claim after reload = %v, %v", res.Outcome, err)
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	// A restart: the file is opened afresh and has the claim.
	again := mustProvisionFile(t, path)
	if rec, found, err := again.Backend().Get(ctx, "inflight"); err != nil || !found || rec.Owner != "A" {
		t.Errorf("after reopening: %+v found %v, %v", rec, found, err)
	}
}

func TestFileProvisionPaths(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BILLBRIDGE_TEST_STORE_DIR", dir)
	f := mustProvisionFile(t, "{env.BILLBRIDGE_TEST_STORE_DIR}/events.db")
	if got := f.Backend().(*FileBackend).Path(); got != filepath.Join(dir, "events.db") {
		t.Errorf("placeholder path opened %s", got)
	}

	// A relative path is relative to the working directory.
	wd := t.TempDir()
	t.Chdir(wd)
	rel := mustProvisionFile(t, "data/events.db")
	if got := rel.Backend().(*FileBackend).Path(); got != filepath.Join(wd, "data", "events.db") {
		t.Errorf("relative path opened %s", got)
	}

	for path, want := range map[string]string{
		"":                                  "path is required",
		"{env.BILLBRIDGE_TEST_UNSET_STORE}": "resolves to an empty value",
	} {
		f := &File{Path: path}
		err := provisionFile(t, f)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Provision(%q) = %v, want %q", path, err, want)
		}
		if f.Backend() != nil {
			t.Errorf("Provision(%q) failed but left a backend", path)
		}
	}
	// A file that is not a store is refused, not overwritten.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a bbolt file\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := provisionFile(t, &File{Path: junk}); err == nil {
		t.Error("a file that is not a store was opened")
	}
}

// TestFileInUseByAnotherProcess: a second process opening the file gets
// a clear error at provision, within about a second, naming the first.
func TestFileInUseByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "events.db")
	cmd, out, closeStdin := helperProcess(t, "hold", path)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("helper did not open the file: %q %v", out.Text(), out.Err())
	}
	start := time.Now()
	f := &File{Path: path}
	err := provisionFile(t, f)
	took := time.Since(start)
	if err == nil {
		_ = f.Cleanup()
		t.Fatal("a second process opened the file")
	}
	want := path + " is in use by another process (pid " + strconv.Itoa(cmd.Process.Pid) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\n  does not contain %q", err, want)
	}
	if !errors.Is(err, ErrFileInUse) {
		t.Errorf("error %v is not ErrFileInUse", err)
	}
	if took > 3*time.Second {
		t.Errorf("the error took %v", took)
	}
	t.Logf("in use: %v (after %v)", err, took.Round(time.Millisecond))
	if _, ok := fileStores.References(path); ok {
		t.Error("a failed open left the file in the pool")
	}

	// Once the other process lets go, the file opens.
	closeStdin()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	mustProvisionFile(t, path)
}

func TestFileBackendNoModule(t *testing.T) {
	if (&File{}).Backend() != nil {
		t.Error("Backend before Provision is not nil")
	}
	if err := (&File{}).Cleanup(); err != nil {
		t.Errorf("Cleanup without Provision: %v", err)
	}
}

// TestFileFromJSON loads the module as the app does, from its JSON; an
// unknown field is refused as the Caddyfile refuses an unknown
// subdirective.
func TestFileFromJSON(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	path := filepath.Join(t.TempDir(), "events.db")
	raw, _ := json.Marshal(map[string]string{"path": path})
	mod, err := ctx.LoadModuleByID("billbridge.stores.file", raw)
	if err != nil {
		t.Fatalf("LoadModuleByID: %v", err)
	}
	f := mod.(*File)
	t.Cleanup(func() { _ = f.Cleanup() })
	if f.Backend() == nil || f.Backend().(*FileBackend).Path() != path {
		t.Errorf("loaded %+v", f)
	}
	if _, err := ctx.LoadModuleByID("billbridge.stores.file", json.RawMessage(`{"path":"x.db","sync":false}`)); err == nil {
		t.Error("an unknown JSON field was accepted")
	}
}
