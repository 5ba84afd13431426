// The typed description of an API that remora-gen builds from a spec. The front end (spec_parser)
// fills it from libclang and the annotations and checks it; each back end (emit_*) reads it and
// writes one file. No back end looks at the spec or at clang again, so everything an emitter needs
// must be here, already decided: an emitter never guesses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace remora::gen {

struct SourceLoc {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
  std::string str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(column); }
};

struct HandleType {
  std::string name;           // the C typedef, e.g. "cl_mem"
  uint32_t index = 0;         // 1-based, in declaration order; 0 is "no type" on the wire
  std::string invalid_error;  // C expression for a bad handle, e.g. "CL_INVALID_MEM_OBJECT"
  // Functions that take one application reference / drop one (filled from RETAINS/RELEASES).
  std::string retain_fn;
  std::string release_fn;
  // REMORA_HANDLE_WITH_RECORD: the guest glue function that drops an object's record (what
  // REMORA_RECORD attached) when the guest retires the object, whichever call retired it.
  std::string on_retire;
  // REMORA_HANDLE_ACCEPTS: other handle types a parameter of this type takes too.
  std::vector<std::string> accepts;
  SourceLoc loc;
};

struct ApiErrors {
  std::string type;         // the API's status type, e.g. "cl_int"
  std::string success;      // e.g. "CL_SUCCESS"
  std::string transport;    // e.g. "CL_DEVICE_NOT_AVAILABLE"
  std::string unsupported;  // e.g. "CL_INVALID_OPERATION"
  std::string invalid;      // e.g. "CL_INVALID_VALUE"
  std::string no_memory;    // e.g. "CL_OUT_OF_HOST_MEMORY"
  std::string quota;        // e.g. "CL_MEM_OBJECT_ALLOCATION_FAILURE"
  // A call after the guest library shut down at process exit, e.g. "CUDA_ERROR_DEINITIALIZED";
  // optional, the transport error when a spec names none.
  std::string deinitialized;
};

enum class Direction { kIn, kOut, kInOut };

// What a parameter is, after defaults and annotations are applied.
enum class ParamKind {
  kScalar,      // passed by value: integer, float, enum, or a struct by value
  kHandle,      // a handle passed by value
  kString,      // const char *, NUL-terminated, in
  kBuffer,      // pointer to `count` elements of `elem_type` (bytes when elem is void), any direction
  kHandleArray, // pointer to `count` handles of `handle_type`, in or out
  kStrings,     // const char ** with count and optional lengths
  kBinaries,    // const unsigned char ** with count and lengths
  kProperties,  // zero-terminated key/value list, in
  kCallback,    // function pointer
  kUserData,    // a callback's user data: kept in the guest, never sent
  kErrcode,     // the API's error out-parameter
};

struct PropertyHandleKey {
  std::string key;  // C expression, e.g. "CL_CONTEXT_PLATFORM"
  std::string handle_type;
};

struct HandlesWhen {
  std::string selector;  // parameter name, e.g. "param_name"
  std::string value;     // C expression, e.g. "CL_CONTEXT_DEVICES"
  std::string handle_type;  // the value is an array of these handles, or (when empty)
  std::vector<PropertyHandleKey> property_keys;  // a zero-terminated property list with these handle keys
};

struct StructHandleField {
  std::string field;  // e.g. "buffer"
  std::string handle_type;
};


// One parameter of a callback's own signature.
struct CallbackArg {
  std::string name;
  std::string c_type;          // as spelled in the header
  enum class Kind { kScalar, kHandle, kString, kBytes, kUserData } kind = Kind::kScalar;
  std::string handle_type;     // kHandle
  std::string bytes_size_arg;  // kBytes: the callback parameter holding the size
};

struct Callback {
  std::string typedef_name;    // generated name of the function pointer type
  std::string user_data_param; // the API function's parameter carrying user data
  bool once = true;            // fires once per registration
  std::vector<CallbackArg> args;
  std::string return_type = "void";
};

