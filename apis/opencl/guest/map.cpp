// clEnqueueMapBuffer / clEnqueueMapImage / clEnqueueUnmapMemObject, implemented in the guest.
//
// A buffer over storage shared with the server (shared_buffers.cpp) maps to that storage: no copy.
// Otherwise the server's memory is not the application's, so a map returns guest memory: a mirror that remora
// allocates, or the application's own host_ptr for a CL_MEM_USE_HOST_PTR object. Mapping for reading
// fills it through a read (blocking or deferred, as the application asked: the data arrives before
// any call that can observe the map's event completing returns); mapping with
// CL_MAP_WRITE_INVALIDATE_REGION reads nothing. Unmapping writes the region back when it was mapped
// for writing, then frees a mirror.
#include <cstdlib>
#include <cstring>

#include "guest_glue.h"

namespace glue = remora::opencl::guest_glue;

namespace {

constexpr size_t kMirrorAlignment = 4096;  // CL_DEVICE_MEM_BASE_ADDR_ALIGN of common devices, and a page

void* alloc_mirror(size_t bytes) {
  const size_t rounded = (bytes + kMirrorAlignment - 1) / kMirrorAlignment * kMirrorAlignment;
  if (rounded < bytes) return nullptr;
  return std::aligned_alloc(kMirrorAlignment, rounded);
}

bool maps_for_read(cl_map_flags flags) { return (flags & CL_MAP_WRITE_INVALIDATE_REGION) == 0; }
bool maps_for_write(cl_map_flags flags) {
  return (flags & (CL_MAP_WRITE | CL_MAP_WRITE_INVALIDATE_REGION)) != 0;
}

// A command that only orders: waits for the wait list and yields the event the application asked for.
cl_int order_only(cl_command_queue queue, cl_bool blocking, cl_uint n, const cl_event* wait,
                  cl_event* event) {
  cl_int err = remora_remote_clEnqueueMarkerWithWaitList(queue, n, wait, event);
  if (err == CL_SUCCESS && blocking && n > 0) err = remora_remote_clWaitForEvents(n, wait);
  return err;
}

void set_errcode(cl_int* errcode_ret, cl_int err) {
  if (errcode_ret != nullptr) *errcode_ret = err;
}

void* record_mapping(glue::MemRecord* r, void* ptr, const glue::Mapping& m) {
  std::lock_guard<std::mutex> lock(r->mu);
  r->maps.emplace(ptr, m);
  return ptr;
}

// Pitches of a tightly packed mirror of `region` of an image.
void mirror_pitches(const glue::MemRecord& r, const size_t* region, size_t* row, size_t* slice) {
  *row = region[0] * r.element_size;
  switch (r.type) {
    case CL_MEM_OBJECT_IMAGE1D_ARRAY: *slice = *row; break;
    case CL_MEM_OBJECT_IMAGE2D_ARRAY:
    case CL_MEM_OBJECT_IMAGE3D: *slice = *row * region[1]; break;
    default: *slice = 0;
  }
}

}  // namespace

