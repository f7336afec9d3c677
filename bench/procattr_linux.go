package main

import (
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
