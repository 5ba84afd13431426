// Fuzz targets opencl_session_fuzz and cuda_session_fuzz (one source, tests/fuzz/CMakeLists.txt): the
// server's decoding and dispatch of every opcode of one API (REMORA_FUZZ_API, whose generated server is
// REMORA_FUZZ_SERVER_HEADER), end to end through a real Session (server/session.h) over an in-memory
// connection, with that API's recording dummy vendor library (REMORA_FUZZ_DUMMY_LIBRARY) as the
// "device". Each input is one guest session:
//
//   byte 0 even: a recorded session: [u32 length][message bytes]... as SessionOptions::record_dir
//                writes them (the seed corpus is made so, tests/fuzz/README.md);
//   byte 0 odd:  one synchronous call: u16 opcode, u8 flags (kCallConcurrent), then the arguments.
//                The harness frames them as a one-call Batch, so every dispatch function is a few
//                bytes away whatever the corpus holds.
//
// The harness then says Goodbye and runs the session to its end, which also releases every object
// the "guest" still held: leaks in that path are findings too. The dummy vendor never frees its own
// objects by design (lsan.supp).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/protocol.h"
#include REMORA_FUZZ_SERVER_HEADER
#include "server/session.h"
#include "transport/memory_channel.h"

namespace {

using namespace remora;

void send(transport::Channel& ch, const uint8_t* data, size_t size) {
  const wire::Segment seg{data, size};
  (void)ch.send(std::span<const wire::Segment>(&seg, 1));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("REMORA_LOG", "error", 0);
  std::string error;
  if (!REMORA_FUZZ_API::server_api().load_vendor(REMORA_FUZZ_DUMMY_LIBRARY, &error)) {
    std::fprintf(stderr, "cannot load the dummy vendor library %s: %s\n", REMORA_FUZZ_DUMMY_LIBRARY, error.c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  transport::Connection guest, server;
  transport::make_memory_connection(&guest, &server);

  if (data[0] % 2 == 0) {
    size_t at = 1;
    while (size - at >= 4) {
      uint32_t len;
      std::memcpy(&len, data + at, 4);
      at += 4;
      len = static_cast<uint32_t>(std::min<size_t>(len, size - at));
      send(*guest.calls, data + at, len);
      at += len;
    }
  } else {
    if (size < 4) return 0;
    uint16_t opcode;
    std::memcpy(&opcode, data + 1, 2);
    const uint32_t flags = protocol::kCallSync | (data[3] & protocol::kCallConcurrent);
    const size_t args = size - 4;
    wire::Writer w;
    w.put(protocol::MessageHeader{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kBatch), 0, 0, 1});
    w.put(protocol::CallHeader{opcode, flags, wire::pad8(args)});
    std::vector<uint8_t> msg = w.flatten();
    msg.resize(msg.size() + wire::pad8(args));
    std::memcpy(msg.data() + msg.size() - wire::pad8(args), data + 4, args);
    send(*guest.calls, msg.data(), msg.size());
  }
  const protocol::MessageHeader bye{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kGoodbye), 0, 0, 0};
  send(*guest.calls, reinterpret_cast<const uint8_t*>(&bye), sizeof bye);

  server::SessionOptions options;
  // Small, unlike a real server's 8 GiB: the dummy vendor never frees the objects it makes (one per
  // entry of an out-handle array) and libFuzzer runs in 2 GiB. Large out-parameters are only zeroed
  // memory, so little coverage is lost.
  options.max_scratch_bytes = 16 << 10;
  {
    server::Session session(REMORA_FUZZ_API::server_api(), std::move(server), options);
    (void)session.run();
  }
  return 0;
}
