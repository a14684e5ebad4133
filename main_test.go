package wsraise

import (
	"testing"
	"time"

	"wsraise/internal/leakcheck"
)

// After the suite, no connection of any case may still have a goroutine.
func TestMain(m *testing.M) { leakcheck.Main(m, 5*time.Second) }
