// remora's shared host regions in the CUDA spec (cuda.spec.c remora_cuHostRegion*, remora_cuMemcpy*Region).
// A header of its own with a unique name: generated headers include it by name from every program
// that links several APIs' server glue, where a plain "spec_helpers.h" could be another API's.
#ifndef REMORA_APIS_CUDA_HOST_REGION_H
#define REMORA_APIS_CUDA_HOST_REGION_H

// A shared, page-locked host region (remora_cuHostRegionCreate). Opaque: the server's glue defines
// the struct; the guest holds it as a handle.
typedef struct remora_cu_host_region_st* remora_cu_host_region;

// How remora_cuMemcpyHtoDRegion/DtoHRegion run the copy.
#define REMORA_CU_COPY_SYNC 0        // cuMemcpyHtoD/DtoH: done when the call returns
#define REMORA_CU_COPY_ASYNC 1       // cuMemcpy*Async on the stream
#define REMORA_CU_COPY_ASYNC_WAIT 2  // cuMemcpy*Async on the stream, then cuStreamSynchronize
#define REMORA_CU_COPY_WAIT_ASYNC 3  // cuStreamSynchronize, then cuMemcpy*Async on the stream (a
                                     // pipelined chunk: the chunks before it are done on return)

#endif  // REMORA_APIS_CUDA_HOST_REGION_H
