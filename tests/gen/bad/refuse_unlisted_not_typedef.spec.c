// expect: refuse_unlisted_not_typedef.spec.c:7:1: error: REMORA_REFUSE_UNLISTED type 'int' is not a typedef name
// The rule names the return type as the header spells it: a typedef.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");

REMORA_REFUSE_UNLISTED(int, -1);
