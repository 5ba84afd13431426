// expect: record_without_retire.spec.c:12:12: error: REMORA_RECORD on 'mini_create_queue': its handle type mini_queue needs REMORA_HANDLE_WITH_RECORD
// A record must have a way to be dropped with its object.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);

REMORA_OPCODE(1) REMORA_RECORD(make_record(flags))
mini_queue mini_create_queue(mini_context context, mini_device device, mini_flags flags,
                             mini_status *errcode_ret REMORA_ERRCODE);