extern "C" {

void* remora_cl_enqueue_map_buffer(cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_map,
                                   cl_map_flags map_flags, size_t offset, size_t size,
                                   cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                   cl_event* event, cl_int* errcode_ret) {
  glue::MemRecord* r = glue::mem_record(buffer);
  if (r == nullptr) return set_errcode(errcode_ret, CL_INVALID_MEM_OBJECT), nullptr;
  if (r->is_image) return set_errcode(errcode_ret, CL_INVALID_MEM_OBJECT), nullptr;
  if (size == 0) return set_errcode(errcode_ret, CL_INVALID_VALUE), nullptr;
  glue::Mapping m;
  m.flags = map_flags;
  m.offset = offset;
  m.size = size;
  if (r->shared != nullptr) {
    // Shared storage: the map is the buffer's own memory, as natively on a host-memory device; only
    // the ordering is the server's. Non-blocking: a marker orders it (the application waits for its
    // event, or a later synchronisation, before touching the memory).
    cl_int status = CL_SUCCESS;
    uint8_t* at = nullptr;
    if (blocking_map) {
      at = glue::shared_access(command_queue, buffer, *r, offset, size, /*blocking=*/true, num_events_in_wait_list,
                               event_wait_list, "clEnqueueMapBuffer", &status);
      // The event the application asked for: a marker behind what the access waited for.
      if (at != nullptr && event != nullptr) {
        const cl_int err = remora_remote_clEnqueueMarkerWithWaitList(command_queue, 0, nullptr, event);
        if (err != CL_SUCCESS) return set_errcode(errcode_ret, err), nullptr;
      }
    } else if ((at = glue::shared_range(*r, offset, size)) != nullptr) {
      status = remora_remote_clEnqueueMarkerWithWaitList(command_queue, num_events_in_wait_list, event_wait_list, event);
      if (status != CL_SUCCESS) return set_errcode(errcode_ret, status), nullptr;
    }
    if (at != nullptr) {
      m.shared = true;
      set_errcode(errcode_ret, status);
      return record_mapping(r, at, m);
    }
  }
  void* ptr;
  if (r->host_ptr != nullptr) {
    ptr = static_cast<char*>(r->host_ptr) + offset;
  } else {
    ptr = alloc_mirror(size);
    if (ptr == nullptr) return set_errcode(errcode_ret, CL_OUT_OF_HOST_MEMORY), nullptr;
    m.owns_mirror = true;
  }
  const cl_int err =
      maps_for_read(map_flags)
          ? remora_cl_enqueue_read_buffer(command_queue, buffer, blocking_map, offset, size, ptr,
                                          num_events_in_wait_list, event_wait_list, event)
          : order_only(command_queue, blocking_map, num_events_in_wait_list, event_wait_list, event);
  if (err != CL_SUCCESS) {
    if (m.owns_mirror) std::free(ptr);
    return set_errcode(errcode_ret, err), nullptr;
  }
  set_errcode(errcode_ret, CL_SUCCESS);
  return record_mapping(r, ptr, m);
}

void* remora_cl_enqueue_map_image(cl_command_queue command_queue, cl_mem image, cl_bool blocking_map,
                                  cl_map_flags map_flags, const size_t* origin, const size_t* region,
                                  size_t* image_row_pitch, size_t* image_slice_pitch,
                                  cl_uint num_events_in_wait_list, const cl_event* event_wait_list,
                                  cl_event* event, cl_int* errcode_ret) {
  glue::MemRecord* r = glue::mem_record(image);
  if (r == nullptr || !r->is_image || r->element_size == 0)
    return set_errcode(errcode_ret, CL_INVALID_MEM_OBJECT), nullptr;
  if (origin == nullptr || region == nullptr || image_row_pitch == nullptr)
    return set_errcode(errcode_ret, CL_INVALID_VALUE), nullptr;
  glue::Mapping m;
  m.flags = map_flags;
  std::memcpy(m.origin, origin, sizeof(m.origin));
  std::memcpy(m.region, region, sizeof(m.region));
  void* ptr;
  if (r->host_ptr != nullptr) {
    // The application's image memory at `origin`, with its own pitches.
    m.row_pitch = r->host_row_pitch;
    m.slice_pitch = r->host_slice_pitch;
    const size_t layer = r->type == CL_MEM_OBJECT_IMAGE1D_ARRAY ? origin[1] : origin[2];
    const size_t row = r->type == CL_MEM_OBJECT_IMAGE1D_ARRAY ? 0 : origin[1];
    ptr = static_cast<char*>(r->host_ptr) + layer * m.slice_pitch + row * m.row_pitch +
          origin[0] * r->element_size;
  } else {
    mirror_pitches(*r, region, &m.row_pitch, &m.slice_pitch);
    const size_t bytes =
        remora_cl_image_region_bytes(r->element_size, r->type, region, m.row_pitch, m.slice_pitch);
    if (bytes == 0 || bytes == SIZE_MAX) return set_errcode(errcode_ret, CL_INVALID_VALUE), nullptr;
    ptr = alloc_mirror(bytes);
    if (ptr == nullptr) return set_errcode(errcode_ret, CL_OUT_OF_HOST_MEMORY), nullptr;
    m.owns_mirror = true;
  }
  const cl_int err =
      maps_for_read(map_flags)
          ? remora_remote_clEnqueueReadImage(command_queue, image, blocking_map, origin, region,
                                             m.row_pitch, m.slice_pitch, ptr, num_events_in_wait_list,
                                             event_wait_list, event)
          : order_only(command_queue, blocking_map, num_events_in_wait_list, event_wait_list, event);
  if (err != CL_SUCCESS) {
    if (m.owns_mirror) std::free(ptr);
    return set_errcode(errcode_ret, err), nullptr;
  }
  *image_row_pitch = m.row_pitch;
  if (image_slice_pitch != nullptr) *image_slice_pitch = m.slice_pitch;
  set_errcode(errcode_ret, CL_SUCCESS);
  return record_mapping(r, ptr, m);
}

cl_int remora_cl_enqueue_unmap_mem_object(cl_command_queue command_queue, cl_mem memobj,
                                          void* mapped_ptr, cl_uint num_events_in_wait_list,
                                          const cl_event* event_wait_list, cl_event* event) {
  glue::MemRecord* r = glue::mem_record(memobj);
  if (r == nullptr) return CL_INVALID_MEM_OBJECT;
  glue::Mapping m;
  {
    std::lock_guard<std::mutex> lock(r->mu);
    auto it = r->maps.find(mapped_ptr);
    if (it == r->maps.end()) return CL_INVALID_VALUE;
    m = it->second;
    r->maps.erase(it);
  }
  cl_int err;
  if (maps_for_write(m.flags) && !m.shared) {
    // Non-blocking: the write is queued with the mirror by reference; flushing the batch below hands
    // the bytes to the transport, after which the mirror may go.
    err = r->is_image
              ? remora_remote_clEnqueueWriteImage(command_queue, memobj, CL_FALSE, m.origin, m.region,
                                                  m.row_pitch, m.slice_pitch, mapped_ptr,
                                                  num_events_in_wait_list, event_wait_list, event)
              : remora_remote_clEnqueueWriteBuffer(command_queue, memobj, CL_FALSE, m.offset, m.size,
                                                   mapped_ptr, num_events_in_wait_list,
                                                   event_wait_list, event);
    if (err == CL_SUCCESS && !remora_opencl_runtime().flush().ok()) err = CL_DEVICE_NOT_AVAILABLE;
  } else {
    err = order_only(command_queue, CL_FALSE, num_events_in_wait_list, event_wait_list, event);
  }
  if (err != CL_SUCCESS) {
    // Still mapped: the application may retry.
    std::lock_guard<std::mutex> lock(r->mu);
    r->maps.emplace(mapped_ptr, m);
    return err;
  }
  if (m.owns_mirror) std::free(mapped_ptr);
  return CL_SUCCESS;
}

}  // extern "C"
