// The compat API as an older remora knew it: compat_old exists, compat_new does not, and compat_fill's
// values only travel back. Its twin compat_v2.spec.c differs in exactly those three ways.
#include <remora/spec.h>
#include <compat.h>

REMORA_API(compat, "type=compat_status,success=COMPAT_SUCCESS,transport=COMPAT_UNAVAILABLE,"
                   "unsupported=COMPAT_UNSUPPORTED,invalid=COMPAT_INVALID,no_memory=COMPAT_NO_MEMORY,"
                   "quota=COMPAT_NO_MEMORY");

REMORA_OPCODE(1)
compat_status compat_add(int a, int b, int *sum);

REMORA_OPCODE(2)
compat_status compat_fill(int n, int *values REMORA_OUT REMORA_COUNT(n));

REMORA_OPCODE(3)
compat_status compat_old(int x);
