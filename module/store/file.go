package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// fileStores holds the open store files across config reloads, keyed by
// the cleaned absolute path: the new config is provisioned before the old
// one is cleaned up, and opening the file again would fail against the
// old config's lock. Values are *fileState.
var fileStores = caddy.NewUsagePool()

// File is the billbridge.stores.file module: a durable store in one bbolt
// file on local disk, for a single Caddy instance on one machine.
//
//	{"type": "file", "path": "/var/lib/billbridge/events.db"}
//
// What an operator must know:
//
//   - One process owns the file. A second Caddy opening it while the
//     first runs fails at provision after about a second, naming the
//     holder's pid where the system tells (the bbolt tool, too, waits for
//     Caddy to stop). Config reloads in the owning process keep the file
//     open. Several Caddy instances
//     behind a load balancer need billbridge.stores.redis instead.
//   - Every transition is committed and fsynced before the call returns,
//     so everything a call reported survives kill -9, a crash of Caddy,
//     and power loss (on a disk that honours fsync). An event whose Hold
//     had returned is in the file, queued or being delivered; a delivery
//     cut off mid-way is taken over after its lease, as ambiguous (the
//     worker asks the legacy system before posting again). Nothing
//     survives the loss of the disk: there is no replica.
//   - Back it up while Caddy is stopped: copy the file, or write a
//     compacted copy with the bbolt tool (bbolt compact -o copy.db
//     events.db). A copy taken while Caddy runs may be torn.
//   - The file does not shrink: space freed by expired records is reused,
//     not returned; bbolt compact (Caddy stopped) returns it.
//   - Times are this machine's clock. A clock stepped backwards makes
//     leases and retention run long; one stepped forwards ends them early
//     (a delivery's lease ended early is taken over as ambiguous; a
//     record's retention ended early forgets it, so keep retention well
//     beyond the gateways' retry window).
//   - The file and its directory are created if missing (directory 0700,
//     file 0600); a relative path is relative to Caddy's working
//     directory.
//
// Expired records are invisible at once and removed every minute.
type File struct {
	// Path of the store file. Required. Placeholders such as {env.*} are
	// resolved at provision.
	Path string `json:"path,omitempty"`

	backend *FileBackend
	poolKey string
}

// CaddyModule returns the Caddy module information.
func (File) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.stores.file",
		New: func() caddy.Module { return new(File) },
	}
}

// Provision resolves the path and attaches the module to the open file,
// opening it if no config in this process has it open.
func (f *File) Provision(ctx caddy.Context) error {
	path, err := f.path()
	if err != nil {
		return fmt.Errorf("billbridge file store: %w", err)
	}
	logger := ctx.Logger()
	val, loaded, err := fileStores.LoadOrNew(path, func() (caddy.Destructor, error) {
		b, err := OpenFileBackend(path)
		if err != nil {
			return nil, err
		}
		return newFileState(b, fileSweepInterval, func(err error) {
			logger.Error("billbridge file store: sweeping expired records", zap.String("path", path), zap.Error(err))
		}), nil
	})
	if err != nil {
		return fmt.Errorf("billbridge file store: %w", err)
	}
	f.poolKey = path
	f.backend = val.(*fileState).backend
	if !loaded {
		logger.Info("billbridge file store: opened; one process owns the file", zap.String("path", path))
	}
	return nil
}

// path resolves placeholders and makes the path absolute and clean: the
// pool's key.
func (f *File) path() (string, error) {
	if f.Path == "" {
		return "", errors.New(`path is required: the file that keeps the events, e.g. {"type":"file","path":"/var/lib/billbridge/events.db"} or "store file /var/lib/billbridge/events.db"`)
	}
	p := caddy.NewReplacer().ReplaceAll(f.Path, "")
	if p == "" {
		return "", fmt.Errorf("path %q resolves to an empty value (unset environment variable?)", f.Path)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("path %q: %w", p, err)
	}
	return abs, nil
}

// Cleanup releases the module's hold on the file; it is closed when no
// config uses it any more.
func (f *File) Cleanup() error {
	if f.poolKey == "" {
		return nil
	}
	key := f.poolKey
	f.poolKey = ""
	_, err := fileStores.Delete(key)
	return err
}

// Backend returns the store. It is nil before Provision.
func (f *File) Backend() Store {
	if f.backend == nil {
		return nil
	}
	return f.backend
}

// fileState is a fileStores value: the open file and its sweeper.
type fileState struct {
	backend *FileBackend
	stop    chan struct{}
	done    chan struct{}
}

func newFileState(b *FileBackend, interval time.Duration, logf func(error)) *fileState {
	s := &fileState{backend: b, stop: make(chan struct{}), done: make(chan struct{})}
	go b.sweepLoop(interval, s.stop, s.done, logf)
	return s
}

// Destruct stops the sweeper and closes the file. It runs when the last
// File module using the file is cleaned up.
func (s *fileState) Destruct() error {
	close(s.stop)
	<-s.done
	return s.backend.Close()
}

// Interface guards
var (
	_ Module             = (*File)(nil)
	_ caddy.Provisioner  = (*File)(nil)
	_ caddy.CleanerUpper = (*File)(nil)
	_ caddy.Destructor   = (*fileState)(nil)
)
