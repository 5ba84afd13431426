// A guest of the compat API as one of its specs declares it (compiled once per spec against that
// spec's generated guest). It calls each function it knows and prints one line per call:
//   <function> status=<status> [<result>]
// Environment as for any remora guest (REMORA_CONNECT, REMORA_TRANSPORT).
#include <cstdio>

#include "compat_guest.h"  // generated, from compat_v1.spec.c or compat_v2.spec.c

remora::guest::Runtime& remora_compat_runtime() {
  static remora::guest::Runtime rt(remora_compat_api, nullptr);
  return rt;
}

int main() {
  int sum = 0;
  int status = remora_remote_compat_add(2, 3, &sum);
  std::printf("compat_add status=%d sum=%d\n", status, sum);
  int values[4] = {10, 10, 10, 10};
  status = remora_remote_compat_fill(4, values);
  std::printf("compat_fill status=%d values=%d,%d,%d,%d\n", status, values[0], values[1], values[2], values[3]);
#if COMPAT_SPEC == 1
  status = remora_remote_compat_old(7);
  std::printf("compat_old status=%d\n", status);
#else
  int y = 0;
  status = remora_remote_compat_new(5, &y);
  std::printf("compat_new status=%d y=%d\n", status, y);
#endif
  // A call after the refused ones still works: a refusal is that call's alone.
  status = remora_remote_compat_add(40, 2, &sum);
  std::printf("compat_add status=%d sum=%d\n", status, sum);
  remora_compat_runtime().shutdown();
  return 0;
}
