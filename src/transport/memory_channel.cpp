#include "transport/memory_channel.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

namespace remora::transport {
namespace {

// One direction: a queue of whole messages.
struct Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<uint8_t>> queue;
  bool closed = false;
};

class MemoryChannel final : public Channel {
 public:
  MemoryChannel(std::shared_ptr<Pipe> tx, std::shared_ptr<Pipe> rx) : tx_(std::move(tx)), rx_(std::move(rx)) {}
  ~MemoryChannel() override { close(); }

  Status send(std::span<const wire::Segment> segments) override {
    std::vector<uint8_t> msg;
    for (const auto& s : segments) msg.insert(msg.end(), s.data, s.data + s.size);
    std::lock_guard lock(tx_->mu);
    if (tx_->closed) return Status(Code::kClosed, "peer closed");
    tx_->queue.push_back(std::move(msg));
    tx_->cv.notify_all();
    return Status::Ok();
  }

  Status receive(Message* out, Deadline deadline) override {
    std::unique_lock lock(rx_->mu);
    if (!rx_->cv.wait_until(lock, deadline, [&] { return !rx_->queue.empty() || rx_->closed; }))
      return Status(Code::kTimeout, "no message before the deadline");
    if (rx_->queue.empty()) return Status(Code::kClosed, "peer closed");
    std::vector<uint8_t> msg = std::move(rx_->queue.front());
    rx_->queue.pop_front();
    uint8_t* dst = out->own(msg.size());
    if (!msg.empty()) std::memcpy(dst, msg.data(), msg.size());  // an empty message has no data pointer
    return Status::Ok();
  }

  void close() override {
    for (Pipe* p : {tx_.get(), rx_.get()}) {
      std::lock_guard lock(p->mu);
      p->closed = true;
      p->cv.notify_all();
    }
  }

  size_t max_message_size() const override { return size_t{1} << 32; }
  const char* kind() const override { return "memory"; }

 private:
  std::shared_ptr<Pipe> tx_, rx_;
};

}  // namespace

std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>> make_memory_channel_pair() {
  auto a_to_b = std::make_shared<Pipe>();
  auto b_to_a = std::make_shared<Pipe>();
  return {std::make_unique<MemoryChannel>(a_to_b, b_to_a), std::make_unique<MemoryChannel>(b_to_a, a_to_b)};
}

void make_memory_connection(Connection* guest, Connection* server) {
  auto [gc, sc] = make_memory_channel_pair();
  auto [ge, se] = make_memory_channel_pair();
  guest->calls = std::move(gc);
  guest->events = std::move(ge);
  guest->peer = "memory";
  server->calls = std::move(sc);
  server->events = std::move(se);
  server->peer = "memory";
}

}  // namespace remora::transport
