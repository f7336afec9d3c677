package store

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// fileHolder names the process that holds path's lock, as " (pid N)",
// from /proc/locks; "" if it cannot tell. bbolt takes a flock on the
// file, which /proc/locks lists with its owner's pid and the file's
// device and inode.
func fileHolder(path string) string {
	fi, err := os.Stat(path) //nolint:gosec // G703: the operator's own path, already opened
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return ""
	}
	if pid := lockHolder(string(locks), uint64(st.Dev), st.Ino); pid != "" {
		return " (pid " + pid + ")"
	}
	return ""
}

// lockHolder finds the pid of the FLOCK in locks (the text of
// /proc/locks) on the file dev:ino.
func lockHolder(locks string, dev, ino uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	for line := range strings.Lines(locks) {
		// 1: FLOCK  ADVISORY  WRITE 4242 fe:00:778323 0 EOF
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want && f[4] != "-1" {
			return f[4]
		}
	}
	return ""
}
