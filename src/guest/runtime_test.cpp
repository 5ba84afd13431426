// The guest runtime and the server session together, over an in-memory connection, with a tiny
// hand-written "API" so the runtime's behaviour is tested apart from any generated code.
#include "guest/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/session.h"
#include "transport/memory_channel.h"

namespace remora {
namespace {

using namespace std::chrono_literals;

enum : uint32_t {
  kOpAdd = 1,         // sync: u64 a, u64 b -> u64 a+b
  kOpIncrement = 2,   // async: u64 by
  kOpGetCounter = 3,  // sync: -> u64
  kOpFailAsync = 4,   // async: fails with -5
  kOpSleep = 5,       // sync, blocking: u64 ms
  kOpCreate = 6,      // sync: -> u64 id of a new handle of type 1
  kOpUse = 7,         // sync: u64 id -> i32 (0 ok, -1 bad handle)
  kOpCallback = 8,    // sync: u64 callback id, u64 value -> fires the callback with value
  kOpDeferred = 9,    // sync: u64 token, u64 value -> later sends 8 bytes of value as deferred data
  kOpRelease = 10,    // sync: u64 id -> i32
  kNumOps = 11,
};

std::atomic<uint64_t> g_counter{0};
int g_objects[4];

void op_add(server::Call& c) {
  const uint64_t a = c.args.get_u64(), b = c.args.get_u64();
  if (!c.args.ok()) return c.malformed(c.args.why());
  c.reply.put_u64(a + b);
}
void op_increment(server::Call& c) {
  const uint64_t by = c.args.get_u64();
  if (!c.args.ok()) return c.malformed(c.args.why());
  g_counter += by;
}
void op_get_counter(server::Call& c) { c.reply.put_u64(g_counter.load()); }
void op_fail_async(server::Call& c) { c.async_failed(-5); }
void op_sleep(server::Call& c) {
  const uint64_t ms = c.args.get_u64();
  c.about_to_block();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  c.reply.put_u64(ms);
}
void op_create(server::Call& c) {
  static int next = 0;
  c.reply.put_u64(c.session.handles().insert_new(1, &g_objects[next++ % 4]));
}
void op_use(server::Call& c) {
  void* real = c.handle(c.args.get_u64(), 1);
  c.reply.put<int32_t>(real != nullptr ? 0 : -1);
}
void op_release(server::Call& c) {
  c.reply.put<int32_t>(c.session.release_handle(c.args.get_u64()) ? 0 : -1);
}
void op_callback(server::Call& c) {
  const uint64_t id = c.args.get_u64(), value = c.args.get_u64();
  std::thread([&s = c.session, id, value] {
    wire::Writer w;
    w.put_u64(value);
    (void)s.send_callback(id, w);
  }).detach();
  c.reply.put_u64(0);
}
void op_deferred(server::Call& c) {
  auto op = std::make_shared<server::DeferredOp>();
  op->token = c.args.get_u64();
  const uint64_t value = c.args.get_u64();
  op->data = acquire_host_block(8);
  std::memcpy(op->data.get(), &value, 8);
  op->size = 8;
  op->poll = [] { return 0; };  // already complete: must be sent before this very reply
  c.session.add_deferred(op);
  c.reply.put_u64(0);
}

const server::DispatchFn kDispatch[kNumOps] = {nullptr,     op_add,      op_increment, op_get_counter,
                                               op_fail_async, op_sleep,  op_create,    op_use,
                                               op_callback, op_deferred, op_release};
const char* const kNames[kNumOps] = {"",      "add",    "increment", "get_counter", "fail_async", "sleep",
                                     "create", "use",   "callback",  "deferred",    "release"};
int g_released = 0;
const server::HandleTypeInfo kTypes[2] = {{"", nullptr}, {"thing", [](void*) { ++g_released; }}};
// No handshake here (Runtime::adopt, Session without one): every opcode is served; no signatures needed.
const server::ApiServer kServerApi = {"test", {}, kNumOps, kDispatch, kNames, 1, kTypes, nullptr};
const guest::ApiDescriptor kGuestApi = {"test", {}, kNumOps, kNames};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_counter = 0;
    g_released = 0;
    transport::Connection g, s;
    transport::make_memory_connection(&g, &s);
    session_ = std::make_unique<server::Session>(kServerApi, std::move(s), server::SessionOptions{});
    server_thread_ = std::thread([this] { end_ = session_->run(); });
    rt_ = std::make_unique<guest::Runtime>(kGuestApi, nullptr);
    ASSERT_TRUE(rt_->adopt(std::move(g)).ok());
  }
  void TearDown() override {
    rt_.reset();  // says goodbye
    server_thread_.join();
  }

