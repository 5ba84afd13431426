// The compat API as a newer remora knows it (see compat_v1.spec.c): compat_old is gone, compat_new
// (opcode 4) is new, and compat_fill's values now travel in and out, a different wire signature under
// the same opcode (which the committed opcode table of a real API refuses; here it is the point).
#include <remora/spec.h>
#include <compat.h>

REMORA_API(compat, "type=compat_status,success=COMPAT_SUCCESS,transport=COMPAT_UNAVAILABLE,"
                   "unsupported=COMPAT_UNSUPPORTED,invalid=COMPAT_INVALID,no_memory=COMPAT_NO_MEMORY,"
                   "quota=COMPAT_NO_MEMORY");

REMORA_OPCODE(1)
compat_status compat_add(int a, int b, int *sum);

REMORA_OPCODE(2)
compat_status compat_fill(int n, int *values REMORA_INOUT REMORA_COUNT(n));

REMORA_OPCODE(4)
compat_status compat_new(int x, int *y);
