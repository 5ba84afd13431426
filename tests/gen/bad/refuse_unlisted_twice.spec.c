// expect: refuse_unlisted_twice.spec.c:8:1: error: REMORA_REFUSE_UNLISTED(mini_status, ...) is given twice (first at
// One refusal value per return type.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");

REMORA_REFUSE_UNLISTED(mini_status, MINI_INVALID_OPERATION);
REMORA_REFUSE_UNLISTED(mini_status, MINI_INVALID_VALUE);
