package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd receive SIGKILL when this process dies, so an
// interrupted run leaves no server or load client behind.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
