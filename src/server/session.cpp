#include "server/session.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "common/log.h"

namespace remora::server {

using protocol::CallHeader;
using protocol::MessageHeader;
using protocol::MessageType;
using protocol::ReplyHeader;
using protocol::ReplyStatus;

namespace {
// How long a leader waits in one receive before re-checking whether the session is ending.
constexpr auto kReceiveSlice = std::chrono::milliseconds(500);
}  // namespace

// ---- Call ------------------------------------------------------------------------------------------

void* Call::lookup(uint64_t id, uint32_t type) const { return session.handles().lookup(id, type, handle_cache_); }

void* Call::scratch(uint64_t bytes) {
  if (bytes > session.options().max_scratch_bytes - std::min(scratch_total_, session.options().max_scratch_bytes)) {
    malformed("out-parameter larger than the per-call cap");
    return nullptr;
  }
  // Not zeroed: zeroing a large out-buffer costs as much as the transfer. What a vendor leaves
  // unwritten can only be this session's own earlier data (one server process per guest), never
  // another guest's.
  ScratchCache* cache = cache_;
  if (cache != nullptr && !cache->in_use && bytes >= ScratchCache::kMinBytes && bytes <= ScratchCache::kMaxKeptBytes) {
    if (cache->size < bytes) {
      cache->block.reset();  // before the new one: never hold both
      cache->size = 0;
      cache->block = acquire_host_block(bytes);
      if (!cache->block) return no_host_memory(bytes);
      cache->size = bytes;
    }
    cache->in_use = true;
    scratch_cache_ = cache;
    scratch_total_ += bytes;
    return cache->block.get();
  }
  HostBlock block = acquire_host_block(bytes);
  if (!block) return no_host_memory(bytes);
  scratch_total_ += bytes;
  scratch_.push_back(std::move(block));
  return scratch_.back().get();
}

void* Call::no_host_memory(uint64_t bytes) {
  log::warn("out of host memory for a {}-byte out-parameter of {}: the call fails, the session goes on", bytes,
            opcode < session.api().num_opcodes ? session.api().opcode_names[opcode] : "?");
  out_of_memory_ = true;
  return nullptr;
}

void* Call::reply_scratch(uint64_t bytes) {
  if (sync && !guest_concurrent && !reserved_reply_ &&
      bytes <= session.options().max_scratch_bytes - std::min(scratch_total_, session.options().max_scratch_bytes)) {
    if (uint8_t* p = session.conn_.calls->reserve_send(bytes); p != nullptr) {
      reserved_reply_ = true;
      scratch_total_ += bytes;
      return p;
    }
  }
  return scratch(bytes);
}

void Call::about_to_block() {
  if (guest_concurrent) session.promote_follower();
}

void Call::async_failed(int64_t api_error) {
  std::lock_guard lock(session.async_err_mu_);
  if (session.async_err_opcode_ == 0) {
    session.async_err_opcode_ = opcode;
    session.async_err_value_ = api_error;
  }
  session.stats_.errors.fetch_add(1, std::memory_order_relaxed);
}

void Call::malformed(const char* why) {
  args.fail(why);
  if (!session.ending_.exchange(true)) {
    session.end_reason_ = Status(Code::kMalformed, why);
    const char* name = opcode < session.api().num_opcodes ? session.api().opcode_names[opcode] : "?";
    log::warn("session ending: malformed call {} (opcode {}): {}", name, opcode, why);
  }
}

// ---- Session ---------------------------------------------------------------------------------------

Session::Session(const ApiServer& api, transport::Connection conn, SessionOptions options)
    : api_(api),
      conn_(std::move(conn)),
      options_(std::move(options)),
      served_(options_.served.bits().empty() ? protocol::ServedOpcodes::all(api.num_opcodes) : options_.served),
      peer_memory_(conn_.peer_pid) {
  handles_.set_accepts(api.handle_accepts, api.num_handle_types);
  if (!options_.record_dir.empty()) {
    // The address tells apart sessions of one process that are alive at once (tests).
    const std::string path = options_.record_dir + "/" + std::to_string(::getpid()) + "-" +
                             std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffffff) + ".session";
    record_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (record_fd_ < 0) log::warn("cannot record the session to {}: {}", path, std::strerror(errno));
  }
}

