package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func blockedOn(ch chan struct{}) { <-ch }

func TestLeakedSeesAndForgets(t *testing.T) {
	ch := make(chan struct{})
	go blockedOn(ch)
	if got := Wait(100 * time.Millisecond); !strings.Contains(got, "leakcheck.blockedOn") {
		t.Fatalf("a blocked goroutine was not reported:\n%s", got)
	}
	close(ch)
	if got := Wait(5 * time.Second); got != "" {
		t.Fatalf("an ended goroutine is still reported:\n%s", got)
	}
}
