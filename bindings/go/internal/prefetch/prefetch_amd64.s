//go:build amd64

#include "textflag.h"

// func pair(addr uintptr)
TEXT ·pair(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ addr+0(FP), AX
	PREFETCHT0 (AX)
	XORQ $64, AX
	PREFETCHT0 (AX)
	RET
