// The back ends of remora-gen. Each takes the checked model and returns one file's text; main.cpp
// writes the files (only when changed). None of them re-reads the spec.
#pragma once

#include <string>

#include "gen/model.h"

namespace remora::gen {

// The first line of every generated file.
std::string generated_banner(const Api& api);

std::string emit_protocol_header(const Api& api);  // <api>_protocol.h
std::string emit_guest_header(const Api& api);     // <api>_guest.h
std::string emit_guest_source(const Api& api);     // <api>_guest.cpp
std::string emit_server_header(const Api& api);    // <api>_server.h
std::string emit_server_source(const Api& api);    // <api>_server.cpp
std::string emit_dummy_source(const Api& api);     // <api>_dummy.cpp
std::string emit_coverage_report(const Api& api);  // <api>_coverage.md
// The summary --print-coverage prints: totals and every function that is not plainly generated.
std::string coverage_summary(const Api& api);
// A stable text dump of the model, for golden tests of the front end.
std::string dump_model(const Api& api);

}  // namespace remora::gen