struct Param {
  std::string name;
  std::string c_type;   // full C type as the header spells it (canonicalised where needed)
  ParamKind kind = ParamKind::kScalar;
  Direction dir = Direction::kIn;
  bool nonnull = false;
  uint64_t scalar_size = 0;  // kScalar: sizeof, for documentation and checks

  // kHandle / kHandleArray
  std::string handle_type;
  bool existing = false;  // out handles that already exist (queries)

  // kBuffer / kHandleArray: element type and length
  std::string elem_type;          // pointee type without const; "void" for bytes
  std::string count_expr;         // elements (COUNT), or
  std::string bytes_expr;         // bytes (BYTES); exactly one is set, or neither for "one element"
  std::string length_ret;         // parameter receiving the real length (size-query pattern)
  std::vector<HandlesWhen> handles_when;
  std::vector<StructHandleField> struct_handles;
  // A struct's pointer fields (dotted paths for nested ones) that are device addresses (travel as
  // they are) or that the server sees as NULL (REMORA_DEVICE_POINTERS, REMORA_ZERO_FIELDS).
  std::vector<std::string> device_pointer_fields;
  std::vector<std::string> zero_fields;

  // kStrings / kBinaries
  std::string count_param;
  std::string lengths_param;

  // kProperties
  std::vector<PropertyHandleKey> property_handles;

  // kCallback
  std::optional<Callback> callback;

  // Deferred out data (REMORA_DEFERRED): the event parameter of the command that fills it.
  std::string deferred_event;

  // REMORA_SEND: what the guest sends in place of the application's value (a scalar's C expression
  // over the parameters). Guest-side only: neither the server nor the signature sees it.
  std::string send_expr;

  // Set on parameters whose value another parameter's description consumes (a lengths array of
  // kStrings, a user data of kCallback). Emitters skip them when encoding.
  bool consumed = false;

  SourceLoc loc;
};

enum class Implementation {
  kGenerated,    // both sides generated
  kGuestHook,    // REMORA_GUEST: guest side hand-written
  kServerHook,   // REMORA_SERVER: server calls a hand-written replacement of the vendor function
  kLocal,        // REMORA_LOCAL: guest only, no opcode
  kUnsupported,  // REMORA_UNSUPPORTED
};

// REMORA_CHECK: the server refuses the call with `error` unless `cond` holds.
struct Check {
  std::string cond;   // C expression over the parameters
  std::string error;  // the API's error value
};

struct Resource {
  std::string kind;        // "device_memory"
  std::string bytes_expr;  // C expression over the parameters
};

struct Function {
  std::string name;
  uint32_t opcode = 0;  // 0 for kLocal and kUnsupported without an opcode
  std::string return_type;   // as spelled ("cl_int", "cl_mem", "void *", "void")
  enum class Returns { kVoid, kStatus, kHandle, kScalar, kPointer } returns = Returns::kStatus;
  std::string return_handle_type;  // kHandle
  std::vector<Param> params;

  bool async = false;
  bool blocking = false;
  std::string blocking_if;  // C expression
  bool cache = false;
  std::string cache_unless;  // C expression
  Implementation impl = Implementation::kGenerated;  // kGuestHook when there is a guest hook at all
  std::string hook;          // hand-written guest function (REMORA_GUEST or REMORA_LOCAL)
  std::string server_hook;   // hand-written server function (REMORA_SERVER); may go with `hook`
  // Declared by the spec itself, not the vendor: one of remora's own calls, made only by hand-written
  // guest glue and served by `server_hook`. Not loaded from, nor exported by, a vendor library.
  bool auxiliary = false;
  std::string unsupported_reason;
  // REMORA_REQUIRES: vendor functions a server hook calls besides the function itself; the dispatch
  // answers errors.unsupported before the hook when the vendor library lacks one.
  std::vector<std::string> requires_vendor;
  std::string requires_error;  // REMORA_REQUIRES_OR: the answer when one is missing (empty: unsupported)
  std::vector<Check> checks;  // REMORA_CHECK, in spec order
  // REMORA_RECORD: a C++ expression (over the parameters) whose value, a void *, becomes the new
  // handle's guest record (Object::api_data) once the call succeeded.
  std::string record;
  // REMORA_ANSWER_IF: the guest answers `answer_value` itself, without a call, when `answer_if` holds.
  std::string answer_if;
  std::string answer_value;
  std::string retains;   // parameter name
  std::string releases;  // parameter name
  std::optional<Resource> resource;
  std::string errcode_param;  // name of the kErrcode parameter, if any
  bool extension = false;     // declared outside the core header (found by extension-function lookup)
  // REMORA_PROC_TYPEDEFS: the vendor version that introduced this function's ABI (0: none named), and
  // whether it is an older ABI only the spec declares (emitted with a declaration of its own).
  uint32_t abi_version = 0;
  bool legacy_abi = false;

