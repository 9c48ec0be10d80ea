//go:build arm64

#include "textflag.h"

// PRFM is a hint: it never faults, whatever the address.

// func pair(addr uintptr)
TEXT ·pair(SB), NOSPLIT|NOFRAME, $0-8
	MOVD addr+0(FP), R0
	PRFM (R0), PLDL1KEEP
	EOR  $64, R0, R0
	PRFM (R0), PLDL1KEEP
	RET

// func three(a, b uintptr)
TEXT ·three(SB), NOSPLIT|NOFRAME, $0-16
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	PRFM (R0), PLDL1KEEP
	PRFM (R1), PLDL1KEEP
	EOR  $64, R1, R1
	PRFM (R1), PLDL1KEEP
	RET
