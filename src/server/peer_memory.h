// Direct access to the guest process's memory, for large transfers when guest and server share a host.
//
// A blocking write or read through shared memory costs two copies (application memory <-> the shm bulk
// area <-> the device buffer) where the application natively pays one. When the guest is a process on
// this host that the server may trace (same uid, and under Yama ptrace_scope=1 the guest named the
// server with PR_SET_PTRACER), process_vm_readv/process_vm_writev move the data between the
// application's memory and a mapped device buffer in one copy (apis/opencl/server/direct.cpp).
//
// Whose memory: only the process at the other end of the session's unix socket (SO_PEERCRED, taken by
// the kernel at connect time: the guest cannot name another pid), and only when the call names that
// same pid (a forked child that inherited the connection gets the ordinary path). A pidfd opened at
// session start tells whether that process is still the one alive under the pid: once it has exited,
// nothing more is read or written, so a recycled pid is never touched. Which addresses: the ones the
// guest named, for the length the vendor accepted for the device buffer (never a guest length alone).
// A guest can thus make the server read or write only its own memory, which a process of the same uid
// could do to itself anyway. See SECURITY.md, "Direct transfers".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace remora::server {

class PeerMemory {
 public:
  enum class Result {
    kDone,         // all bytes copied
    kUnavailable,  // not for this session (no pid, no permission, the guest is gone): use the ordinary path
    kFault,        // part of the guest's range is not mapped (or not writable): this call only
  };

  // `pid` 0 (unknown: TCP, in-process tests without a socket) makes every request kUnavailable.
  explicit PeerMemory(pid_t pid);
  ~PeerMemory();
  PeerMemory(const PeerMemory&) = delete;
  PeerMemory& operator=(const PeerMemory&) = delete;

  // False once a request found direct access impossible for this session (detected once).
  bool available() const { return available_.load(std::memory_order_relaxed); }
  // Whether a call that names guest process `pid` may use direct access.
  bool usable_for(int64_t pid) const { return available() && pid == pid_; }

  // Copies `size` bytes from the guest's `address` into `local` / from `local` to the guest's
  // `address`. A failure may leave part of the destination written.
  Result read(uint64_t address, void* local, size_t size);
  Result write(uint64_t address, const void* local, size_t size);

 private:
  Result transfer(uint64_t address, void* local, size_t size, bool to_guest);
  bool peer_alive() const;

  const pid_t pid_;
  int pidfd_ = -1;
  std::atomic<bool> available_;
};

}  // namespace remora::server
