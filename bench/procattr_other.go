//go:build !linux

package main

import "os/exec"

// setProcAttr: the benchmark reads /proc and is meant for Linux; elsewhere
// it builds, and children are stopped only by its own clean-up.
func setProcAttr(*exec.Cmd) {}
