// Small helpers over the libclang C API, shared by the spec parser's files. Internal to remora-gen.
#pragma once

#include <clang-c/Index.h>

#include <string>
#include <type_traits>
#include <vector>

#include "gen/model.h"

namespace remora::gen::clangx {

// Takes ownership of a CXString.
inline std::string take(CXString s) {
  const char* c = clang_getCString(s);
  std::string r = c ? c : "";
  clang_disposeString(s);
  return r;
}

inline std::string spelling(CXCursor c) { return take(clang_getCursorSpelling(c)); }
inline std::string spelling(CXType t) { return take(clang_getTypeSpelling(t)); }

// Visits the direct children of `c`; `f(child)` returns a CXChildVisitResult.
template <typename F>
void visit_children(CXCursor c, F&& f) {
  using Fn = std::remove_reference_t<F>;
  clang_visitChildren(
      c, [](CXCursor child, CXCursor, CXClientData d) { return (*static_cast<Fn*>(d))(child); }, &f);
}

// Where a cursor is, resolved through macro expansions to the place the spec wrote it.
inline SourceLoc location(CXSourceLocation l) {
  CXFile file = nullptr;
  unsigned line = 0, col = 0, off = 0;
  clang_getExpansionLocation(l, &file, &line, &col, &off);
  return SourceLoc{file ? take(clang_getFileName(file)) : std::string("<unknown>"), line, col};
}
inline SourceLoc location(CXCursor c) { return location(clang_getCursorLocation(c)); }

inline CXFile file_of(CXCursor c) {
  CXFile file = nullptr;
  clang_getExpansionLocation(clang_getCursorLocation(c), &file, nullptr, nullptr, nullptr);
  return file;
}

// Strips the sugar libclang exposes without meaning (elaborated `struct x`, attributes) but keeps
// typedef names, which carry the handle types.
inline CXType peel(CXType t) {
  for (;;) {
    if (t.kind == CXType_Elaborated) {
      t = clang_Type_getNamedType(t);
    } else if (t.kind == CXType_Attributed) {
      t = clang_Type_getModifiedType(t);
    } else {
      return t;
    }
  }
}

// Follows typedefs to the first type that is not one.
inline CXType resolve(CXType t) {
  t = peel(t);
  while (t.kind == CXType_Typedef) t = peel(clang_getTypedefDeclUnderlyingType(clang_getTypeDeclaration(t)));
  return t;
}

inline CXTypeKind canonical_kind(CXType t) { return clang_getCanonicalType(t).kind; }

inline bool is_arithmetic(CXType t) {
  CXTypeKind k = canonical_kind(t);
  return (k >= CXType_Bool && k <= CXType_LongDouble) || k == CXType_Float128 || k == CXType_Half ||
         k == CXType_Float16 || k == CXType_Enum;
}
inline bool is_char(CXType t) {
  CXTypeKind k = canonical_kind(t);
  return k == CXType_Char_S || k == CXType_Char_U || k == CXType_SChar;
}
inline bool is_uchar(CXType t) { return canonical_kind(t) == CXType_UChar; }
inline bool is_void(CXType t) { return canonical_kind(t) == CXType_Void; }
inline bool is_record(CXType t) { return canonical_kind(t) == CXType_Record; }
inline bool is_function(CXType t) {
  CXTypeKind k = canonical_kind(t);
  return k == CXType_FunctionProto || k == CXType_FunctionNoProto;
}

// The pointee of a pointer type (through typedefs), keeping the pointee's typedef names.
inline bool pointee_of(CXType t, CXType* pointee) {
  CXType r = resolve(t);
  if (r.kind == CXType_Pointer) {
    *pointee = clang_getPointeeType(r);
    return true;
  }
  CXType c = clang_getCanonicalType(t);  // decayed arrays and other sugar libclang does not expose
  if (c.kind == CXType_Pointer) {
    *pointee = clang_getPointeeType(c);
    return true;
  }
  return false;
}

// A type's spelling without top-level const ("const size_t" -> "size_t").
inline std::string unqualified_spelling(CXType t) {
  std::string s = spelling(t);
  if (s.rfind("const ", 0) == 0) s.erase(0, 6);
  if (s.size() > 6 && s.compare(s.size() - 6, 6, " const") == 0) s.erase(s.size() - 6);
  return s;
}

struct Field {
  std::string name;
  CXType type;
  // Members of the same anonymous union share storage: they get the same nonzero group.
  int union_group = 0;
};

namespace detail {
struct FieldWalk {
  std::vector<Field>* out;
  int* next_group;
  int group;
};
inline CXVisitorResult visit_field(CXCursor c, CXClientData d);
}  // namespace detail

// The fields of a struct or union type, in declaration order. Members of anonymous structs and unions
// are flattened into their parent, as C11 names them (desc.buffer for cl_image_desc's union).
inline std::vector<Field> fields_of(CXType record) {
  std::vector<Field> out;
  int next_group = 0;
  detail::FieldWalk walk{&out, &next_group, 0};
  clang_Type_visitFields(clang_getCanonicalType(record), detail::visit_field, &walk);
  return out;
}

inline CXVisitorResult detail::visit_field(CXCursor c, CXClientData d) {
  auto* walk = static_cast<FieldWalk*>(d);
  CXType t = clang_getCursorType(c);
  CXCursor decl = clang_getTypeDeclaration(clang_getCanonicalType(t));
  if (clang_getCanonicalType(t).kind == CXType_Record && clang_Cursor_isAnonymousRecordDecl(decl)) {
    bool is_union = clang_getCursorKind(decl) == CXCursor_UnionDecl;
    FieldWalk inner{walk->out, walk->next_group, is_union ? ++*walk->next_group : walk->group};
    clang_Type_visitFields(clang_getCanonicalType(t), visit_field, &inner);
  } else {
    walk->out->push_back(Field{spelling(c), t, walk->group});
  }
  return CXVisit_Continue;
}

}  // namespace remora::gen::clangx
