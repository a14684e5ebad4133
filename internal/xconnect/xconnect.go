// Package xconnect lets a test binary serve WebSockets over HTTP/2. net/http
// accepts an extended CONNECT (RFC 8441) only when GODEBUG=http2xconnect=1
// is in the environment when it starts, and reads it only then, so a test
// cannot set it: Main runs the tests again in a process that has it.
package xconnect

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Main is a TestMain: it runs m in this process if the setting is on,
// and otherwise runs the test binary again with it, with the same
// arguments, and exits as that run does.
func Main(m *testing.M) {
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		os.Exit(m.Run())
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1,"+os.Getenv("GODEBUG"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	}
	panic(err)
}
