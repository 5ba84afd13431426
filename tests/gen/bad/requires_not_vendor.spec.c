// expect: requires_not_vendor.spec.c:13:13: error: REMORA_REQUIRES(mini_nothing) of 'mini_finish' is not a vendor function of the spec
// expect: requires_not_vendor.spec.c:16:13: error: REMORA_REQUIRES on 'mini_release_queue', which has no REMORA_SERVER hook
// REMORA_REQUIRES names vendor functions the spec declares, for a hook.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);

REMORA_OPCODE(1) REMORA_SERVER(hook) REMORA_REQUIRES(mini_nothing)
mini_status mini_finish(mini_queue queue);

REMORA_OPCODE(2) REMORA_REQUIRES(mini_finish)
mini_status mini_release_queue(mini_queue queue);
