package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dieWithParent makes cmd receive SIGKILL when this process dies, so an
// interrupted run leaves no server or load client behind.
func dieWithParent(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// processCPU returns the CPU time process pid has used, user and system,
// all threads, from /proc/pid/stat (in clock ticks, 100 a second on
// Linux); -1 if it cannot be read.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const ticksPerSecond = 100 // sysconf(_SC_CLK_TCK), fixed at 100 on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// freeMemoryOnSignal makes this process, on SIGUSR1, collect its garbage,
// return its free memory to the system (debug.FreeOSMemory), so that its
// VmRSS is then what it holds, and print "memory HEAP STACKS": the bytes
// of live heap objects and of goroutine stacks.
func freeMemoryOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for range sig {
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("memory %d %d\n", ms.HeapAlloc, ms.StackInuse)
		}
	}()
}

// askFreeMemory sends SIGUSR1 to process pid (see freeMemoryOnSignal).
func askFreeMemory(pid int) error { return syscall.Kill(pid, syscall.SIGUSR1) }