Session::~Session() {
  ending_ = true;
  lf_cv_.notify_all();
  for (auto& t : followers_)
    if (t.joinable()) t.join();
  if (record_fd_ >= 0) ::close(record_fd_);
}

// Test-only (SessionOptions::record_dir): u32 length, then the message. Best effort.
void Session::record(const transport::Message& msg) {
  if (record_fd_ < 0) return;
  const auto bytes = msg.bytes();
  const uint32_t len = static_cast<uint32_t>(bytes.size());
  std::lock_guard lock(record_mu_);
  if (::write(record_fd_, &len, sizeof len) != sizeof len ||
      ::write(record_fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    ::close(record_fd_);
    record_fd_ = -1;
  }
}

Status Session::run() {
  // This thread is the first leader; followers are started on demand by promote_follower().
  {
    std::lock_guard lock(lf_mu_);
    leader_present_ = true;
  }
  thread_loop(true);

  // Wake and join every follower, then close the channels so vendor callbacks stop sending.
  ending_ = true;
  lf_cv_.notify_all();
  std::vector<std::thread> followers;
  {
    std::lock_guard lock(lf_mu_);
    followers.swap(followers_);
  }
  for (auto& t : followers)
    if (t.joinable()) t.join();

  // Everything the guest still holds goes back to the vendor, so a guest that died leaks nothing.
  const size_t held = handles_.size();
  handles_.drain([this](const HandleTable::Entry& e) {
    if (e.type < 1 || e.type > api_.num_handle_types) return;
    const HandleTypeInfo& info = api_.handle_types[e.type];
    if (info.release != nullptr) info.release(e.real);
    if (e.charge != 0) refund(e.charge_kind, e.charge);
  });
  {
    std::lock_guard lock(deferred_mu_);
    deferred_pending_.clear();
  }
  if (conn_.calls) conn_.calls->close();
  if (conn_.events) conn_.events->close();
  log::info("session ended ({}): {} calls, {} objects released", end_reason_.ok() ? "goodbye" : end_reason_.str(),
            stats_.calls.load(), held);
  return end_reason_;
}

namespace {
// The Worker of the thread serving the current call, so Call::about_to_block can mark it.
thread_local void* t_worker = nullptr;
}  // namespace

// One thread's life: wait to become leader, receive and serve batches while leader. A thread whose
// blocking call handed leadership to another goes back to waiting once its batch is done.
void Session::thread_loop(bool start_as_leader) {
  Worker worker;
  t_worker = &worker;
  transport::Message msg;
  bool leader = start_as_leader;
  for (;;) {
    if (!leader) {
      std::unique_lock lock(lf_mu_);
      ++idle_followers_;
      lf_cv_.wait(lock, [this] { return ending_ || !leader_present_; });
      --idle_followers_;
      if (ending_) return;
      leader_present_ = true;
      leader = true;
    }
    const Status st = receive_guarded(msg);
    if (ending_) break;
    if (st.code() == Code::kTimeout) continue;
    if (!st.ok()) {
      if (!ending_.exchange(true)) {
        end_reason_ = st.code() == Code::kClosed ? Status(Code::kClosed, "guest disconnected") : st;
        log::info("session ending: {}", end_reason_.str());
      }
      break;
    }
    record(msg);
    bool done = false;
    worker.handed_off = false;
    Status served;
    try {
      served = serve_batch(msg, worker, &done);
    } catch (const std::bad_alloc&) {
      served = Status(Code::kTooLarge, "out of host memory for a message of " + std::to_string(msg.size()) +
                                           " bytes from the guest (max_session_host_memory?)");
      log::warn("session ending: {}", served.str());
    }
    msg.reset();
    if (!served.ok() || done) {
      if (!ending_.exchange(true)) end_reason_ = served;
      break;
    }
    if (worker.handed_off) leader = false;  // another thread took over while we blocked
  }
  std::lock_guard lock(lf_mu_);
  leader_present_ = false;
  lf_cv_.notify_all();
}

// A message that cannot be held in host memory (a write larger than max_session_host_memory allows)
// ends the session in order, with the reason logged, instead of taking the process down. Its framing
// is lost with it, so the session cannot answer the call and go on.
// TODO(robustness): skip such a message and answer its call with the API's no-memory error.
Status Session::receive_guarded(transport::Message& msg) {
  try {
    return conn_.calls->receive(&msg, transport::after(kReceiveSlice));
  } catch (const std::bad_alloc&) {
    msg.reset();
    return Status(Code::kTooLarge, "out of host memory for a message from the guest (max_session_host_memory?)");
  }
}

void Session::promote_follower() {
  auto* worker = static_cast<Worker*>(t_worker);
  if (worker == nullptr || worker->handed_off) return;
  worker->handed_off = true;
  std::lock_guard lock(lf_mu_);
  leader_present_ = false;
  if (idle_followers_ > 0) {
    lf_cv_.notify_one();
  } else {
    followers_.emplace_back([this] { thread_loop(false); });
  }
}

Status Session::serve_batch(transport::Message& lent_or_own, Worker& w, bool* done) {
  // A lent message lies in memory the guest can still write (the shm bulk area). Decoded in place, a
  // guest could change a length, a descriptor or a string's terminator after the server checked it
  // and before the vendor reads it (a double fetch). Such a message is decoded from a private copy.
  // TODO(perf): copy only what the server interprets (lengths, descriptors, strings, lists) and hand
  // plain data (a large write's bytes) to the vendor in place; that needs the generator to mark them.
  transport::Message& msg = lent_or_own.lent() ? w.copy : lent_or_own;
  if (lent_or_own.lent()) {
    const auto shared = lent_or_own.bytes();
    std::memcpy(w.copy.own(shared.size()), shared.data(), shared.size());
    lent_or_own.reset();  // the guest may reuse the bulk area at once
  }
  const auto bytes = msg.bytes();
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_in.fetch_add(bytes.size(), std::memory_order_relaxed);
  wire::Reader r(bytes);
  const auto hdr = r.get<MessageHeader>();
  if (!r.ok() || hdr.magic != protocol::kMagic) return Status(Code::kMalformed, "bad message header");
  const auto type = static_cast<MessageType>(hdr.type);
  if (type == MessageType::kGoodbye) {
    *done = true;
    return Status::Ok();
  }
  if (type != MessageType::kBatch) return Status(Code::kMalformed, "unexpected message type from guest");

  // Counted once per batch, however it ends: an atomic add per call showed in the profile of
  // batched calls.
  uint64_t calls = 0;
  struct CountCalls {
    std::atomic<uint64_t>& total;
    const uint64_t& n;
    ~CountCalls() { total.fetch_add(n, std::memory_order_relaxed); }
  } count_calls{stats_.calls, calls};
  for (uint32_t i = 0; i < hdr.count; ++i) {
    const auto ch = r.get<CallHeader>();
    if (!r.ok()) return Status(Code::kMalformed, "truncated call header");
    if (ch.size > r.remaining() || ch.size % wire::kAlign != 0)
      return Status(Code::kMalformed, "call length exceeds the message");
    const bool sync = (ch.flags & protocol::kCallSync) != 0;
    if (sync && i + 1 != hdr.count) return Status(Code::kMalformed, "synchronous call not last in its batch");
    // The call's arguments are exactly its `size` bytes: a sub-reader, so a call cannot read into the
    // next one, and then skip them in the outer reader.
    const auto rest = bytes.subspan(bytes.size() - r.remaining());
    wire::Reader args(rest.data(), ch.size);
    r.skip(ch.size);

    ++calls;
    DispatchFn fn = ch.opcode < api_.num_opcodes ? api_.dispatch[ch.opcode] : nullptr;
    // The handshake told the guest which opcodes are served (protocol.h, "Compatibility"); it answers
    // the others itself, so one arriving here is a broken or hostile guest.
    if (fn != nullptr && !served_.has(ch.opcode)) {
      log::warn("opcode {} ({}) from the guest, which the handshake did not grant it", ch.opcode,
                api_.opcode_names[ch.opcode]);
      fn = nullptr;
    }
    if (fn == nullptr) {
      log::warn("unknown opcode {} from guest", ch.opcode);
      if (sync) (void)send_reply(w, hdr.tag, ReplyStatus::kUnknownOpcode, false);
      return Status(Code::kMalformed, "unknown opcode " + std::to_string(ch.opcode));
    }
    if (options_.policy != nullptr) options_.policy->before_call(ch.opcode);
    w.reply.clear();
    Call call{*this, args, w.reply, ch.opcode, sync, (ch.flags & protocol::kCallConcurrent) != 0};
    call.cache_ = &w.scratch;
    call.handle_cache_ = &w.handles;
    fn(call);
    // A scratch allocation failed where the generated code has no API error to answer with.
    if (call.out_of_host_memory()) call.malformed("out of host memory for an out-parameter");
    if (ending_) {
      // The dispatch function found the call malformed: answer a waiting guest, then end.
      if (sync) (void)send_reply(w, hdr.tag, ReplyStatus::kMalformed, false);
      return end_reason_.ok() ? Status(Code::kMalformed, "malformed call") : end_reason_;
    }
    if (sync) {
      // Counted before the reply goes: a guest that reads the statistics after its reply (status,
      // tests) sees every call the reply covers.
      stats_.calls.fetch_add(std::exchange(calls, 0), std::memory_order_relaxed);
      const Status st = send_reply(w, hdr.tag, ReplyStatus::kOk, true);
      if (!st.ok()) return st;
    }
  }
  if ((hdr.flags & protocol::kBatchPauseFollows) != 0) conn_.calls->expect_pause();
  return Status::Ok();
}

Status Session::send_reply(Worker& w, uint32_t tag, ReplyStatus status, bool with_body) {
  // Data of reads that completed goes out first (see add_deferred).
  flush_completed_deferred();
  MessageHeader mh{protocol::kMagic, static_cast<uint16_t>(MessageType::kReply), 0, tag, 1};
  ReplyHeader rh{};
  rh.status = static_cast<uint32_t>(status);
  {
    std::lock_guard lock(async_err_mu_);
    rh.async_error_opcode = async_err_opcode_;
    rh.async_error_value = async_err_value_;
    async_err_opcode_ = 0;
    async_err_value_ = 0;
  }
  rh.deferred_sent = deferred_sent_.load(std::memory_order_acquire);
  std::vector<wire::Segment>& segs = w.segs;
  segs.clear();
  segs.push_back({reinterpret_cast<const uint8_t*>(&mh), sizeof mh});
  segs.push_back({reinterpret_cast<const uint8_t*>(&rh), sizeof rh});
  size_t total = sizeof mh + sizeof rh;
  if (with_body) {
    w.reply.segments(&w.body);
    for (const auto& s : w.body) {
      segs.push_back(s);
      total += s.size;
    }
  }
  stats_.bytes_out.fetch_add(total, std::memory_order_relaxed);
  std::lock_guard lock(reply_mu_);
  return conn_.calls->send(segs);
}

Status Session::send_callback(uint64_t callback_id, const wire::Writer& args) {
  MessageHeader mh{protocol::kMagic, static_cast<uint16_t>(MessageType::kCallback), 0, 0, 0};
  std::vector<wire::Segment> segs;
  segs.push_back({reinterpret_cast<const uint8_t*>(&mh), sizeof mh});
  segs.push_back({reinterpret_cast<const uint8_t*>(&callback_id), sizeof callback_id});
  std::vector<wire::Segment> body;
  args.segments(&body);
  segs.insert(segs.end(), body.begin(), body.end());
  std::lock_guard lock(events_mu_);
  return conn_.events->send(segs);
}

void Session::add_deferred(std::shared_ptr<DeferredOp> op) {
  std::lock_guard lock(deferred_mu_);
  deferred_pending_.push_back(std::move(op));
}

void Session::complete_deferred(DeferredOp& op, bool succeeded) {
  // `done` flips under events_mu_, together with the send and the count: whoever sees an op done and
  // then takes events_mu_ knows its data is on the wire and counted (flush_completed_deferred).
  std::lock_guard lock(events_mu_);
  if (op.done.exchange(true)) return;
  // The data goes as soon as it is sent, whoever still holds the op (a vendor may run its completion
  // callback, which holds one, much later): a stream of large non-blocking transfers must not keep
  // every one of them.
  struct DropData {
    DeferredOp& op;
    ~DropData() {
      op.data.reset();
      op.size = 0;
    }
  } drop{op};
  if (op.token == 0) return;  // data only kept alive for the vendor (a non-blocking write): nothing to send
  MessageHeader mh{protocol::kMagic, static_cast<uint16_t>(MessageType::kDeferred), 0, 0, 0};
  const int64_t status = succeeded ? 0 : -1;
  wire::Writer w;
  w.put(mh);
  w.put_u64(op.token);
  w.put(status);
  w.put_bytes(succeeded ? op.data.get() : nullptr, succeeded ? op.size : 0);
  std::vector<wire::Segment> segs;
  w.segments(&segs);
  // Counted even if the send fails: the session is then ending anyway and no reply will follow.
  (void)conn_.events->send(segs);
  deferred_sent_.fetch_add(1, std::memory_order_release);
}

void Session::flush_completed_deferred() {
  std::vector<std::shared_ptr<DeferredOp>> pending;
  {
    std::lock_guard lock(deferred_mu_);
    if (deferred_pending_.empty()) return;
    pending = deferred_pending_;
  }
  for (auto& op : pending) {
    if (op->done) continue;
    const int state = op->poll ? op->poll() : 0;
    if (state <= 0) complete_deferred(*op, state == 0);
  }
  // A vendor callback may be sending an op right now (done already set): wait for it to finish, so
  // the reply's deferred_sent counts it.
  { std::lock_guard barrier(events_mu_); }
  std::lock_guard lock(deferred_mu_);
  std::erase_if(deferred_pending_, [](const auto& op) { return op->done.load(); });
}

bool Session::charge(ResourceKind kind, uint64_t amount) {
  auto& counter = in_use_[static_cast<size_t>(kind)];
  if (options_.policy != nullptr && !options_.policy->may_charge(kind, amount, counter.load())) return false;
  counter.fetch_add(amount);
  if (options_.policy != nullptr) options_.policy->charged(kind, static_cast<int64_t>(amount));
  return true;
}

void Session::refund(ResourceKind kind, uint64_t amount) {
  in_use_[static_cast<size_t>(kind)].fetch_sub(amount);
  if (options_.policy != nullptr) options_.policy->charged(kind, -static_cast<int64_t>(amount));
}

bool Session::release_handle(uint64_t id) {
  HandleTable::Entry removed;
  if (!handles_.release(id, &removed)) return false;
  if (removed.charge != 0) refund(removed.charge_kind, removed.charge);
  return true;
}

CallbackSlot* Session::new_callback_slot(uint64_t callback_id, bool once) {
  auto slot = std::make_unique<CallbackSlot>();
  slot->session = this;
  slot->callback_id = callback_id;
  slot->once = once;
  if (once) {
    slot->holds.store(2, std::memory_order_relaxed);
    return slot.release();
  }
  std::lock_guard lock(slots_mu_);
  many_slots_.push_back(std::move(slot));
  return many_slots_.back().get();
}

void Session::callback_fired(CallbackSlot* slot) {
  if (slot->once && slot->holds.fetch_sub(1, std::memory_order_acq_rel) == 1) delete slot;
}

void Session::callback_call_done(CallbackSlot* slot, bool vendor_kept) {
  if (!slot->once) return;
  // Failed: the vendor's hold is void too, whether or not its callback already ran.
  if (slot->holds.fetch_sub(1, std::memory_order_acq_rel) == 1 || !vendor_kept) delete slot;
}

}  // namespace remora::server
