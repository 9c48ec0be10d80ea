//go:build amd64

#include "textflag.h"

// func pair(addr uintptr)
TEXT ·pair(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 (AX)
	XORQ $64, AX
	PREFETCHT0 (AX)
	RET

// func three(a, b uintptr)
TEXT ·three(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	PREFETCHT0 (AX)
	PREFETCHT0 (BX)
	XORQ $64, BX
	PREFETCHT0 (BX)
	RET
