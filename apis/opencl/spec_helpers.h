// Helpers for opencl.spec.c's expressions, shared by guest and server, plus the server hook the
// generated dispatch calls for deferred read data.
//
// Spec expressions are copied verbatim into generated code on both sides, so everything they call is
// declared here in C. Pure helpers are in spec_helpers.cpp (tested by spec_helpers_test.cpp). Two helpers need to
// know an image's layout and are implemented once per side: the guest answers from what it recorded
// when the image was created (guest/mem_objects.cpp, no round trip), the server asks the vendor
// (server/server_hooks.cpp).
//
// Size helpers return 0 for "nothing to transfer" (a NULL region, a zero extent, an unknown image) and
// SIZE_MAX when the size overflows, which is larger than any cap, so remora refuses the call with the
// API's `invalid` error instead of transferring a wrapped-around size.
#ifndef REMORA_APIS_OPENCL_HOOKS_H
#define REMORA_APIS_OPENCL_HOOKS_H

#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bytes of host memory a rectangular buffer transfer touches, counted from the host pointer: the
// offset of `origin` plus the extent of `region` (region[0] in bytes). A pitch of 0 means tightly
// packed (row = region[0], slice = row * region[1]), as clEnqueue*BufferRect define it.
size_t remora_cl_rect_bytes(const size_t* origin, const size_t* region, size_t row_pitch,
                            size_t slice_pitch);

// Bytes of one pixel of `format` (channel count times channel size, or the packed size). 0 when the
// format is NULL or unknown.
size_t remora_cl_format_element_size(const cl_image_format* format);

// Bytes of host memory an image read/write of `region` (in pixels) touches, given the image's pixel
// size and type. Pitches of 0 mean tightly packed. For 1D image arrays region[1] counts images and
// they are slice_pitch apart (OpenCL 3.0, clEnqueueReadImage).
size_t remora_cl_image_region_bytes(size_t element_size, cl_mem_object_type type,
                                    const size_t* region, size_t row_pitch, size_t slice_pitch);

// Bytes of the host_ptr an image creation reads (COPY_HOST_PTR / USE_HOST_PTR): pitch times rows or
// slices as the descriptor gives them (0 pitches mean tightly packed). 0 when host memory is not read.
size_t remora_cl_image_host_bytes(cl_mem_flags flags, const cl_image_format* format,
                                  const cl_image_desc* desc);
// The deprecated 2D/3D constructors, expressed through the descriptor form.
size_t remora_cl_image2d_host_bytes(cl_mem_flags flags, const cl_image_format* format, size_t width,
                                    size_t height, size_t row_pitch);
size_t remora_cl_image3d_host_bytes(cl_mem_flags flags, const cl_image_format* format, size_t width,
                                    size_t height, size_t depth, size_t row_pitch,
                                    size_t slice_pitch);
// Device memory an image occupies, for quota accounting (an image over a buffer owns none).
size_t remora_cl_image_device_bytes(const cl_image_format* format, const cl_image_desc* desc);
size_t remora_cl_image2d_device_bytes(const cl_image_format* format, size_t width, size_t height);
size_t remora_cl_image3d_device_bytes(const cl_image_format* format, size_t width, size_t height,
                                      size_t depth);

// Bytes of host_ptr a buffer creation reads: `size` when COPY_HOST_PTR or USE_HOST_PTR is set, else 0
// (host_ptr must then be NULL and the vendor reports it if not).
size_t remora_cl_buffer_host_bytes(cl_mem_flags flags, size_t size);

// Bytes of buffer_create_info for clCreateSubBuffer (only CL_BUFFER_CREATE_TYPE_REGION exists).
size_t remora_cl_sub_buffer_info_bytes(cl_buffer_create_type type);

// Elements of a clCreateSubDevices property list including its terminating 0. The list is not
// key/value: CL_DEVICE_PARTITION_BY_COUNTS is followed by counts up to
// CL_DEVICE_PARTITION_BY_COUNTS_LIST_END. Reads at most kRemoraClMaxPartitionProperties entries;
// returns 0 for NULL and SIZE_MAX for a list without a terminator within that bound.
#define REMORA_CL_MAX_PARTITION_PROPERTIES 1024
size_t remora_cl_partition_properties_count(const cl_device_partition_property* properties);

// Bytes of a fill colour for an image of `order`: one float for depth images, four components
// otherwise (OpenCL 3.0, clEnqueueFillImage).
size_t remora_cl_fill_color_bytes_for_order(cl_channel_order order);

// Entries of work-size arrays: work_dim, or 0 when work_dim is out of range (the vendor then reports
// CL_INVALID_WORK_DIMENSION without reading the arrays).
size_t remora_cl_work_dims(cl_uint work_dim);

