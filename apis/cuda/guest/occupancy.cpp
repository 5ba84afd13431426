// cuOccupancyMaxPotentialBlockSize: its block-size-to-shared-memory function is the application's code,
// so the search runs here, over the server's cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, the
// way the CUDA runtime's header implements cudaOccupancyMaxPotentialBlockSize: every block size from
// the largest allowed down in warp-size steps, keeping the one with the most resident threads.
#include <algorithm>

#include "guest_glue.h"

namespace {

CUresult potential_block_size(int* min_grid, int* block, CUfunction f, CUoccupancyB2DSize smem_of, size_t smem,
                              int limit, unsigned int flags) {
  if (min_grid == nullptr || block == nullptr || f == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUdevice dev = 0;
  if (CUresult r = remora_remote_cuCtxGetDevice(&dev); r != CUDA_SUCCESS) return r;
  int max_threads_sm = 0, warp = 0, max_block = 0, sms = 0, func_max = 0;
  struct Query {
    int* out;
    CUdevice_attribute attr;
  };
  for (const Query& q : {Query{&max_threads_sm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR},
                         Query{&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE},
                         Query{&max_block, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK},
                         Query{&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT}})
    if (CUresult r = remora_remote_cuDeviceGetAttribute(q.out, q.attr, dev); r != CUDA_SUCCESS) return r;
  if (CUresult r = remora_remote_cuFuncGetAttribute(&func_max, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f);
      r != CUDA_SUCCESS)
    return r;
  if (warp <= 0) return CUDA_ERROR_INVALID_VALUE;
  limit = limit <= 0 ? max_block : std::min(limit, max_block);
  limit = std::min(limit, func_max);
  int best_block = 0, best_blocks = 0, best_threads = 0;
  for (int aligned = (limit + warp - 1) / warp * warp; aligned > 0; aligned -= warp) {
    const int size = std::min(limit, aligned);
    const size_t dynamic = smem_of != nullptr ? smem_of(size) : smem;
    int blocks = 0;
    if (CUresult r = remora_remote_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&blocks, f, size, dynamic, flags);
        r != CUDA_SUCCESS)
      return r;
    if (size * blocks > best_threads) {
      best_block = size;
      best_blocks = blocks;
      best_threads = size * blocks;
    }
    if (best_threads == max_threads_sm) break;  // the SM is full: no smaller block does better
  }
  *min_grid = best_blocks * sms;
  *block = best_block;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" {

CUresult remora_cu_occupancy_max_potential_block_size(int* min_grid, int* block, CUfunction f,
                                                      CUoccupancyB2DSize smem_of, size_t smem, int limit) {
  return potential_block_size(min_grid, block, f, smem_of, smem, limit, CU_OCCUPANCY_DEFAULT);
}

CUresult remora_cu_occupancy_max_potential_block_size_with_flags(int* min_grid, int* block, CUfunction f,
                                                                 CUoccupancyB2DSize smem_of, size_t smem, int limit,
                                                                 unsigned int flags) {
  return potential_block_size(min_grid, block, f, smem_of, smem, limit, flags);
}

}  // extern "C"
