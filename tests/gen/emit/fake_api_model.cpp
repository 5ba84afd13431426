#include "fake_api_model.h"

namespace remora::gen::testing {
namespace {

Param scalar(const std::string& name, const std::string& type, uint64_t size = 4) {
  Param p;
  p.name = name;
  p.c_type = type;
  p.kind = ParamKind::kScalar;
  p.scalar_size = size;
  return p;
}
Param handle(const std::string& name, const std::string& type) {
  Param p;
  p.name = name;
  p.c_type = type;
  p.kind = ParamKind::kHandle;
  p.handle_type = type;
  return p;
}
Param string(const std::string& name) {
  Param p;
  p.name = name;
  p.c_type = "const char *";
  p.kind = ParamKind::kString;
  return p;
}
Param buffer(const std::string& name, const std::string& c_type, const std::string& elem, Direction dir) {
  Param p;
  p.name = name;
  p.c_type = c_type;
  p.kind = ParamKind::kBuffer;
  p.elem_type = elem;
  p.dir = dir;
  return p;
}
Param handles(const std::string& name, const std::string& type, Direction dir, const std::string& count) {
  Param p;
  p.name = name;
  p.c_type = (dir == Direction::kIn ? "const " : "") + type + " *";
  p.kind = ParamKind::kHandleArray;
  p.handle_type = p.elem_type = type;
  p.dir = dir;
  p.count_expr = count;
  return p;
}
Param errcode() {
  Param p;
  p.name = "errcode_ret";
  p.c_type = "fake_status *";
  p.kind = ParamKind::kErrcode;
  p.dir = Direction::kOut;
  p.elem_type = "fake_status";
  return p;
}
Param user_data() {
  Param p;
  p.name = "user_data";
  p.c_type = "void *";
  p.kind = ParamKind::kUserData;
  p.consumed = true;
  return p;
}
CallbackArg cb_arg(const std::string& name, const std::string& type, CallbackArg::Kind kind,
                   const std::string& extra = "") {
  CallbackArg a;
  a.name = name;
  a.c_type = type;
  a.kind = kind;
  if (kind == CallbackArg::Kind::kHandle) a.handle_type = extra;
  if (kind == CallbackArg::Kind::kBytes) a.bytes_size_arg = extra;
  return a;
}
Function fn(const std::string& name, uint32_t opcode, const std::string& ret, Function::Returns returns,
            std::vector<Param> params) {
  Function f;
  f.name = name;
  f.opcode = opcode;
  f.return_type = ret;
  f.returns = returns;
  f.params = std::move(params);
  for (const Param& p : f.params)
    if (p.kind == ParamKind::kErrcode) f.errcode_param = p.name;
  return f;
}
using R = Function::Returns;
constexpr Direction kIn = Direction::kIn, kOut = Direction::kOut;

}  // namespace

Api fake_api_model() {
  Api api;
  api.name = "fake";
  // Per-thread state (REMORA_THREAD_STATE), as CUDA's current context uses it.
  api.thread_state_guest = "fake_guest_thread_state";
  api.thread_state_server = "fake_server_thread_state";
  api.spec_path = "tests/gen/emit/fake.spec.c";  // not a file in the tree: this model stands in for one
  api.headers = {"fake_api.h"};
  api.errors = {"fake_status",           "FAKE_SUCCESS",          "FAKE_DEVICE_NOT_AVAILABLE", "FAKE_INVALID_OPERATION",
                "FAKE_INVALID_VALUE",    "FAKE_OUT_OF_HOST_MEMORY", "FAKE_OUT_OF_RESOURCES"};
  const char* types[][2] = {{"fake_device", "FAKE_INVALID_DEVICE"}, {"fake_context", "FAKE_INVALID_CONTEXT"},
                            {"fake_buffer", "FAKE_INVALID_BUFFER"}, {"fake_queue", "FAKE_INVALID_QUEUE"},
                            {"fake_event", "FAKE_INVALID_EVENT"},   {"fake_program", "FAKE_INVALID_PROGRAM"}};
  for (uint32_t i = 0; i < 6; ++i) {
    HandleType h;
    h.name = types[i][0];
    h.index = i + 1;
    h.invalid_error = types[i][1];
    api.handle_types.push_back(h);
  }
  api.handle_types[1].retain_fn = "fake_retain_context";
  api.handle_types[1].release_fn = "fake_release_context";
  api.handle_types[2].release_fn = "fake_release_buffer";
  api.handle_types[2].on_retire = "remora_fake_buffer_retired";  // REMORA_HANDLE_WITH_RECORD
  api.handle_types[3].release_fn = "fake_release_queue";
  api.handle_types[4].release_fn = "fake_release_event";
  api.handle_types[5].release_fn = "fake_release_program";

  auto& fns = api.functions;
  {
    Param devices = handles("devices", "fake_device", kOut, "num_entries");
    devices.existing = true;
    Function f = fn("fake_get_devices", 1, "fake_status", R::kStatus,
                    {scalar("num_entries", "fake_uint"), devices, buffer("num_devices", "fake_uint *", "fake_uint", kOut)});
    f.cache = true;
    fns.push_back(f);
  }
  {
    Param value = buffer("param_value", "void *", "void", kOut);
    value.bytes_expr = "param_value_size";
    value.length_ret = "param_value_size_ret";
    value.handles_when = {{"param_name", "FAKE_DEVICE_PARENT", "fake_device"}};
    Function f = fn("fake_get_device_info", 2, "fake_status", R::kStatus,
                    {handle("device", "fake_device"), scalar("param_name", "fake_device_info"),
                     scalar("param_value_size", "size_t", 8), value,
                     buffer("param_value_size_ret", "size_t *", "size_t", kOut)});
    f.cache = true;
    f.cache_unless = "param_name == FAKE_DEVICE_PARENT";
    fns.push_back(f);
  }
  {
    Param props = buffer("properties", "const fake_property *", "fake_property", kIn);
    props.kind = ParamKind::kProperties;
    props.property_handles = {{"FAKE_CONTEXT_PLATFORM", "fake_device"}};
    Param devices = handles("devices", "fake_device", kIn, "num_devices");
    devices.nonnull = true;
    Param notify;
    notify.name = "pfn_notify";
    notify.c_type = "void (*)(const char *, const void *, size_t, void *)";
    notify.kind = ParamKind::kCallback;
    Callback cb;
    cb.typedef_name = "remora_fake_create_context_pfn_notify_fn";
    cb.user_data_param = "user_data";
    cb.once = false;
    cb.args = {cb_arg("errinfo", "const char *", CallbackArg::Kind::kString),
               cb_arg("private_info", "const void *", CallbackArg::Kind::kBytes, "cb"),
               cb_arg("cb", "size_t", CallbackArg::Kind::kScalar),
               cb_arg("user_data", "void *", CallbackArg::Kind::kUserData)};
    notify.callback = cb;
    Function f = fn("fake_create_context", 3, "fake_context", R::kHandle,
                    {props, scalar("num_devices", "fake_uint"), devices, notify, user_data(), errcode()});
    f.return_handle_type = "fake_context";
    fns.push_back(f);
  }
  {
    Function f = fn("fake_retain_context", 4, "fake_status", R::kStatus, {handle("context", "fake_context")});
    f.retains = "context";
    f.answer_if = "remora_fake_borrowed(context)";  // REMORA_ANSWER_IF(FAKE_SUCCESS, ...)
    f.answer_value = "FAKE_SUCCESS";
    fns.push_back(f);
    Function g = fn("fake_release_context", 5, "fake_status", R::kStatus, {handle("context", "fake_context")});
    g.releases = "context";
    fns.push_back(g);
  }
  {
    Param host = buffer("host_ptr", "void *", "void", kIn);
    host.bytes_expr = "size";
    Param flags = scalar("flags", "fake_flags", 8);
    flags.send_expr = "remora_fake_server_flags(flags)";  // REMORA_SEND
    Function f = fn("fake_create_buffer", 6, "fake_buffer", R::kHandle,
                    {handle("context", "fake_context"), flags, scalar("size", "size_t", 8), host, errcode()});
    f.return_handle_type = "fake_buffer";
    f.resource = Resource{"device_memory", "size"};
    f.checks = {{"(flags & 4) == 0", "FAKE_INVALID_VALUE"}};  // REMORA_CHECK
    f.record = "remora_fake_buffer_record(flags, host_ptr)";  // REMORA_RECORD
    fns.push_back(f);
  }
  {
    Param desc = buffer("desc", "const fake_image_desc *", "fake_image_desc", kIn);
    desc.struct_handles = {{"buffer", "fake_buffer"}};
    Function f = fn("fake_create_image", 7, "fake_buffer", R::kHandle,
                    {handle("context", "fake_context"), scalar("flags", "fake_flags", 8), scalar("format", "fake_format", 8),
                     desc, errcode()});
    f.return_handle_type = "fake_buffer";
    fns.push_back(f);
  }
  {
    Function f = fn("fake_release_buffer", 8, "fake_status", R::kStatus, {handle("buffer", "fake_buffer")});
    f.releases = "buffer";
    fns.push_back(f);
  }
  {
    Function f = fn("fake_create_queue", 9, "fake_queue", R::kHandle,
                    {handle("context", "fake_context"), handle("device", "fake_device"), scalar("flags", "fake_flags", 8),
                     errcode()});
    f.return_handle_type = "fake_queue";
    fns.push_back(f);
    Function g = fn("fake_release_queue", 10, "fake_status", R::kStatus, {handle("queue", "fake_queue")});
    g.releases = "queue";
    fns.push_back(g);
  }
  {
    Param strings = buffer("strings", "const char **", "", kIn);
    strings.kind = ParamKind::kStrings;
    strings.count_param = "count";
    strings.lengths_param = "lengths";
    Param lengths = buffer("lengths", "const size_t *", "size_t", kIn);
    lengths.count_expr = "count";
    lengths.consumed = true;
    Function f = fn("fake_create_program_with_source", 11, "fake_program", R::kHandle,
                    {handle("context", "fake_context"), scalar("count", "fake_uint"), strings, lengths, errcode()});
    f.return_handle_type = "fake_program";
    fns.push_back(f);
  }
  {
    Param lengths = buffer("lengths", "const size_t *", "size_t", kIn);
    lengths.count_expr = "num_devices";
    lengths.consumed = true;
    Param bins = buffer("binaries", "const unsigned char **", "", kIn);
    bins.kind = ParamKind::kBinaries;
    bins.count_param = "num_devices";
    bins.lengths_param = "lengths";
    Param status = buffer("binary_status", "fake_status *", "fake_status", kOut);
    status.count_expr = "num_devices";
    Function f = fn("fake_create_program_with_binary", 12, "fake_program", R::kHandle,
                    {handle("context", "fake_context"), scalar("num_devices", "fake_uint"),
                     handles("device_list", "fake_device", kIn, "num_devices"), lengths, bins, status, errcode()});
    f.return_handle_type = "fake_program";
    fns.push_back(f);
  }
  {
    Param notify;
    notify.name = "pfn_notify";
    notify.c_type = "void (*)(fake_program, void *)";
    notify.kind = ParamKind::kCallback;
    Callback cb;
    cb.typedef_name = "remora_fake_build_program_pfn_notify_fn";
    cb.user_data_param = "user_data";
    cb.args = {cb_arg("program", "fake_program", CallbackArg::Kind::kHandle, "fake_program"),
               cb_arg("user_data", "void *", CallbackArg::Kind::kUserData)};
    notify.callback = cb;
    Function f = fn("fake_build_program", 13, "fake_status", R::kStatus,
                    {handle("program", "fake_program"), scalar("num_devices", "fake_uint"),
                     handles("device_list", "fake_device", kIn, "num_devices"), string("options"), notify, user_data()});
    f.blocking = true;
    fns.push_back(f);
    Function g = fn("fake_release_program", 14, "fake_status", R::kStatus, {handle("program", "fake_program")});
    g.releases = "program";
    fns.push_back(g);
  }
  {
    Param notify;
    notify.name = "pfn_notify";
    notify.c_type = "void (*)(fake_event, fake_int, void *)";
    notify.kind = ParamKind::kCallback;
    Callback cb;
    cb.typedef_name = "remora_fake_set_event_callback_pfn_notify_fn";
    cb.user_data_param = "user_data";
    cb.args = {cb_arg("event", "fake_event", CallbackArg::Kind::kHandle, "fake_event"),
               cb_arg("event_command_status", "fake_int", CallbackArg::Kind::kScalar),
               cb_arg("user_data", "void *", CallbackArg::Kind::kUserData)};
    notify.callback = cb;
    fns.push_back(fn("fake_set_event_callback", 15, "fake_status", R::kStatus,
                     {handle("event", "fake_event"), scalar("command_exec_callback_type", "fake_int"), notify, user_data()}));
  }
  {
    Param ptr = buffer("ptr", "const void *", "void", kIn);
    ptr.bytes_expr = "size";
    Function f = fn("fake_enqueue_write", 16, "fake_status", R::kStatus,
                    {handle("queue", "fake_queue"), handle("buffer", "fake_buffer"), scalar("offset", "size_t", 8),
                     scalar("size", "size_t", 8), ptr, scalar("num_events_in_wait_list", "fake_uint"),
                     handles("event_wait_list", "fake_event", kIn, "num_events_in_wait_list"),
                     handles("event", "fake_event", kOut, "")});
    f.async = true;
    fns.push_back(f);
  }
  {
    Param ptr = buffer("ptr", "void *", "void", kOut);
    ptr.bytes_expr = "size";
    ptr.deferred_event = "event";
    Function f = fn("fake_enqueue_read", 17, "fake_status", R::kStatus,
                    {handle("queue", "fake_queue"), handle("buffer", "fake_buffer"), scalar("blocking_read", "fake_bool"),
                     scalar("offset", "size_t", 8), scalar("size", "size_t", 8), ptr,
                     scalar("num_events_in_wait_list", "fake_uint"),
                     handles("event_wait_list", "fake_event", kIn, "num_events_in_wait_list"),
                     handles("event", "fake_event", kOut, "")});
    f.blocking_if = "blocking_read";
    fns.push_back(f);
  }
  {
    Function f = fn("fake_finish", 18, "fake_status", R::kStatus, {handle("queue", "fake_queue")});
    f.blocking = true;
    fns.push_back(f);
    Function g = fn("fake_release_event", 19, "fake_status", R::kStatus, {handle("event", "fake_event")});
    g.releases = "event";
    fns.push_back(g);
  }
  {
    Function f = fn("fake_svm_alloc", 0, "void *", R::kPointer,
                    {handle("context", "fake_context"), scalar("flags", "fake_flags", 8), scalar("size", "size_t", 8),
                     scalar("alignment", "fake_uint")});
    f.impl = Implementation::kUnsupported;
    f.unsupported_reason = "shared virtual memory cannot cross a process boundary";
    fns.push_back(f);
    Function g = fn("fake_get_extension_address", 0, "void *", R::kPointer, {string("name")});
    g.impl = Implementation::kLocal;
    g.hook = "remora_fake_get_extension_address";
    fns.push_back(g);
  }
  {
    Function f = fn("fake_get_version", 20, "fake_uint", R::kScalar, {});
    f.impl = Implementation::kServerHook;
    f.server_hook = "remora_fake_server_get_version";
    f.requires_vendor = {"fake_finish"};  // REMORA_REQUIRES
    fns.push_back(f);
    Function g = fn("fake_log", 21, "void", R::kVoid, {string("message")});
    g.impl = Implementation::kGuestHook;
    g.hook = "remora_fake_guest_log";
    fns.push_back(g);
  }
  {
    Function f = fn("fake_ext_set_level", 22, "fake_status", R::kStatus,
                    {handle("device", "fake_device"), scalar("level", "float")});
    f.extension = true;
    fns.push_back(f);
  }
  {
    // An INOUT buffer and a struct by value in an OUT one-element buffer (not in mini).
    Param io = buffer("values", "fake_uint *", "fake_uint", Direction::kInOut);
    io.count_expr = "count";
    Param fmt_out = buffer("format_ret", "fake_format *", "fake_format", kOut);
    fns.push_back(fn("fake_transform", 23, "fake_status", R::kStatus,
                     {handle("queue", "fake_queue"), scalar("count", "fake_uint"), io, fmt_out}));
  }
  // REMORA_REFUSE_UNLISTED(fake_status, FAKE_INVALID_OPERATION): the status functions the spec leaves
  // out are refused; fake_count_not_in_spec returns something else.
  api.refusals = {Refusal{"fake_status", "FAKE_INVALID_OPERATION", {}}};
  api.undeclared = {
      UnlistedFunction{"fake_not_in_spec", "fake_status", {"fake_device"}, "FAKE_INVALID_OPERATION"},
      UnlistedFunction{"fake_set_logger", "fake_status", {"void (*)(const char *)"}, "FAKE_INVALID_OPERATION"},
      UnlistedFunction{"fake_count_not_in_spec", "fake_uint", {"fake_device"}, ""},
  };
  return api;
}

}  // namespace remora::gen::testing
