// Devices, attributes, primary context, memory info, error texts: what deviceQuery-like tools ask.
#include <string.h>

#include "common.h"

int main(void) {
  CHECK(cuInit(0));
  int version = 0, count = 0;
  CHECK(cuDriverGetVersion(&version));
  CHECK(cuDeviceGetCount(&count));
  printf("driver version %d, %d device(s)\n", version, count);
  for (int d = 0; d < count; ++d) {
    CUdevice dev;
    char name[256], bus[32];
    int major = 0, minor = 0, sms = 0, warp = 0, threads = 0;
    size_t total = 0;
    CUuuid uuid;
    CHECK(cuDeviceGet(&dev, d));
    CHECK(cuDeviceGetName(name, sizeof name, dev));
    CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
    CHECK(cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev));
    CHECK(cuDeviceGetAttribute(&threads, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev));
    CHECK(cuDeviceTotalMem(&total, dev));
    CHECK(cuDeviceGetUuid(&uuid, dev));
    CHECK(cuDeviceGetPCIBusId(bus, sizeof bus, dev));
    printf("device %d: %s, sm_%d%d, %d SMs, warp %d, %d threads/block, %zu MiB, bus %s, uuid %02x%02x..%02x\n", d,
           name, major, minor, sms, warp, threads, total >> 20, bus, (unsigned char)uuid.bytes[0],
           (unsigned char)uuid.bytes[1], (unsigned char)uuid.bytes[15]);

    CUcontext primary = NULL, current = NULL;
    unsigned int flags = 0;
    int active = -1;
    CHECK(cuDevicePrimaryCtxRetain(&primary, dev));
    CHECK(cuCtxSetCurrent(primary));
    CHECK(cuCtxGetCurrent(&current));
    CHECK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
    printf("primary context: current %s, active %d\n", current == primary ? "yes" : "no", active);
    size_t free_b = 0, total_b = 0;
    CHECK(cuMemGetInfo(&free_b, &total_b));
    printf("memory info: total %zu MiB, free <= total %s\n", total_b >> 20, free_b <= total_b ? "yes" : "no");
    CUdevice ctx_dev = -1;
    CHECK(cuCtxGetDevice(&ctx_dev));
    unsigned int api = 0;
    CHECK(cuCtxGetApiVersion(primary, &api));
    int least = 0, greatest = 0;
    CHECK(cuCtxGetStreamPriorityRange(&least, &greatest));
    printf("context device %d, api %u, priorities %d..%d\n", ctx_dev, api, least, greatest);
    CHECK(cuCtxSetCurrent(NULL));
    CHECK(cuDevicePrimaryCtxRelease(dev));
  }
  const char *ename = NULL, *estr = NULL;
  CHECK(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &ename));
  CHECK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &estr));
  printf("error texts: %s / %s\n", ename, estr);
  CUdevice bad;
  printf("cuDeviceGet(9999): %d\n", (int)cuDeviceGet(&bad, 9999));
  void* fn = NULL;
  CUdriverProcAddressQueryResult st;
  CHECK(cuGetProcAddress("cuMemAlloc", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  printf("cuGetProcAddress(cuMemAlloc): %s\n", fn != NULL && st == CU_GET_PROC_ADDRESS_SUCCESS ? "found" : "missing");
  printf("PASS\n");
  return 0;
}
