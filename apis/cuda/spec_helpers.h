// Helpers for cuda.spec.c's expressions, shared by guest and server, plus declarations of the server
// glue the generated code calls.
//
// Spec expressions are copied verbatim into generated code on both sides, so everything they call is
// declared here in C and implemented in spec_helpers.cpp (tested by spec_helpers_test.cpp).
#ifndef REMORA_APIS_CUDA_HOOKS_H
#define REMORA_APIS_CUDA_HOOKS_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_host_region.h"

#ifdef __cplusplus
extern "C" {
#endif

// `len` as an element count: a negative length transfers nothing (the driver reports it).
size_t remora_cu_nonnegative(int len);

// Bytes of a module image as cuModuleLoadData reads it: a fatbin (its header gives the size), a cubin
// (an ELF file: the furthest of its headers, sections and segments), or else PTX text up to and
// including its NUL. 0 for NULL; SIZE_MAX when the sizes in a header overflow (remora refuses that).
size_t remora_cu_module_image_bytes(const void* image);

// The parameter buffer of a launch through kernelParams: each argument copied to its offset. `layout`
// holds (offset << 32 | size) per parameter, as remora_cuFuncGetParamLayout returns it. Writes the
// buffer's size to *size (the end of the last parameter) and returns 0, or returns -1 when the layout
// is not usable (a parameter past the limit, overlapping parameters) or an argument pointer is NULL.
// `out` must hold REMORA_CU_MAX_PARAM_BYTES bytes.
#define REMORA_CU_MAX_PARAM_BYTES 32764  // the largest parameter buffer CUDA allows (12.1+)
// The most attributes a launch configuration may carry through remora (cuda.h defines 17 kinds).
#define REMORA_CU_MAX_LAUNCH_ATTRIBUTES 64
int remora_cu_pack_params(const uint64_t* layout, unsigned int count, void* const* kernel_params,
                          uint8_t* out, size_t* size);

// The per-call thread state (cuda.spec.c REMORA_THREAD_STATE): the id of the calling thread's current
// context (0: none; REMORA_CU_THREAD_STATE_NO_CONTEXT: one that is gone) with the thread's stream
// capture mode in bits 60-61.
#define REMORA_CU_THREAD_STATE_MODE_SHIFT 60
#define REMORA_CU_THREAD_STATE_MODE_MASK (UINT64_C(3) << REMORA_CU_THREAD_STATE_MODE_SHIFT)
#define REMORA_CU_THREAD_STATE_NO_CONTEXT (~REMORA_CU_THREAD_STATE_MODE_MASK)

// *n, or 0 for NULL: the capacity a size-query's in/out count brings in (cuGraphGetNodes).
size_t remora_cu_count_in(const size_t* n);

// Bytes of an attribute's value, as the driver reads or writes it; 0 for an attribute remora does not
// know (a newer driver's), which the spec refuses (REMORA_CHECK): its size cannot be known, and a
// buffer of the wrong size would be the driver's to overrun.
size_t remora_cu_mempool_attribute_bytes(CUmemPool_attribute attr);
size_t remora_cu_pointer_attribute_bytes(CUpointer_attribute attr);

// Whether a JIT option's value points at the application's memory (log buffers, symbol tables) or is
// written back in place (the wall time): such options are not forwarded.
int remora_cu_jit_option_is_pointer(CUjit_option option);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // REMORA_APIS_CUDA_HOOKS_H
