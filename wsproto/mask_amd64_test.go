//go:build !purego

package wsproto

import "testing"

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
