// expect: unsupported_scalar_return.spec.c:9:11: error: REMORA_UNSUPPORTED on function 'mini_get_version', which returns 'mini_uint', not the API's status type: the generated refusal could only answer 0; refuse it in the function's own terms with a REMORA_LOCAL hook
// REMORA_UNSUPPORTED on a function whose result is not the API's status type.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);

REMORA_UNSUPPORTED("no version here")
mini_uint mini_get_version(void);
