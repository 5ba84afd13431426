// Pure size helpers for opencl.spec.c's expressions (see spec_helpers.h), shared by guest and server.
#include "spec_helpers.h"

#include <cstdint>

namespace {

constexpr size_t kOverflow = SIZE_MAX;

// a * b + c with overflow reported as kOverflow (which every later step keeps).
size_t mul_add(size_t a, size_t b, size_t c) {
  size_t product, sum;
  if (a == kOverflow || b == kOverflow || c == kOverflow) return kOverflow;
  if (__builtin_mul_overflow(a, b, &product) || __builtin_add_overflow(product, c, &sum)) return kOverflow;
  return sum;
}

size_t channel_count(cl_channel_order order) {
  switch (order) {
    case CL_R: case CL_A: case CL_INTENSITY: case CL_LUMINANCE: case CL_DEPTH: case CL_Rx:
      return 1;
    case CL_RG: case CL_RA: case CL_RGx: case CL_DEPTH_STENCIL:
      return 2;
    case CL_RGB: case CL_RGBx: case CL_sRGB: case CL_sRGBx:
      return 3;
    case CL_RGBA: case CL_BGRA: case CL_ARGB: case CL_ABGR: case CL_sRGBA: case CL_sBGRA:
      return 4;
    default:
      return 0;
  }
}

size_t channel_bytes(cl_channel_type type) {
  switch (type) {
    case CL_SNORM_INT8: case CL_UNORM_INT8: case CL_SIGNED_INT8: case CL_UNSIGNED_INT8:
      return 1;
    case CL_SNORM_INT16: case CL_UNORM_INT16: case CL_SIGNED_INT16: case CL_UNSIGNED_INT16:
    case CL_HALF_FLOAT:
      return 2;
    case CL_SIGNED_INT32: case CL_UNSIGNED_INT32: case CL_FLOAT:
      return 4;
    default:
      return 0;
  }
}

// Row and slice pitch of a descriptor, 0 pitches resolved as OpenCL defines them for host memory.
struct Pitches {
  size_t row = 0;
  size_t slice = 0;
};

Pitches desc_pitches(size_t element_size, const cl_image_desc& d) {
  Pitches p;
  p.row = d.image_row_pitch != 0 ? d.image_row_pitch : mul_add(d.image_width, element_size, 0);
  switch (d.image_type) {
    case CL_MEM_OBJECT_IMAGE1D_ARRAY:
      p.slice = d.image_slice_pitch != 0 ? d.image_slice_pitch : p.row;
      break;
    case CL_MEM_OBJECT_IMAGE2D_ARRAY:
    case CL_MEM_OBJECT_IMAGE3D:
      p.slice = d.image_slice_pitch != 0 ? d.image_slice_pitch : mul_add(p.row, d.image_height, 0);
      break;
    default:
      p.slice = 0;
  }
  return p;
}

}  // namespace

