// Kernels for the driver-API test programs (tests/gpu/*.c), built to a cubin and to PTX by run.sh.
struct Params {
  int mul;
  char tag;
  double add;
};

__device__ int counter;

extern "C" __global__ void vecadd(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

// Mixed parameter sizes and padding: a pointer, a struct with a hole, a char, an int.
extern "C" __global__ void axpb(float* x, Params p, char c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = x[i] * p.mul + static_cast<float>(p.add) + c + p.tag;
}

extern "C" __global__ void count(int n) { atomicAdd(&counter, n); }
