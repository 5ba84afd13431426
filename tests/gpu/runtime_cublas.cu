// cuBLAS SGEMM through the runtime API: C = A * B for 512x512 matrices, checked against the CPU.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    cudaError_t check_e = (call);                                                          \
    if (check_e != cudaSuccess) {                                                          \
      printf("FAIL: %s: %s\n", #call, cudaGetErrorName(check_e));                          \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)
#define CHECK_BLAS(call)                                                                   \
  do {                                                                                     \
    cublasStatus_t check_s = (call);                                                       \
    if (check_s != CUBLAS_STATUS_SUCCESS) {                                                \
      printf("FAIL: %s: cublas status %d\n", #call, (int)check_s);                         \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

int main() {
  const int n = 512;
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int i = 0; i < n * n; ++i) {
    a[i] = (float)((i * 7) % 13) / 13.0f;
    b[i] = (float)((i * 5) % 11) / 11.0f;
  }
  float *da, *db, *dc;
  CHECK(cudaMalloc(&da, n * n * sizeof(float)));
  CHECK(cudaMalloc(&db, n * n * sizeof(float)));
  CHECK(cudaMalloc(&dc, n * n * sizeof(float)));
  CHECK(cudaMemcpy(da, a.data(), n * n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, b.data(), n * n * sizeof(float), cudaMemcpyHostToDevice));
  cublasHandle_t h;
  CHECK_BLAS(cublasCreate(&h));
  const float one = 1.0f, zero = 0.0f;
  // Column-major: C = A * B.
  CHECK_BLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, da, n, db, n, &zero, dc, n));
  CHECK(cudaMemcpy(c.data(), dc, n * n * sizeof(float), cudaMemcpyDeviceToHost));
  double worst = 0;
  for (int row = 0; row < n; row += 7)
    for (int col = 0; col < n; col += 5) {
      double want = 0;
      for (int k = 0; k < n; ++k) want += (double)a[row + k * n] * b[k + col * n];
      worst = fmax(worst, fabs(want - c[row + col * n]) / fmax(1.0, fabs(want)));
    }
  printf("sgemm %dx%d: max relative error %s 1e-3\n", n, n, worst < 1e-3 ? "<" : ">=");
  CHECK_BLAS(cublasDestroy(h));
  CHECK(cudaFree(da));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dc));
  printf("PASS\n");
  return 0;
}
