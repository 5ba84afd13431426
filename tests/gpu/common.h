// Shared by the driver-API test programs: a checking macro that prints the error name and exits.
#pragma once
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                 \
  do {                                                                              \
    CUresult check_r = (call);                                                      \
    if (check_r != CUDA_SUCCESS) {                                                  \
      const char* check_name = NULL;                                                \
      cuGetErrorName(check_r, &check_name);                                         \
      printf("FAIL: %s: %s (%d)\n", #call, check_name ? check_name : "?", (int)check_r); \
      exit(1);                                                                      \
    }                                                                               \
  } while (0)

static void* read_file(const char* path, size_t* size, int text) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    printf("FAIL: cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = (char*)malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    printf("FAIL: cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  if (text) buf[n] = '\0';
  *size = (size_t)n;
  return buf;
}
