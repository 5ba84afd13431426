// expect: no_api.spec.c:1:1: error: the spec has no REMORA_API(name, errors)
// A spec without REMORA_API.
#include <mini/mini.h>
#include <remora/spec.h>
REMORA_HANDLE(mini_queue, MINI_INVALID_QUEUE);

REMORA_OPCODE(1)
mini_status mini_finish(mini_queue queue);
