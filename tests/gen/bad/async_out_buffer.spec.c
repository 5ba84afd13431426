// expect: async_out_buffer.spec.c:15:50: error: REMORA_ASYNC function 'mini_enqueue_read' has output 'ptr', which the guest cannot produce before the call runs (only a new handle of count 1 and the status may come out of an asynchronous call)
// REMORA_ASYNC on a call whose output buffer the guest cannot fill.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_API(mini, "type=mini_status,success=MINI_SUCCESS,transport=MINI_DEVICE_NOT_AVAILABLE,unsupported=MINI_INVALID_OPERATION,invalid=MINI_INVALID_VALUE,no_memory=MINI_OUT_OF_HOST_MEMORY,quota=MINI_OUT_OF_RESOURCES");
REMORA_HANDLE(mini_device, MINI_INVALID_DEVICE);
REMORA_HANDLE(mini_context, MINI_INVALID_CONTEXT);
REMORA_HANDLE(mini_buffer, MINI_INVALID_BUFFER);
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);
REMORA_HANDLE(mini_event, MINI_INVALID_EVENT);
REMORA_HANDLE(mini_program, MINI_INVALID_PROGRAM);

REMORA_OPCODE(1) REMORA_ASYNC
mini_status mini_enqueue_read(mini_queue queue, mini_buffer buffer, mini_bool blocking_read, size_t offset,
                              size_t size, void *ptr REMORA_BYTES(size),
                              mini_uint num_events_in_wait_list,
                              const mini_event *event_wait_list REMORA_COUNT(num_events_in_wait_list),
                              mini_event *event);
