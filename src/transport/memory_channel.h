// An in-process channel pair, for tests of the layers above transports (guest runtime, server
// session) without sockets or shared memory. Same semantics as the real backends: whole messages,
// in order, kClosed after either side closes, deadlines honoured.
#pragma once

#include <memory>
#include <utility>

#include "transport/channel.h"

namespace remora::transport {

// Two connected ends: what one sends, the other receives.
std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>> make_memory_channel_pair();

// A guest-side and a server-side Connection joined in memory.
void make_memory_connection(Connection* guest, Connection* server);

}  // namespace remora::transport
