//go:build !purego

package wsproto

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The vector kernels are tested directly, from their minimum length up, so
// that the SSE2 one is covered on CPUs with AVX2 and both are covered below
// maskVectorMin.

func TestMaskAVX2Differential(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU without AVX2")
	}
	checkMaskDifferential(t, 32, maskWith(maskAVX2))
}

func TestMaskSSE2Differential(t *testing.T) {
	checkMaskDifferential(t, 16, maskWith(maskSSE2))
}

// TestAVX2KernelVEXOnly: every instruction of maskAVX2 that touches a
// vector register is VEX-encoded (its mnemonic starts with V). One legacy
// SSE instruction among AVX ones (a MOVD into X0, say) costs an AVX-SSE
// state transition on Intel CPUs: about 200 ns a call, measured on a Xeon,
// which made 1 KiB take 205 ns instead of 10. AMD CPUs do not show it, so
// no benchmark on them would catch it; this reads the source instead.
func TestAVX2KernelVEXOnly(t *testing.T) {
	src, err := os.ReadFile("mask_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "TEXT ·maskAVX2(SB)")
	if start < 0 {
		t.Fatal("maskAVX2 not found in mask_amd64.s")
	}
	body := text[start+1:]
	if end := strings.Index(body, "\nTEXT "); end >= 0 {
		body = body[:end]
	}
	vector := regexp.MustCompile(`\b[XY](1[0-5]|[0-9])\b`)
	checked := 0
	for i, line := range strings.Split(body, "\n") {
		line, _, _ = strings.Cut(line, "//")
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasSuffix(fields[0], ":") || !vector.MatchString(line) {
			continue
		}
		checked++
		if !strings.HasPrefix(fields[0], "V") {
			t.Errorf("maskAVX2, line %d: %s is not VEX-encoded (an AVX-SSE transition on Intel)", i+1, strings.TrimSpace(line))
		}
	}
	if checked < 10 {
		t.Fatalf("only %d vector instructions found: the parse is broken", checked)
	}
}