extern "C" {

size_t remora_cl_rect_bytes(const size_t* origin, const size_t* region, size_t row_pitch,
                            size_t slice_pitch) {
  if (origin == nullptr || region == nullptr) return 0;
  if (region[0] == 0 || region[1] == 0 || region[2] == 0) return 0;
  const size_t row = row_pitch != 0 ? row_pitch : region[0];
  const size_t slice = slice_pitch != 0 ? slice_pitch : mul_add(row, region[1], 0);
  // Offset of the first byte, then the distance to one past the last byte.
  size_t bytes = mul_add(origin[2], slice, mul_add(origin[1], row, origin[0]));
  bytes = mul_add(region[2] - 1, slice, bytes);
  bytes = mul_add(region[1] - 1, row, bytes);
  return mul_add(1, region[0], bytes);
}

size_t remora_cl_format_element_size(const cl_image_format* format) {
  if (format == nullptr) return 0;
  switch (format->image_channel_data_type) {
    // Packed types: one pixel is one 16- or 32-bit value whatever the order.
    case CL_UNORM_SHORT_565: case CL_UNORM_SHORT_555:
      return 2;
    case CL_UNORM_INT_101010: case CL_UNORM_INT_101010_2: case CL_UNORM_INT24:
      return 4;
    default:
      break;
  }
  return channel_count(format->image_channel_order) * channel_bytes(format->image_channel_data_type);
}

size_t remora_cl_image_region_bytes(size_t element_size, cl_mem_object_type type,
                                    const size_t* region, size_t row_pitch, size_t slice_pitch) {
  if (region == nullptr || element_size == 0) return 0;
  if (region[0] == 0 || region[1] == 0 || region[2] == 0) return 0;
  const size_t row_bytes = mul_add(region[0], element_size, 0);
  const size_t row = row_pitch != 0 ? row_pitch : row_bytes;
  switch (type) {
    case CL_MEM_OBJECT_IMAGE1D:
    case CL_MEM_OBJECT_IMAGE1D_BUFFER:
      return row_bytes;
    case CL_MEM_OBJECT_IMAGE2D:
      return mul_add(region[1] - 1, row, row_bytes);
    case CL_MEM_OBJECT_IMAGE1D_ARRAY: {
      // region[1] counts images, slice_pitch apart.
      const size_t slice = slice_pitch != 0 ? slice_pitch : row;
      return mul_add(region[1] - 1, slice, row_bytes);
    }
    case CL_MEM_OBJECT_IMAGE2D_ARRAY:
    case CL_MEM_OBJECT_IMAGE3D: {
      const size_t slice = slice_pitch != 0 ? slice_pitch : mul_add(row, region[1], 0);
      return mul_add(region[2] - 1, slice, mul_add(region[1] - 1, row, row_bytes));
    }
    default:
      return 0;
  }
}

size_t remora_cl_image_host_bytes(cl_mem_flags flags, const cl_image_format* format,
                                  const cl_image_desc* desc) {
  if ((flags & (CL_MEM_COPY_HOST_PTR | CL_MEM_USE_HOST_PTR)) == 0 || desc == nullptr) return 0;
  const size_t element = remora_cl_format_element_size(format);
  if (element == 0) return 0;
  const Pitches p = desc_pitches(element, *desc);
  switch (desc->image_type) {
    case CL_MEM_OBJECT_IMAGE1D:
    case CL_MEM_OBJECT_IMAGE1D_BUFFER:
      return p.row;
    case CL_MEM_OBJECT_IMAGE2D:
      return mul_add(p.row, desc->image_height, 0);
    case CL_MEM_OBJECT_IMAGE3D:
      return mul_add(p.slice, desc->image_depth, 0);
    case CL_MEM_OBJECT_IMAGE1D_ARRAY:
    case CL_MEM_OBJECT_IMAGE2D_ARRAY:
      return mul_add(p.slice, desc->image_array_size, 0);
    default:
      return 0;
  }
}

size_t remora_cl_image2d_host_bytes(cl_mem_flags flags, const cl_image_format* format, size_t width,
                                    size_t height, size_t row_pitch) {
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE2D;
  d.image_width = width;
  d.image_height = height;
  d.image_row_pitch = row_pitch;
  return remora_cl_image_host_bytes(flags, format, &d);
}

size_t remora_cl_image3d_host_bytes(cl_mem_flags flags, const cl_image_format* format, size_t width,
                                    size_t height, size_t depth, size_t row_pitch,
                                    size_t slice_pitch) {
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE3D;
  d.image_width = width;
  d.image_height = height;
  d.image_depth = depth;
  d.image_row_pitch = row_pitch;
  d.image_slice_pitch = slice_pitch;
  return remora_cl_image_host_bytes(flags, format, &d);
}

size_t remora_cl_image_device_bytes(const cl_image_format* format, const cl_image_desc* desc) {
  if (desc == nullptr) return 0;
  // An image over a buffer (1D image buffer, 2D image from a buffer) uses the buffer's memory.
  if (desc->buffer != nullptr) return 0;
  const size_t element = remora_cl_format_element_size(format);
  size_t bytes = mul_add(desc->image_width, element, 0);
  switch (desc->image_type) {
    case CL_MEM_OBJECT_IMAGE2D:
      return mul_add(bytes, desc->image_height, 0);
    case CL_MEM_OBJECT_IMAGE3D:
      return mul_add(mul_add(bytes, desc->image_height, 0), desc->image_depth, 0);
    case CL_MEM_OBJECT_IMAGE1D_ARRAY:
      return mul_add(bytes, desc->image_array_size, 0);
    case CL_MEM_OBJECT_IMAGE2D_ARRAY:
      return mul_add(mul_add(bytes, desc->image_height, 0), desc->image_array_size, 0);
    default:
      return bytes;
  }
}

size_t remora_cl_image2d_device_bytes(const cl_image_format* format, size_t width, size_t height) {
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE2D;
  d.image_width = width;
  d.image_height = height;
  return remora_cl_image_device_bytes(format, &d);
}

size_t remora_cl_image3d_device_bytes(const cl_image_format* format, size_t width, size_t height,
                                      size_t depth) {
  cl_image_desc d{};
  d.image_type = CL_MEM_OBJECT_IMAGE3D;
  d.image_width = width;
  d.image_height = height;
  d.image_depth = depth;
  return remora_cl_image_device_bytes(format, &d);
}

size_t remora_cl_buffer_host_bytes(cl_mem_flags flags, size_t size) {
  return (flags & (CL_MEM_COPY_HOST_PTR | CL_MEM_USE_HOST_PTR)) != 0 ? size : 0;
}

size_t remora_cl_sub_buffer_info_bytes(cl_buffer_create_type type) {
  return type == CL_BUFFER_CREATE_TYPE_REGION ? sizeof(cl_buffer_region) : 0;
}

size_t remora_cl_partition_properties_count(const cl_device_partition_property* properties) {
  if (properties == nullptr) return 0;
  // Walk the structure rather than stopping at the first 0: inside a BY_COUNTS list a 0 is the
  // LIST_END marker, followed by the list's own terminating 0.
  size_t i = 0;
  while (i < REMORA_CL_MAX_PARTITION_PROPERTIES) {
    const cl_device_partition_property key = properties[i];
    if (key == 0) return i + 1;
    if (key == CL_DEVICE_PARTITION_BY_COUNTS) {
      ++i;
      while (i < REMORA_CL_MAX_PARTITION_PROPERTIES &&
             properties[i] != CL_DEVICE_PARTITION_BY_COUNTS_LIST_END)
        ++i;
      ++i;  // past LIST_END
    } else {
      i += 2;  // key and value (EQUALLY n, BY_AFFINITY_DOMAIN d, or an unknown pair)
    }
  }
  return SIZE_MAX;
}

size_t remora_cl_fill_color_bytes_for_order(cl_channel_order order) {
  return order == CL_DEPTH ? sizeof(cl_float) : 4 * sizeof(cl_uint);
}

size_t remora_cl_work_dims(cl_uint work_dim) { return work_dim >= 1 && work_dim <= 3 ? work_dim : 0; }

size_t remora_cl_image_transfer_bytes(cl_mem image, const size_t* region, size_t row_pitch,
                                      size_t slice_pitch) {
  size_t element = 0;
  cl_mem_object_type type = 0;
  cl_channel_order order = 0;
  if (remora_cl_image_layout(image, &element, &type, &order) != 0) return 0;
  return remora_cl_image_region_bytes(element, type, region, row_pitch, slice_pitch);
}

size_t remora_cl_fill_color_bytes(cl_mem image) {
  size_t element = 0;
  cl_mem_object_type type = 0;
  cl_channel_order order = 0;
  if (remora_cl_image_layout(image, &element, &type, &order) != 0) return 0;
  return remora_cl_fill_color_bytes_for_order(order);
}

}  // extern "C"
