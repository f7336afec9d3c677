package main

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcAttr puts a child in its own process group, so that a Ctrl-C in
// the terminal reaches the benchmark alone (which then stops its children
// in order), and has the kernel kill it should the benchmark die without
// cleaning up.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// fileSize is a file's length and the disk space allocated to it.
func fileSize(path string) (size, alloc int64) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		alloc = st.Blocks * 512
	}
	return fi.Size(), alloc
}