  uint64_t add(uint64_t a, uint64_t b) {
    auto& w = rt_->begin_call();
    w.put_u64(a);
    w.put_u64(b);
    guest::Reply reply;
    EXPECT_TRUE(rt_->end_sync(kOpAdd, &reply).ok());
    return reply.body.get_u64();
  }
  uint64_t sync_u64(uint32_t op, std::initializer_list<uint64_t> args) {
    auto& w = rt_->begin_call();
    for (uint64_t a : args) w.put_u64(a);
    guest::Reply reply;
    const Status st = rt_->end_sync(op, &reply);
    EXPECT_TRUE(st.ok()) << st.str();
    return reply.body.get_u64();
  }

  std::unique_ptr<server::Session> session_;
  std::thread server_thread_;
  Status end_;
  std::unique_ptr<guest::Runtime> rt_;
};

TEST_F(RuntimeTest, SyncRoundTrip) {
  EXPECT_EQ(add(2, 3), 5u);
  EXPECT_EQ(add(1ull << 40, 7), (1ull << 40) + 7);
}

TEST_F(RuntimeTest, AsyncCallsAreOrderedBeforeTheNextSyncCall) {
  for (int i = 0; i < 100000; ++i) {
    rt_->begin_call().put_u64(1);
    ASSERT_TRUE(rt_->end_async(kOpIncrement).ok());
  }
  EXPECT_EQ(sync_u64(kOpGetCounter, {}), 100000u);
}

