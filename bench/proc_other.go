//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }

// processCPU is not measured here.
func processCPU(pid int) time.Duration { return -1 }

func freeMemoryOnSignal() {}

func askFreeMemory(pid int) error { return errors.New("not supported on this system") }
