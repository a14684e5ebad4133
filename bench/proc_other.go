//go:build !linux

package main

import "os/exec"

func dieWithParent(cmd *exec.Cmd) *exec.Cmd { return cmd }
