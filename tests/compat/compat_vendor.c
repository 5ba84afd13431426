/* The "vendor" of the compat API: what the session processes of tests/compat load. */
#include "compat.h"

compat_status compat_add(int a, int b, int *sum) {
  if (sum == 0) return COMPAT_INVALID;
  *sum = a + b;
  return COMPAT_SUCCESS;
}

compat_status compat_fill(int n, int *values) {
  if (n < 0 || (n > 0 && values == 0)) return COMPAT_INVALID;
  for (int i = 0; i < n; ++i) values[i] += i * i;
  return COMPAT_SUCCESS;
}

compat_status compat_old(int x) { return x == 7 ? COMPAT_SUCCESS : COMPAT_INVALID; }

compat_status compat_new(int x, int *y) {
  if (y == 0) return COMPAT_INVALID;
  *y = 3 * x;
  return COMPAT_SUCCESS;
}
