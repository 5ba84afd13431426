// Shared by the runtime-API test programs (tests/gpu/*.cu): CHECK(call) prints the error's name and
// exits when a runtime call fails.
#pragma once
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                  \
  do {                                                                               \
    cudaError_t check_e = (call);                                                    \
    if (check_e != cudaSuccess) {                                                    \
      printf("FAIL: %s: %s (%d)\n", #call, cudaGetErrorName(check_e), (int)check_e); \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)
