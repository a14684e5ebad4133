//go:build !linux

package main

import (
	"os/exec"
	"time"
)

func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }

// processCPU is not measured here.
func processCPU(pid int) time.Duration { return -1 }
