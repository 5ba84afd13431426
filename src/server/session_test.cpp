// Session behaviour that does not need a real API: a one-function fake ApiServer.
#include "server/session.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace remora::server {
namespace {

using protocol::CallHeader;
using protocol::MessageHeader;
using protocol::MessageType;

// A calls channel whose first message is lent from a buffer that stands for the shm bulk area: the
// "guest" can write it at any time, which the test does in the middle of a call (scribble()).
class SharedAreaChannel final : public transport::Channel, public transport::Lender {
 public:
  explicit SharedAreaChannel(std::vector<uint8_t> first) : area_((first.size() + 7) / 8), size_(first.size()) {
    std::memcpy(area_.data(), first.data(), first.size());
  }
  Status send(std::span<const wire::Segment> segments) override {
    std::vector<uint8_t> m;
    for (const auto& s : segments) m.insert(m.end(), s.data, s.data + s.size);
    sent.push_back(std::move(m));
    return Status::Ok();
  }
  Status receive(transport::Message* out, transport::Deadline) override {
    if (received_++ == 0) {
      out->lend(reinterpret_cast<const uint8_t*>(area_.data()), size_, this, 1);
      return Status::Ok();
    }
    const MessageHeader bye{protocol::kMagic, static_cast<uint16_t>(MessageType::kGoodbye), 0, 0, 0};
    std::memcpy(out->own(sizeof bye), &bye, sizeof bye);
    return Status::Ok();
  }
  void close() override {}
  size_t max_message_size() const override { return 1 << 20; }
  const char* kind() const override { return "shared-area"; }
  void give_back(uint64_t) override { ++given_back; }

  // The guest rewrites the whole area (e.g. the arguments of its next message).
  void scribble() { std::memset(area_.data(), 0xee, size_); }

  std::vector<std::vector<uint8_t>> sent;
  int given_back = 0;

 private:
  std::vector<uint64_t> area_;
  size_t size_;
  int received_ = 0;
};

SharedAreaChannel* g_channel = nullptr;  // for the fake dispatch function below (test only)

// Opcode 1: the guest writes the shared area mid-call, then the call decodes its argument.
void dispatch_echo(Call& c) {
  g_channel->scribble();
  const uint64_t v = c.args.get_u64();
  if (!c.args.ok()) return c.malformed(c.args.why());
  c.reply.put_u64(v);
}

TEST(Session, ALentMessageIsDecodedFromAPrivateCopy) {
  wire::Writer w;
  w.put(MessageHeader{protocol::kMagic, static_cast<uint16_t>(MessageType::kBatch), 0, 3, 1});
  w.put(CallHeader{1, protocol::kCallSync, 8});
  w.put_u64(0x1111222233334444ull);
  auto channel = std::make_unique<SharedAreaChannel>(w.flatten());
  SharedAreaChannel* ch = channel.get();
  g_channel = ch;

  static const DispatchFn dispatch[] = {nullptr, &dispatch_echo};
  static const char* const names[] = {"none", "echo"};
  static const HandleTypeInfo types[] = {{"none", nullptr}};
  const ApiServer api{"fake", {}, 2, dispatch, names, 0, types, nullptr};
  transport::Connection conn;
  conn.calls = std::move(channel);
  Session session(api, std::move(conn), SessionOptions{});
  EXPECT_TRUE(session.run().ok());
  ASSERT_EQ(ch->sent.size(), 1u);
  const std::vector<uint8_t>& reply = ch->sent[0];
  ASSERT_EQ(reply.size(), sizeof(MessageHeader) + sizeof(protocol::ReplyHeader) + 8);
  uint64_t echoed = 0;
  std::memcpy(&echoed, reply.data() + reply.size() - 8, 8);
  EXPECT_EQ(echoed, 0x1111222233334444ull) << "the call read what the guest wrote after the message was sent";
  EXPECT_EQ(ch->given_back, 1);
  g_channel = nullptr;
}

// A once callback slot is freed exactly once whatever the order of its callback and the end of the
// call that registered it, including a vendor that calls back inside a call that then fails (PoCL's
// clLinkProgram). Double frees and leaks are the findings of the ASan run (make test-asan).
TEST(Session, OnceCallbackSlotsAreFreedOnceInEveryOrder) {
  static const DispatchFn dispatch[] = {nullptr};
  static const char* const names[] = {"none"};
  static const HandleTypeInfo types[] = {{"none", nullptr}};
  const ApiServer api{"fake", {}, 1, dispatch, names, 0, types, nullptr};
  transport::Connection conn;
  conn.calls = std::make_unique<SharedAreaChannel>(std::vector<uint8_t>(8, 0));  // never run
  Session session(api, std::move(conn), SessionOptions{});
  for (const bool fired_first : {true, false}) {
    for (const bool call_ok : {true, false}) {
      CallbackSlot* slot = session.new_callback_slot(7, /*once=*/true);
      ASSERT_TRUE(slot->once);
      EXPECT_EQ(slot->holds.load(), 2);
      if (fired_first) session.callback_fired(slot);
      session.callback_call_done(slot, call_ok);
      // A failed call's vendor never calls back afterwards; only a kept registration still can.
      if (!fired_first && call_ok) session.callback_fired(slot);
    }
  }
  // A many slot stays with the session whatever happens (freed when the session goes).
  CallbackSlot* many = session.new_callback_slot(8, /*once=*/false);
  session.callback_call_done(many, false);
  session.callback_fired(many);
  EXPECT_EQ(many->callback_id, 8u);
}

}  // namespace
}  // namespace remora::server
