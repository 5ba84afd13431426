/* A tiny vendor API for remora's version-skew tests (tests/compat): the header both specs of it
 * (compat_v1.spec.c, compat_v2.spec.c) redeclare, and compat_vendor.c implements. */
#ifndef REMORA_TESTS_COMPAT_H
#define REMORA_TESTS_COMPAT_H

typedef int compat_status;
#define COMPAT_SUCCESS 0
#define COMPAT_UNAVAILABLE (-1)
#define COMPAT_UNSUPPORTED (-2)
#define COMPAT_INVALID (-3)
#define COMPAT_NO_MEMORY (-4)

#ifdef __cplusplus
extern "C" {
#endif

/* *sum = a + b */
compat_status compat_add(int a, int b, int *sum);
/* values[i] += i * i for i < n: the two specs disagree on whether values travel in (v2) or not (v1). */
compat_status compat_fill(int n, int *values);
/* Only in v1's spec: COMPAT_SUCCESS for x == 7, else COMPAT_INVALID. */
compat_status compat_old(int x);
/* Only in v2's spec: *y = 3 * x. */
compat_status compat_new(int x, int *y);

#ifdef __cplusplus
}
#endif

#endif
