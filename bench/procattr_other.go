//go:build !linux

package main

import (
	"os"
	"os/exec"
)

// setProcAttr: the benchmark reads /proc and is meant for Linux; elsewhere
// it builds, and children are stopped only by its own clean-up.
func setProcAttr(*exec.Cmd) {}

// fileSize is a file's length (the space allocated is read on Linux only).
func fileSize(path string) (size, alloc int64) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0
	}
	return fi.Size(), fi.Size()
}