// What remora_clEnqueueWriteBufferDirect / ReadBufferDirect (opencl.spec.c) return when they did not
// transfer: positive, so never an OpenCL status. UNAVAILABLE: not in this session (no direct access to
// the guest's memory: another host, another uid, TCP); RETRY: not this call (a vendor error, which the
// ordinary call then reports natively, or an unreadable application address).
#define REMORA_CL_DIRECT_UNAVAILABLE 1
#define REMORA_CL_DIRECT_RETRY 2

// Where a shared buffer's storage starts in its region (remora_clCreateBufferShared): not at the page
// boundary but where a native allocator puts a large aligned block (glibc's memalign of a mapped chunk:
// 128 bytes in). An application's own large arrays start a few dozen bytes into a page, and a memcpy
// whose destination sits just below its source modulo 4 KiB loses ~5% to 4K aliasing (measured here:
// 512 MiB copies from page+64 into page+0 at 11.0 GB/s, into page+128 at 11.6). A multiple of every
// device's base-address alignment that PoCL reports (128 bytes).
#define REMORA_CL_SHARED_STORAGE_OFFSET 128

// ---- Side-specific (guest/mem_objects.cpp, server/server_hooks.cpp) ----------------------------------------

// The layout of an image: pixel size, object type and channel order. Returns 0 on success, non-zero
// when `image` is not a known image (the callers then transfer nothing and the API reports the bad
// object). Never blocks on the server in the guest: it is evaluated while a call is being encoded.
int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                           cl_channel_order* order);

// Host bytes of a clEnqueueReadImage/WriteImage region of `image` (see remora_cl_image_region_bytes).
size_t remora_cl_image_transfer_bytes(cl_mem image, const size_t* region, size_t row_pitch,
                                      size_t slice_pitch);
// Bytes of the fill colour for `image`.
size_t remora_cl_fill_color_bytes(cl_mem image);

#ifdef __cplusplus
// ---- Guest side only: the spec's guest annotations (guest/mem_objects.cpp) -------------------------
// REMORA_SEND: the flags the server gets for the application's (CL_MEM_USE_HOST_PTR becomes
// CL_MEM_COPY_HOST_PTR; the guest keeps the application's memory).
cl_mem_flags remora_cl_server_flags(cl_mem_flags flags);
// REMORA_RECORD: a new memory object's guest record (a glue MemRecord), dropped by
// remora_cl_mem_retired.
void* remora_cl_buffer_record(cl_mem_flags flags, void* host_ptr);
void* remora_cl_sub_buffer_record(cl_mem buffer, cl_mem_flags flags, cl_buffer_create_type buffer_create_type,
                                  const void* buffer_create_info);
void* remora_cl_image_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                             const cl_image_desc* image_desc);
void* remora_cl_image2d_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                               size_t image_width, size_t image_height, size_t image_row_pitch);
void* remora_cl_image3d_record(cl_mem_flags flags, void* host_ptr, const cl_image_format* image_format,
                               size_t image_width, size_t image_height, size_t image_depth, size_t image_row_pitch,
                               size_t image_slice_pitch);
void* remora_cl_pipe_record(cl_mem_flags flags);
// REMORA_ANSWER_IF: whether `device` is a live root device (borrowed: not reference counted).
int remora_cl_root_device(cl_device_id device);

}  // extern "C"

#include <memory>

#include "common/host_block.h"

namespace remora::server {
class Session;
}

// Deferred out data (REMORA_DEFERRED): called by the generated server after enqueueing a non-blocking
// read into `data`. Registers a Session::add_deferred op that sends the bytes to the guest under
// `token` once `event` completes (an error status sends none). `release_event`: the server made a
// local event the guest did not ask for, so drop that reference (the op keeps its own).
void remora_opencl_server_defer(remora::server::Session& session, cl_event event, bool release_event,
                                uint64_t token, remora::HostBlock data, uint64_t size);

// The execution status of a vendor event (server glue): CL_COMPLETE (0), a positive state while it
// runs, or negative: the command's error, or a failed query.
cl_int remora_opencl_server_event_status(cl_event event);

// The vendor library the server loads when none is configured: the system's ICD loader.
const char* remora_opencl_default_vendor_library();

// The vendor's implementation of extension function `name`: from the first platform whose
// clGetExtensionFunctionAddressForPlatform has it, or nullptr. Used by the generated vendor loader
// (after the vendor library is loaded) and by remora_clHasExtensionFunction.
void* remora_opencl_server_extension_lookup(const char* name);
#endif  // __cplusplus

#endif  // REMORA_APIS_OPENCL_HOOKS_H
