// The recording dummy vendor library's side of hooks.h: image layouts. Dummy images have no real
// format, so every image reads as a 2D RGBA image of 4-byte pixels; tests that size image transfers
// through the dummy use that layout.
#include "hooks.h"

extern "C" int remora_cl_image_layout(cl_mem image, size_t* element_size, cl_mem_object_type* type,
                                      cl_channel_order* order) {
  if (image == nullptr) return -1;
  *element_size = 4;
  *type = CL_MEM_OBJECT_IMAGE2D;
  *order = CL_RGBA;
  return 0;
}