  SourceLoc loc;

  // A synchronisation point reports errors of earlier asynchronous calls.
  bool sync_point() const { return blocking || !blocking_if.empty(); }
};

// REMORA_REFUSE_UNLISTED: the vendor functions the spec leaves out that return `type` are exported by
// the guest all the same and answer `value`.
struct Refusal {
  std::string type;   // the return type as the header spells it, e.g. "cudaError_t"
  std::string value;  // C expression, e.g. "cudaErrorNotSupported"
  SourceLoc loc;
};

// A function the vendor headers declare and the spec does not.
struct UnlistedFunction {
  std::string name;
  std::string return_type;               // as the header spells it
  std::vector<std::string> param_types;  // as the header spells them (it need not name parameters)
  // What the guest's refusal of it answers (a Refusal's value); empty where no REMORA_REFUSE_UNLISTED
  // covers its return type or the guest cannot define it (variadic, defined by the header itself).
  std::string refusal;
};

// An ABI of a vendor function (REMORA_PROC_TYPEDEFS) that the spec does not implement.
struct RefusedAbi {
  std::string base;     // cuStreamGetCaptureInfo
  std::string symbol;   // cuStreamGetCaptureInfo_v2
  uint32_t version = 0;  // 11030
  // The headers declare the symbol: its refusal is the header's (Api::undeclared); else the guest
  // defines one by name only.
  bool declared = false;
  std::string refusal;  // what it answers (REMORA_REFUSE_UNLISTED); empty: none covers its type
};

struct Api {
  std::string name;         // "opencl"
  std::string spec_path;    // as given on the command line
  std::vector<std::string> headers;  // the spec's #includes of vendor headers, in order
  // Every file the spec read (the spec itself and all it includes, transitively): what the generated
  // files depend on, for the build's dependency file. No emitter reads it.
  std::vector<std::string> inputs;
  ApiErrors errors;
  std::vector<HandleType> handle_types;
  std::vector<Function> functions;  // in spec order
  // REMORA_THREAD_STATE: hand-written functions that read the calling thread's API state in the guest
  // and apply it on the server before each call; both empty when the API has none.
  std::string thread_state_guest;
  std::string thread_state_server;
  std::vector<Refusal> refusals;  // in spec order
  std::string proc_typedef_prefix;  // REMORA_PROC_TYPEDEFS; empty: none
  // REMORA_PROC_TYPEDEFS: the ABIs the vendor's headers name (their typedefs) that no function of the
  // spec implements, by base name and version.
  std::vector<RefusedAbi> refused_abis;
  // Functions declared by the vendor headers but absent from the spec, in header order (for the
  // coverage report, and for the guest's refusals).
  std::vector<UnlistedFunction> undeclared;

  const HandleType* find_handle(const std::string& name) const {
    for (const auto& h : handle_types)
      if (h.name == name) return &h;
    return nullptr;
  }
  // The hash of one function's wire signature, compared per opcode in the handshake: a server serves
  // an opcode to a guest only when both sides' signatures of it are equal (docs/generated-code.md,
  // "Compatibility"). It covers what changes the bytes of a call or their meaning: the function's
  // name, return kind and type, asynchrony, every parameter's C type, kind, direction, length and
  // handle annotations, and the API's per-call thread-state prefix. Parameter names are not part of
  // it (expressions are hashed with each parameter name replaced by its position), nor are hooks,
  // blocking hints or anything else that stays on one side. 0 for a function without an opcode.
  uint64_t signature(const Function& f) const;
};

}  // namespace remora::gen
