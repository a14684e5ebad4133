//go:build !purego

// The fast path of mask_other.go: see mask_amd64.go.

#include "textflag.h"

// Both kernels XOR b with the 32-bit key k repeated (RFC 6455 section
// 5.3), k's low byte going to b[0]. They share one plan, with W the vector
// width (32 bytes for AVX2, 16 for SSE2) and len(b) >= W:
//
//  1. Load and XOR the first W bytes (head) and the last W bytes (tail),
//     but keep the results in registers.
//  2. XOR the body, from b rounded up to a multiple of W to b+len rounded
//     down, with aligned accesses only; the body's key is k rotated by the
//     body's offset mod 4.
//  3. Store head and tail. Where they overlap the body (or each other),
//     they hold the same bytes the body wrote, as all three were computed
//     from the original data; so no byte is XORed twice and no scalar loop
//     is needed for the edges.
//
// Register use: AX = b, BX = len(b), R9 = b+len(b), DX = k,
// DI = body cursor, SI = body bytes left, CX and R8 scratch.

// func maskLong(b []byte, k uint32)
//
// Jumps to the AVX2 kernel or the SSE2 one, which take the same arguments
// from the same frame.
TEXT ·maskLong(SB), NOSPLIT, $0-28
	CMPB ·hasAVX2(SB), $0
	JEQ  sse2
	JMP  ·maskAVX2(SB)

sse2:
	JMP ·maskSSE2(SB)

// func maskAVX2(b []byte, k uint32)
TEXT ·maskAVX2(SB), NOSPLIT, $0-28
	MOVQ b_base+0(FP), AX
	MOVQ b_len+8(FP), BX
	MOVL k+24(FP), DX
	LEAQ (AX)(BX*1), R9

	// Head: Y2 = b[0:32] ^ k, broadcast in Y0.
	VMOVD         DX, X0
	VPBROADCASTD X0, Y0
	VPXOR        (AX), Y0, Y2

	// Tail: Y3 = b[len-32:len] ^ (k rotated right by 8*(len mod 4) bits,
	// the key position at len-32).
	MOVQ         BX, CX
	ANDQ         $3, CX
	SHLQ         $3, CX
	MOVL         DX, R8
	RORL         CX, R8
	VMOVD         R8, X1
	VPBROADCASTD X1, Y1
	VPXOR        -32(R9), Y1, Y3

	// Body: DI = b rounded up to 32, SI = (b+len rounded down to 32) - DI,
	// which is >= 0 since len >= 32. Y4 = k rotated to the key position
	// at DI.
	LEAQ         31(AX), DI
	ANDQ         $-32, DI
	MOVQ         R9, SI
	ANDQ         $-32, SI
	SUBQ         DI, SI
	MOVQ         DI, CX
	SUBQ         AX, CX
	ANDQ         $3, CX
	SHLQ         $3, CX
	MOVL         DX, R8
	RORL         CX, R8
	VMOVD         R8, X4
	VPBROADCASTD X4, Y4

	// 128 bytes per iteration: four independent load-XOR-store chains.
	CMPQ SI, $128
	JB   avx2Loop32

avx2Loop128:
	VPXOR   (DI), Y4, Y5
	VPXOR   32(DI), Y4, Y6
	VPXOR   64(DI), Y4, Y7
	VPXOR   96(DI), Y4, Y8
	VMOVDQA Y5, (DI)
	VMOVDQA Y6, 32(DI)
	VMOVDQA Y7, 64(DI)
	VMOVDQA Y8, 96(DI)
	ADDQ    $128, DI
	SUBQ    $128, SI
	CMPQ    SI, $128
	JAE     avx2Loop128

	// Up to three 32-byte blocks left.
avx2Loop32:
	TESTQ   SI, SI
	JZ      avx2Edges
	VPXOR   (DI), Y4, Y5
	VMOVDQA Y5, (DI)
	ADDQ    $32, DI
	SUBQ    $32, SI
	JMP     avx2Loop32

	// Step 3: the edges, computed before the body was touched.
avx2Edges:
	VMOVDQU Y2, (AX)
	VMOVDQU Y3, -32(R9)
	VZEROUPPER
	RET

// func maskSSE2(b []byte, k uint32)
//
// The same plan with 16-byte vectors. PXOR with a memory operand needs it
// aligned, so head and tail are loaded with MOVOU first.
TEXT ·maskSSE2(SB), NOSPLIT, $0-28
	MOVQ b_base+0(FP), AX
	MOVQ b_len+8(FP), BX
	MOVL k+24(FP), DX
	LEAQ (AX)(BX*1), R9

	// Head: X2 = b[0:16] ^ k, broadcast in X0.
	MOVD   DX, X0
	PSHUFD $0, X0, X0
	MOVOU  (AX), X2
	PXOR   X0, X2

	// Tail: X3 = b[len-16:len] ^ k rotated to the key position at len-16.
	MOVQ   BX, CX
	ANDQ   $3, CX
	SHLQ   $3, CX
	MOVL   DX, R8
	RORL   CX, R8
	MOVD   R8, X1
	PSHUFD $0, X1, X1
	MOVOU  -16(R9), X3
	PXOR   X1, X3

	// Body: DI = b rounded up to 16, SI = bytes to b+len rounded down to
	// 16, X4 = k rotated to the key position at DI.
	LEAQ   15(AX), DI
	ANDQ   $-16, DI
	MOVQ   R9, SI
	ANDQ   $-16, SI
	SUBQ   DI, SI
	MOVQ   DI, CX
	SUBQ   AX, CX
	ANDQ   $3, CX
	SHLQ   $3, CX
	MOVL   DX, R8
	RORL   CX, R8
	MOVD   R8, X4
	PSHUFD $0, X4, X4

	// 64 bytes per iteration.
	CMPQ SI, $64
	JB   sse2Loop16

sse2Loop64:
	MOVO (DI), X5
	MOVO 16(DI), X6
	MOVO 32(DI), X7
	MOVO 48(DI), X8
	PXOR X4, X5
	PXOR X4, X6
	PXOR X4, X7
	PXOR X4, X8
	MOVO X5, (DI)
	MOVO X6, 16(DI)
	MOVO X7, 32(DI)
	MOVO X8, 48(DI)
	ADDQ $64, DI
	SUBQ $64, SI
	CMPQ SI, $64
	JAE  sse2Loop64

	// Up to three 16-byte blocks left.
sse2Loop16:
	TESTQ SI, SI
	JZ    sse2Edges
	MOVO  (DI), X5
	PXOR  X4, X5
	MOVO  X5, (DI)
	ADDQ  $16, DI
	SUBQ  $16, SI
	JMP   sse2Loop16

sse2Edges:
	MOVOU X2, (AX)
	MOVOU X3, -16(R9)
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv0() uint32
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL   $0, CX
	XGETBV
	MOVL   AX, ret+0(FP)
	RET
