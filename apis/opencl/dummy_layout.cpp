// The recording dummy vendor library's side of spec_helpers.h: image layouts.
//
// The server sizes image transfers from the vendor's own answers (server/server_hooks.cpp asks
// clGetImageInfo and clGetMemObjectInfo), so the dummy sizes them from its own answers too: both then
// agree on how many bytes a transfer touches, which is what the sanitized fuzz target checks
// (tests/fuzz). The dummy's answers are its fill pattern, so a transfer's size through the dummy is
// whatever that pattern makes of it (usually an overflow, hence 0 bytes).
#include "spec_helpers.h"

extern "C" int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                                      cl_channel_order* order) {
  if (image == nullptr) return -1;
  cl_image_format format{};
  if (clGetImageInfo(image, CL_IMAGE_FORMAT, sizeof(format), &format, nullptr) != CL_SUCCESS ||
      clGetImageInfo(image, CL_IMAGE_ELEMENT_SIZE, sizeof(*element_size), element_size, nullptr) != CL_SUCCESS ||
      clGetMemObjectInfo(image, CL_MEM_TYPE, sizeof(*type), type, nullptr) != CL_SUCCESS)
    return -1;
  *order = format.image_channel_order;
  return 0;
}
