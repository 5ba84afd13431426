// Several host threads, each with its own streams, through the CUDA runtime: every thread allocates,
// copies in from page-locked memory asynchronously, runs a chain of kernels, and copies back; a second
// stream of each thread waits on the first through an event; the main thread then checks an event
// ordering across threads' streams and that a thread's launch error stays that thread's. The output
// is deterministic (printed after the threads join). run.sh builds it with nvcc's default flags.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#include <thread>
#include <vector>

#include "runtime_check.h"

__global__ void step(unsigned* p, unsigned k, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = p[i] * 2654435761u + k;
}

__global__ void add_from(unsigned* dst, const unsigned* src, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[i] += src[i];
}

constexpr int kThreads = 4, kSteps = 50, kN = 1 << 18;

struct Result {
  unsigned long long sum = 0;
  int mismatches = -1;
  cudaError_t own_error = cudaSuccess, after = cudaSuccess;
};

static unsigned expected(int t, int i) {
  unsigned a = (unsigned)(i + t), b = (unsigned)(i ^ t);
  for (int k = 0; k < kSteps; ++k) a = a * 2654435761u + (unsigned)(k + t);
  for (int k = 0; k < kSteps; ++k) b = b * 2654435761u + (unsigned)(k * 3);
  return a + b;
}

static void work(int t, Result* r) {
  CHECK(cudaSetDevice(0));
  cudaStream_t s1, s2;
  CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CHECK(cudaStreamCreate(&s2));
  cudaEvent_t done1;
  CHECK(cudaEventCreateWithFlags(&done1, cudaEventDisableTiming));
  unsigned *host, *d1, *d2;
  CHECK(cudaMallocHost(&host, 2 * kN * sizeof(unsigned)));
  CHECK(cudaMalloc(&d1, kN * sizeof(unsigned)));
  CHECK(cudaMalloc(&d2, kN * sizeof(unsigned)));
  for (int i = 0; i < kN; ++i) host[i] = (unsigned)(i + t), host[kN + i] = (unsigned)(i ^ t);
  CHECK(cudaMemcpyAsync(d1, host, kN * sizeof(unsigned), cudaMemcpyHostToDevice, s1));
  CHECK(cudaMemcpyAsync(d2, host + kN, kN * sizeof(unsigned), cudaMemcpyHostToDevice, s2));
  const int blocks = (kN + 255) / 256;
  for (int k = 0; k < kSteps; ++k) {
    step<<<blocks, 256, 0, s1>>>(d1, (unsigned)(k + t), kN);
    step<<<blocks, 256, 0, s2>>>(d2, (unsigned)(k * 3), kN);
  }
  CHECK(cudaEventRecord(done1, s1));
  CHECK(cudaStreamWaitEvent(s2, done1, 0));
  add_from<<<blocks, 256, 0, s2>>>(d2, d1, kN);
  // A launch error in this thread: its own last error, not the other threads'.
  if (t == 1) {
    step<<<1, 4096, 0, s1>>>(d1, 0, kN);
    r->own_error = cudaGetLastError();
  }
  CHECK(cudaMemcpyAsync(host, d2, kN * sizeof(unsigned), cudaMemcpyDeviceToHost, s2));
  CHECK(cudaStreamSynchronize(s2));
  r->after = cudaGetLastError();
  r->mismatches = 0;
  for (int i = 0; i < kN; ++i) {
    r->sum += host[i];
    r->mismatches += host[i] != expected(t, i);
  }
  CHECK(cudaFree(d1));
  CHECK(cudaFree(d2));
  CHECK(cudaFreeHost(host));
  CHECK(cudaEventDestroy(done1));
  CHECK(cudaStreamDestroy(s1));
  CHECK(cudaStreamDestroy(s2));
}

int main() {
  CHECK(cudaSetDevice(0));
  std::vector<Result> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(work, t, &results[t]);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    printf("thread %d: sum %llu, mismatches %d, own launch error %s, after %s\n", t, results[t].sum,
           results[t].mismatches, cudaGetErrorName(results[t].own_error), cudaGetErrorName(results[t].after));

  // Ordering across threads: a stream created here waits on an event recorded in another thread's
  // stream after a long kernel chain.
  unsigned *d, value = 0;
  CHECK(cudaMalloc(&d, kN * sizeof(unsigned)));
  CHECK(cudaMemset(d, 0, kN * sizeof(unsigned)));
  cudaEvent_t ev;
  CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  std::thread producer([&] {
    cudaStream_t s;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    for (int k = 0; k < 200; ++k) step<<<(kN + 255) / 256, 256, 0, s>>>(d, 1, kN);
    CHECK(cudaEventRecord(ev, s));
    CHECK(cudaStreamDestroy(s));  // its work still runs; the event completes with it
  });
  producer.join();
  cudaStream_t consumer;
  CHECK(cudaStreamCreateWithFlags(&consumer, cudaStreamNonBlocking));
  CHECK(cudaStreamWaitEvent(consumer, ev, 0));
  CHECK(cudaMemcpyAsync(&value, d, sizeof value, cudaMemcpyDeviceToHost, consumer));
  CHECK(cudaStreamSynchronize(consumer));
  unsigned want = 0;
  for (int k = 0; k < 200; ++k) want = want * 2654435761u + 1;
  printf("cross-thread event: %s\n", value == want ? "ordered" : "WRONG");
  CHECK(cudaStreamDestroy(consumer));
  CHECK(cudaEventDestroy(ev));
  CHECK(cudaFree(d));
  printf("done\n");
  return 0;
}
