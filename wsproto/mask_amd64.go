//go:build !purego

// This file and mask_amd64.s are the fast path of mask_other.go, which
// the purego build tag selects instead. Masking touches every payload
// byte a client sends or a server receives, and vector instructions XOR
// 16 or 32 bytes at a time where Go code does 8.

package wsproto

// maskLong XORs b with k repeated, low byte first (see maskWords), with
// maskAVX2 if the CPU has AVX2 and maskSSE2 otherwise; the choice is made
// in assembly, to save a call. len(b) must be at least 32.
//
//go:noescape
func maskLong(b []byte, k uint32)

// maskAVX2 XORs b with k repeated, 32 bytes per instruction. len(b) must
// be at least 32 and the CPU must have AVX2 (hasAVX2).
//
//go:noescape
func maskAVX2(b []byte, k uint32)

// maskSSE2 XORs b with k repeated, 16 bytes per instruction. len(b) must
// be at least 16; SSE2 is part of every amd64 CPU.
//
//go:noescape
func maskSSE2(b []byte, k uint32)

// hasAVX2 reports whether the CPU has AVX2 and the OS saves the 256-bit
// registers. internal/cpu knows, but the standard library does not export
// it, and golang.org/x/sys is not a dependency.
var hasAVX2 = detectAVX2()

func detectAVX2() bool {
	// Intel SDM vol. 1 section 14.3 "Detection of AVX instructions" and
	// section 14.7.1 for AVX2; bit numbers from vol. 2A, CPUID.
	const (
		osxsave  = 1 << 27 // CPUID.1:ECX, XGETBV is usable
		avx      = 1 << 28 // CPUID.1:ECX
		avx2     = 1 << 5  // CPUID.(7,0):EBX
		xcr0SSE  = 1 << 1  // XCR0: the OS saves XMM registers
		xcr0AVX  = 1 << 2  // XCR0: and the upper halves of YMM
		xcr0Need = xcr0SSE | xcr0AVX
	)
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	if _, _, ecx, _ := cpuid(1, 0); ecx&osxsave == 0 || ecx&avx == 0 {
		return false
	}
	if xgetbv0()&xcr0Need != xcr0Need {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&avx2 != 0
}

// cpuid executes CPUID with EAX=leaf and ECX=sub.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// xgetbv0 returns the low 32 bits of XCR0.
func xgetbv0() uint32
