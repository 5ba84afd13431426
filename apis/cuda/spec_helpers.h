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
int remora_cu_pack_params(const uint64_t* layout, unsigned int count, void* const* kernel_params,
                          uint8_t* out, size_t* size);

// Whether a JIT option's value points at the application's memory (log buffers, symbol tables) or is
// written back in place (the wall time): such options are not forwarded.
int remora_cu_jit_option_is_pointer(CUjit_option option);

// remora's own cuBLAS calls (cuda.spec.c) return REMORA_CUBLAS_STATUS_BASE + the cublasStatus_t of a
// call the server's cuBLAS made (0 on success), apart from the CUresult failures remora itself reports
// (transport, bad handle, unsupported).
#define REMORA_CUBLAS_STATUS_BASE 0x10000

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // REMORA_APIS_CUDA_HOOKS_H
