// remora spec annotations.
//
// A spec is a C file that includes the vendor's real header and then redeclares each API function
// with these annotations attached. Every macro expands to a clang `annotate` attribute, so a spec is
// valid C that clang type-checks against the header: a redeclaration whose types drift from the
// header is a compile error, not a silent mismatch. remora-gen reads the attributes with libclang.
//
// Placement:
//   function annotations go before the return type:   REMORA_OPCODE(4) REMORA_CACHE cl_int clFoo(...);
//   parameter annotations go after the parameter name: void *param_value REMORA_OUT REMORA_BYTES(n)
//   handle-type and API declarations are file-scope:   REMORA_HANDLE(cl_mem, CL_INVALID_MEM_OBJECT);
//
// Expressions (lengths, conditions) are C expressions over the function's other parameters, copied
// verbatim into generated code on both sides. They may call helpers declared in the API's hooks header.
//
// Defaults come from the types (see docs/generated-code.md): a pointer to an opaque struct typedef that
// was declared with REMORA_HANDLE is a handle; `const char *` is an input string; integers, floats and
// enums are scalars passed by value; a pointer to a scalar with no length is one element. Anything else
// needs annotations, and remora-gen stops with `file:line: error:` naming the parameter.
#ifndef REMORA_SPEC_H
#define REMORA_SPEC_H

#define REMORA_ANNOTATE_(s) __attribute__((annotate("remora:" s)))
#define REMORA_STR_(x) #x

// ---- File scope -------------------------------------------------------------------------------------

// Names the API. `errors` is a comma-separated list of key=C-expression pairs giving the API's own error
// values for failures remora itself detects, and the API's status type:
//   type=         the C type of the API's status (e.g. cl_int): functions returning it return a status
//   success=      the API's success value
//   transport=    the server is gone or the transport failed
//   unsupported=  the function cannot be forwarded (REMORA_UNSUPPORTED)
//   invalid=      a malformed argument remora refuses before forwarding (e.g. a length over a cap)
//   no_memory=    remora could not allocate host memory for the call
//   quota=        the tenant's resource quota refused the call
//   deinitialized= (optional) a call after the guest library shut down at process exit, from a
//                 destructor that ran after the library's (default: the transport error)
#define REMORA_API(name, errors)                                                               \
  static const int remora_api_##name REMORA_ANNOTATE_("api=" #name) REMORA_ANNOTATE_("errors=" errors) = 0

