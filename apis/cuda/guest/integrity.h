// The answer to the CUDA runtime's driver "integrity check" (export table d4082055, entry 1; see
// docs/cuda-export-tables.md).
//
// A CUDA runtime (cudart, and every NVIDIA library carrying one) hands the driver a version and the
// current time and compares the 16 bytes the driver writes back with what it computes itself: an
// HMAC over MD2 (RFC 2104 over RFC 1319, 16-byte blocks) with a fixed key, of values both sides know:
// the driver version the runtime was told, the version it passed, the process and thread ids, the
// addresses of two of the driver's export tables and of the check function itself, the time, and per
// device its UUID and PCI domain, bus and device ids. For versions ending in 0 or 1 the answer is a
// constant. The facts (layout, key, constants) were established by ZLUDA (vosen/ZLUDA,
// zluda/src/impl/driver.rs and dark_api/src/lib.rs); this implementation is remora's own.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace remora::cuda::guest_glue {

// MD2 (RFC 1319, with its published correction to the checksum step).
class Md2 {
 public:
  void update(const void* data, size_t n);
  // The 16-byte digest; the object is spent afterwards.
  void finish(uint8_t out[16]);

 private:
  void block();
  uint8_t state_[48] = {};
  uint8_t checksum_[16] = {};
  uint8_t buffer_[16] = {};
  size_t count_ = 0;  // bytes in buffer_
};

// HMAC (RFC 2104) over MD2, whose block is 16 bytes; `key` is at most one block.
void hmac_md2(const uint8_t key[16], const void* message, size_t n, uint8_t out[16]);

struct IntegrityDevice {
  CUuuid uuid;
  int32_t pci_domain;
  int32_t pci_bus;
  int32_t pci_device;
};

struct IntegrityInputs {
  uint32_t driver_version;  // what cuDriverGetVersion told the runtime
  uint32_t version;         // the check's first argument
  uint32_t pid;
  uint32_t tid;             // the low 32 bits of the calling thread's pthread_self()
  const void* cudart_table;     // export table 6bd5fb6c
  const void* integrity_table;  // export table d4082055
  const void* check_function;   // its entry 1
  uint64_t unix_seconds;        // the check's second argument
  std::vector<IntegrityDevice> devices;  // in device order
};

// The 16 bytes the check writes (as two u64, in memory order).
void integrity_answer(const IntegrityInputs& in, uint64_t out[2]);

}  // namespace remora::cuda::guest_glue