// begin_call(true): encoded straight into the batch (under its lock), several threads at once, mixed
// with copied ones and with synchronous calls that send the batch; full batches go out on their own
// (REMORA_BATCH_BYTES' default, 64 KiB, is about 2000 of these calls).
TEST_F(RuntimeTest, AsyncCallsEncodedInPlaceFromManyThreadsAllRun) {
  constexpr int kThreads = 4, kCalls = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const bool in_place = (i + t) % 3 != 0;
        rt_->begin_call(in_place).put_u64(1);
        ASSERT_TRUE(rt_->end_async(kOpIncrement).ok());
        if (i % 5000 == 4999) {
          ASSERT_EQ(add(i, 1), uint64_t(i) + 1);
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(sync_u64(kOpGetCounter, {}), uint64_t{kThreads} * kCalls);
}

TEST_F(RuntimeTest, AsyncCallInPlaceIsFlushedByTheTimer) {
  rt_->begin_call(true).put_u64(3);
  ASSERT_TRUE(rt_->end_async(kOpIncrement).ok());
  for (int i = 0; i < 200 && g_counter.load() != 3; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(g_counter.load(), 3u);
}

TEST_F(RuntimeTest, AsyncCallsAreFlushedByTheTimerWithoutASyncCall) {
  rt_->begin_call().put_u64(7);
  ASSERT_TRUE(rt_->end_async(kOpIncrement).ok());
  for (int i = 0; i < 200 && g_counter.load() != 7; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(g_counter.load(), 7u);
}

TEST_F(RuntimeTest, AsyncFailureIsReportedOnceAtTheNextSync) {
  rt_->begin_call();
  ASSERT_TRUE(rt_->end_async(kOpFailAsync).ok());
  EXPECT_EQ(add(1, 1), 2u);
  uint32_t op = 0;
  int64_t value = 0;
  ASSERT_TRUE(rt_->take_async_error(&op, &value));
  EXPECT_EQ(op, kOpFailAsync);
  EXPECT_EQ(value, -5);
  EXPECT_FALSE(rt_->take_async_error(&op, &value));
}

TEST_F(RuntimeTest, ManyThreadsGetTheirOwnReplies) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 2000; ++i)
        if (add(i, t * 1000000ull) != i + t * 1000000ull) ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(RuntimeTest, ABlockingCallDoesNotHoldUpOtherThreads) {
  // Make the runtime see two threads, so calls carry the concurrent flag.
  add(0, 0);
  std::thread([&] { add(0, 0); }).join();
  std::atomic<bool> sleeper_done{false};
  std::thread sleeper([&] {
    sync_u64(kOpSleep, {1500});
    sleeper_done = true;
  });
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(add(i, 1), uint64_t(i) + 1);
  // Ordering, not timing: all 100 calls finished while the 1.5 s call was still blocked.
  EXPECT_FALSE(sleeper_done.load());
  sleeper.join();
}

TEST_F(RuntimeTest, HandlesAreTypeCheckedAndReleased) {
  const uint64_t id = sync_u64(kOpCreate, {});
  EXPECT_NE(id, 0u);
  EXPECT_EQ(static_cast<int32_t>(sync_u64(kOpUse, {id})), 0);
  EXPECT_EQ(static_cast<int32_t>(sync_u64(kOpUse, {id + 1000})), -1);  // forged
  EXPECT_EQ(static_cast<int32_t>(sync_u64(kOpRelease, {id})), 0);
  EXPECT_EQ(static_cast<int32_t>(sync_u64(kOpUse, {id})), -1);  // released
}

TEST_F(RuntimeTest, SessionEndReleasesWhatTheGuestHeld) {
  sync_u64(kOpCreate, {});
  sync_u64(kOpCreate, {});
  rt_.reset();
  server_thread_.join();
  EXPECT_EQ(g_released, 2);
  server_thread_ = std::thread([] {});
}

struct CallbackRecord {
  std::atomic<uint64_t> value{0};
  void* user_data = nullptr;
};
void invoke_record(guest::Runtime&, void* fn, void* user_data, wire::Reader& args) {
  auto* rec = static_cast<CallbackRecord*>(fn);
  rec->user_data = user_data;
  rec->value = args.get_u64();
}

TEST_F(RuntimeTest, CallbacksRunWithTheApplicationsUserData) {
  CallbackRecord rec;
  int user_data = 0;
  const uint64_t id = rt_->callbacks().add(invoke_record, &rec, &user_data, true);
  sync_u64(kOpCallback, {id, 99});
  for (int i = 0; i < 400 && rec.value.load() != 99; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(rec.value.load(), 99u);
  EXPECT_EQ(rec.user_data, &user_data);
}

TEST_F(RuntimeTest, DeferredDataArrivesBeforeTheReply) {
  for (uint64_t i = 1; i <= 200; ++i) {
    uint64_t target = 0;
    const uint64_t token = rt_->deferred().expect(&target, sizeof target);
    sync_u64(kOpDeferred, {token, i * 3});
    ASSERT_EQ(target, i * 3);  // no waiting: the reply waited for the data
  }
}

TEST(RuntimeFailureTest, CallsFailCleanlyWhenTheServerIsGone) {
  transport::Connection g, s;
  transport::make_memory_connection(&g, &s);
  guest::Runtime rt(kGuestApi, nullptr);
  ASSERT_TRUE(rt.adopt(std::move(g)).ok());
  s.calls->close();
  s.events->close();
  rt.begin_call().put_u64(1);
  guest::Reply reply;
  EXPECT_FALSE(rt.end_sync(kOpAdd, &reply).ok());
  // And stays failed, fast.
  rt.begin_call();
  EXPECT_FALSE(rt.end_sync(kOpAdd, &reply).ok());
}

TEST(SessionMalformedTest, GarbageEndsOnlyThatSession) {
  transport::Connection g, s;
  transport::make_memory_connection(&g, &s);
  server::Session session(kServerApi, std::move(s), server::SessionOptions{});
  std::thread t([&] {
    const Status st = session.run();
    EXPECT_EQ(st.code(), Code::kMalformed);
  });
  // A batch claiming one call whose length runs past the message.
  wire::Writer w;
  w.put(protocol::MessageHeader{protocol::kMagic, static_cast<uint16_t>(protocol::MessageType::kBatch), 0, 1, 1});
  w.put(protocol::CallHeader{kOpAdd, protocol::kCallSync, 1u << 20});
  std::vector<wire::Segment> segs;
  w.segments(&segs);
  ASSERT_TRUE(g.calls->send(segs).ok());
  t.join();
}

}  // namespace
}  // namespace remora

// Handle values in the first page are never objects: invalid unless the type gives them a meaning,
// and then they stand for what the type's function says (CUDA's CU_STREAM_LEGACY/PER_THREAD).
TEST(ObjectsTest, SmallHandleValuesAreInvalidOrSpecial) {
  remora::guest::Objects objects(nullptr);
  constexpr uint32_t kStream = 3, kOther = 4;
  remora::guest::Object* real = objects.create(kStream);
  static const void* g_real = nullptr;
  g_real = real;
  uint64_t id = 99;
  EXPECT_FALSE(objects.to_id(reinterpret_cast<const void*>(0x2), kStream, &id));  // no meaning given yet
  EXPECT_TRUE(objects.to_id(nullptr, kStream, &id));
  EXPECT_EQ(id, 0u);
  objects.set_special_handles(kStream, [](const void* h, const void** resolved) {
    if (h == reinterpret_cast<const void*>(0x1)) *resolved = nullptr;  // "legacy": the null handle
    else if (h == reinterpret_cast<const void*>(0x2)) *resolved = g_real;
    else if (h == reinterpret_cast<const void*>(0x3)) *resolved = reinterpret_cast<const void*>(0x5);
    else return h == nullptr;
    return true;
  });
  EXPECT_TRUE(objects.to_id(reinterpret_cast<const void*>(0x2), kStream, &id));
  EXPECT_EQ(id, real->id);
  EXPECT_TRUE(objects.to_id(reinterpret_cast<const void*>(0x1), kStream, &id));
  EXPECT_EQ(id, 0u);
  EXPECT_TRUE(objects.to_id(nullptr, kStream, &id));
  EXPECT_EQ(id, 0u);
  EXPECT_FALSE(objects.to_id(reinterpret_cast<const void*>(0x3), kStream, &id));  // resolved to a non-object
  EXPECT_FALSE(objects.to_id(reinterpret_cast<const void*>(0x7), kStream, &id));  // no meaning
  EXPECT_FALSE(objects.to_id(reinterpret_cast<const void*>(0x2), kOther, &id));   // another type
  EXPECT_FALSE(objects.to_id(reinterpret_cast<const void*>(0xfff), kOther, &id));
}
