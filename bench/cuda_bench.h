// Shared by the CUDA benchmark programs (cuda_micro.c, cuda_pinned_probe.c): a driver-call check that
// names the error and exits, a monotonic clock in seconds, and the median of a sample.
#pragma once
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                               \
  do {                                                                                            \
    CUresult check_r = (call);                                                                    \
    if (check_r != CUDA_SUCCESS) {                                                                \
      const char* check_name = NULL;                                                              \
      cuGetErrorName(check_r, &check_name);                                                       \
      fprintf(stderr, "FAIL: %s: %s (%d)\n", #call, check_name ? check_name : "?", (int)check_r); \
      exit(1);                                                                                    \
    }                                                                                             \
  } while (0)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

// Sorts v.
static double median(double* v, int n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
