// Shared by the GPU-free CUDA test programs (tests/cuda): EXPECT(call, want) compares a call's result
// with what it must be, prints a FAIL line otherwise and counts it; a program prints PASS last when
// `failures` stayed 0.
#pragma once
#include <stdio.h>

static int failures = 0;
#define EXPECT(call, want)                                                     \
  do {                                                                         \
    int got_ = (int)(call);                                                    \
    if (got_ != (int)(want)) {                                                 \
      printf("FAIL: %s returned %d, expected %d\n", #call, got_, (int)(want)); \
      failures++;                                                              \
    }                                                                          \
  } while (0)