// Per-thread API state that every forwarded call carries ahead of its arguments (CUDA's current
// context: which context a call works in is the calling thread's, not an argument). The guest calls
// `uint64_t guest_fn(remora::guest::Runtime &)` while encoding each call; the server calls
// `void server_fn(remora::server::Call &, uint64_t state)` before decoding the call's arguments, on the
// thread that runs the vendor call. Both are hand-written glue; the generated headers declare them.
#define REMORA_THREAD_STATE(guest_fn, server_fn) \
  static const int remora_thread_state REMORA_ANNOTATE_("thread_state=" #guest_fn "," #server_fn) = 0

// The vendor's headers name each ABI of a function with a typedef `<prefix><name>_v<version>` (CUDA's
// cudaTypedefs.h: PFN_cuMemAlloc_v3020), the version that introduced it: a lookup by name and version
// (cuGetProcAddress) then finds the spec's function of that ABI (the generated <API>_PROC_ENTRIES).
// The i-th ABI of a name is the symbol `name` (i = 0) or `name_v<i+1>`. A function the spec declares
// that no header does, but that such a typedef names, is an older ABI the vendor library still
// exports (cuda.h declares those only for the driver's own build): it is forwarded like any other.
// Typedefs ending in `_ptsz`/`_ptds` (per-thread default stream forms) are not ABIs of their own.
#define REMORA_PROC_TYPEDEFS(prefix) \
  static const int remora_proc_typedefs REMORA_ANNOTATE_("proc_typedefs=" prefix) = 0

// The headers may declare the oldest ABIs' typedefs only for the vendor's own build: `header`
// (angled, on the include path) is read once more with `define` defined, for their names and
// signatures (CUDA: "cudaTypedefs.h", "__CUDA_API_VERSION_INTERNAL"). Every ABI no function of the
// spec implements is then refused by name (exported by the guest, found by version lookups).
#define REMORA_PROC_TYPEDEFS_HIDDEN(header, define) \
  static const int remora_proc_typedefs_hidden REMORA_ANNOTATE_("proc_typedefs_hidden=" header "," define) = 0

// Refuses, rather than leaves out, the functions the vendor headers declare and the spec does not:
// each one whose return type is spelled `type` (the typedef name as the header writes it, e.g.
// cudaError_t) is exported by the guest library all the same, with the header's prototype, and
// answers `value` without reading its arguments, logging its name on the first call. A program that
// calls one then gets an error the API defines instead of an "undefined symbol" from the loader.
// Only for guest libraries that export the API's entry points (REMORA_<API>_EXPORT_ENTRY_POINTS).
// Repeat for each status type; a type may be given once. The variable is of `type`, so that clang
// checks `value` against it; the line number keeps the names of several of them apart.
#define REMORA_REFUSE_UNLISTED(type, value) REMORA_REFUSE_UNLISTED_(type, value, #value, __LINE__)
#define REMORA_REFUSE_UNLISTED_(type, value, text, line) REMORA_REFUSE_UNLISTED__(type, value, text, line)
#define REMORA_REFUSE_UNLISTED__(type, value, text, line) \
  static const type remora_refuse_unlisted_##type##_##line REMORA_ANNOTATE_("refuse_unlisted=" text) = value

// A parameter of handle type `type` also takes objects of handle type `other` (CUDA: a CUkernel where a
// CUfunction goes, cuLaunchKernel and friends): both sides' type checks accept either. Repeatable.
#define REMORA_HANDLE_ACCEPTS(type, other) \
  static const int remora_accepts_##type##_##other REMORA_ANNOTATE_("accepts=" #type "," #other) = 0

// Declares an opaque handle type and the API error for a bad handle of that type.
#define REMORA_HANDLE(type, invalid_error)                                                     \
  extern type remora_handle_##type REMORA_ANNOTATE_("handle") REMORA_ANNOTATE_("invalid=" #invalid_error)
// The same, for a type whose guest objects may carry a record of the glue's (REMORA_RECORD): when the
// guest retires such an object (its last application reference went, whichever call dropped it), the
// runtime calls `void on_retire(remora::guest::Object *)`, which frees the record.
#define REMORA_HANDLE_WITH_RECORD(type, invalid_error, on_retire)                                       \
  extern type remora_handle_##type REMORA_ANNOTATE_("handle") REMORA_ANNOTATE_("invalid=" #invalid_error) \
      REMORA_ANNOTATE_("on_retire=" #on_retire)

// ---- Function annotations --------------------------------------------------------------------------

// Wire opcode. Explicit and append-only: never renumber or reuse one (tests pin the table).
#define REMORA_OPCODE(n) REMORA_ANNOTATE_("opcode=" #n)
// The guest returns the API's success value at once and batches the call; a failure on the server is
// reported by the next synchronous call (docs/generated-code.md, "Async functions").
// Allowed only where the guest can produce every output itself (new handles are named by the guest).
#define REMORA_ASYNC REMORA_ANNOTATE_("async")
// The call may wait a long time (clFinish, blocking reads). The server runs it without holding up the
// session's other threads. _IF takes a C expression: blocking only when it is true.
#define REMORA_BLOCKING REMORA_ANNOTATE_("blocking")
#define REMORA_BLOCKING_IF(expr) REMORA_ANNOTATE_("blocking_if=" #expr)
// Replies depend only on the inputs and never change: the guest caches them per argument tuple.
// _UNLESS names a condition (over the parameters) under which a reply is not cached.
#define REMORA_CACHE REMORA_ANNOTATE_("cache")
#define REMORA_CACHE_UNLESS(expr) REMORA_ANNOTATE_("cache_unless=" #expr)
// Escape hatches (the hook contract: docs/generated-code.md, "Hooks"). GUEST: the whole guest side is
// the hand-written function `fn` (same signature as the API function); it composes the generated
// stub remora_remote_<fn>. SERVER: the generated server decodes and checks everything as usual (the
// handles, the lengths, REMORA_CHECK, the vendor functions present), then calls the hand-written
// `fn(remora::server::Call &c, <the API function's parameters>)` instead of the vendor's function.
// LOCAL: implemented entirely in the guest by `fn`; it has no opcode.
#define REMORA_GUEST(fn) REMORA_ANNOTATE_("guest=" #fn)
#define REMORA_SERVER(fn) REMORA_ANNOTATE_("server=" #fn)
#define REMORA_LOCAL(fn) REMORA_ANNOTATE_("local=" #fn)
// Vendor functions a REMORA_SERVER hook calls besides the function itself (its own is checked anyway):
// the dispatch answers the API's `unsupported` error before the hook runs if the vendor library lacks
// one, so a hook never checks for them. A comma-separated list of the API's names: they are expanded
// first, so a header's renaming (cuda.h's cuMemcpyHtoD -> cuMemcpyHtoD_v2) applies. Repeatable.
#define REMORA_REQUIRES(...) REMORA_REQUIRES_(__VA_ARGS__)
#define REMORA_REQUIRES_(...) REMORA_ANNOTATE_("requires=" #__VA_ARGS__)
// The same, where a missing function is answered with `error` rather than the API's `unsupported`
// (remora's own calls whose callers take another road on a value of their own).
#define REMORA_REQUIRES_OR(error, ...) REMORA_ANNOTATE_("requires_error=" #error) REMORA_REQUIRES_(__VA_ARGS__)
// The server refuses the call with `error` (the function's own way of reporting it: the status, or
// errcode_ret) unless the condition, a C expression over the decoded parameters, holds. Checked after
// the handles and before any vendor or hook call. For what no guest may make the vendor do (a host
// pointer the vendor would keep). Repeatable.
#define REMORA_CHECK(error, ...) REMORA_ANNOTATE_("check=" #error ";" #__VA_ARGS__)
// Guest side of a function returning a new handle: once the call succeeded, the value of the C++
// expression (over the parameters; a void *) becomes the handle's record (Object::api_data), dropped
// by the type's REMORA_HANDLE_WITH_RECORD function when the object is retired.
#define REMORA_RECORD(...) REMORA_ANNOTATE_("record=" #__VA_ARGS__)
// The guest answers `value` itself, without calling the server, when the condition (a C expression
// over the parameters, evaluated first) holds: for what the vendor's answer is known to be (a
// reference count the API does not keep). Only where the vendor would answer the same.
#define REMORA_ANSWER_IF(value, ...) REMORA_ANNOTATE_("answer_if=" #value ";" #__VA_ARGS__)
// Not forwarded. The guest returns the API's `unsupported` error; the reason goes into the coverage report.
#define REMORA_UNSUPPORTED(reason) REMORA_ANNOTATE_("unsupported=" reason)
// Lifetime. RETAINS/RELEASES name the handle parameter whose application reference count the call
// changes. A handle returned (or written to an out parameter not marked REMORA_EXISTING) is created with
// one application reference. At session end the server drops every reference the guest still holds.
#define REMORA_RETAINS(param) REMORA_ANNOTATE_("retains=" #param)
#define REMORA_RELEASES(param) REMORA_ANNOTATE_("releases=" #param)
// Resources consumed by a successful call, charged to the tenant until the created handle is released.
// `kind` is one of: device_memory.
#define REMORA_RESOURCE(kind, bytes_expr) REMORA_ANNOTATE_("resource=" #kind ":" #bytes_expr)

// ---- Parameter annotations -------------------------------------------------------------------------

// Direction of the data a pointer parameter points at. Default for `const T *` is IN, otherwise OUT.
#define REMORA_IN REMORA_ANNOTATE_("in")
#define REMORA_OUT REMORA_ANNOTATE_("out")
#define REMORA_INOUT REMORA_ANNOTATE_("inout")
// Length of the pointed-to array: COUNT in elements of the pointee type, BYTES in bytes (for void *).
#define REMORA_COUNT(expr) REMORA_ANNOTATE_("count=" #expr)
#define REMORA_BYTES(expr) REMORA_ANNOTATE_("bytes=" #expr)
// An expression may read the parameter's own contents (a helper that walks a terminated list). On the
// server such a helper runs before the result can be checked against what the guest sent, so it sees
// the received bytes followed by 64 zero bytes, and MUST stop at a zero element found there (any
// element stride up to 64 bytes) instead of walking further.
// For an OUT array: the server tells the real length through this out parameter (the size-query
// pattern, e.g. param_value_size_ret). Only min(length, *ret) units travel back.
#define REMORA_LENGTH_RET(param) REMORA_ANNOTATE_("length_ret=" #param)
// A scalar the guest sends as the value of this C expression (over the parameters) instead of the
// application's: where the guest emulates what the application asked for (CL_MEM_USE_HOST_PTR
// travels as CL_MEM_COPY_HOST_PTR). The guest's own expressions still see the application's value.
#define REMORA_SEND(...) REMORA_ANNOTATE_("send=" #__VA_ARGS__)
// The pointer must not be NULL (default: NULL is forwarded as NULL, so the API reports its own error).
#define REMORA_NONNULL REMORA_ANNOTATE_("nonnull")
// Marks the API's error out-parameter (cl_int *errcode_ret). remora writes its own errors there.
#define REMORA_ERRCODE REMORA_ANNOTATE_("errcode")
// Handles written by this out parameter already exist (queries such as clGetDeviceIDs); they are
// not created by the call and carry no application reference.
#define REMORA_EXISTING REMORA_ANNOTATE_("existing")
// `const char **strings` with `count` entries and optional `lengths` (NULL, or 0 entries = NUL-terminated).
#define REMORA_STRINGS(count, lengths) REMORA_ANNOTATE_("strings=" #count "," #lengths)
// `const unsigned char **binaries` with `count` entries of lengths[i] bytes each.
#define REMORA_BINARIES(count, lengths) REMORA_ANNOTATE_("binaries=" #count "," #lengths)
// For an untyped info value (void *param_value): when `selector == value` the bytes are an array of
// handles of `type`, translated on the way back. Repeat for each such value.
#define REMORA_HANDLES_WHEN(selector, value, type) \
  REMORA_ANNOTATE_("handles_when=" #selector "," #value "," #type)
// Like REMORA_HANDLES_WHEN, for an info value that is a zero-terminated property list (e.g.
// CL_CONTEXT_PROPERTIES): the values of the listed keys are handles. `handle_keys` as in
// REMORA_PROPERTIES ("KEY:type[,KEY:type...]").
#define REMORA_PROPERTIES_WHEN(selector, value, handle_keys) \
  REMORA_ANNOTATE_("properties_when=" #selector "," #value "," handle_keys)
// A pointer to a struct (count 1 unless COUNT says otherwise) whose named fields are handles.
// `fields` is "field:type[,field:type...]".
#define REMORA_STRUCT_HANDLES(fields) REMORA_ANNOTATE_("struct_handles=" fields)
// For a pointer to a struct: its pointer fields that hold device addresses (meaningful on the server as
// they are; CUDA's accessPolicyWindow.base_ptr), "field[,field...]", nested fields as "a.b". They travel
// as the bytes they are. Any other pointer field stops the build.
#define REMORA_DEVICE_POINTERS(fields) REMORA_ANNOTATE_("device_pointers=" fields)
// For a pointer to a struct: pointer fields that mean nothing on the server (host data of another
// platform: CUDA's win32 security attributes), "field[,field...]": the server always sees them NULL,
// on the way in and on the way back.
#define REMORA_ZERO_FIELDS(fields) REMORA_ANNOTATE_("zero_fields=" fields)
// A zero-terminated list of key/value properties. `handle_keys` names keys whose value is a handle,
// "KEY:type[,KEY:type...]" (may be empty "").
#define REMORA_PROPERTIES(handle_keys) REMORA_ANNOTATE_("properties=" handle_keys)
// A callback parameter. `user_data` names the parameter passed back to it; `once` or `many` says
// whether it fires once per registration. `args` overrides the defaults for the callback's own
// parameters: "name:bytes(size_param)" for a buffer sized by another callback parameter.
#define REMORA_CALLBACK(user_data, lifetime, args) \
  REMORA_ANNOTATE_("callback=" #user_data "," #lifetime "," args)
// The user-data pointer of a callback: never dereferenced, never sent; kept in the guest.
#define REMORA_USER_DATA REMORA_ANNOTATE_("user_data")
// An OUT buffer that a non-blocking call fills later, when the command completes (clEnqueueReadBuffer
// with blocking_read = CL_FALSE). `event` names the parameter that receives the command's event. The
// data reaches the guest before any later call that could observe completion returns.
// On an IN buffer: the vendor may read the data until the command completes (a non-blocking
// clEnqueueWriteBuffer); the server keeps its own copy alive until then.
#define REMORA_DEFERRED(event) REMORA_ANNOTATE_("deferred=" #event)

#endif  // REMORA_SPEC_H
