// The model of the fake API (fake_api.h), built by hand as the front end would build it from a spec
// like tests/gen/mini/mini.spec.c. Used by src/gen/emit_test.cpp and the emit fixture.
#pragma once

#include "gen/model.h"

namespace remora::gen::testing {

Api fake_api_model();

}  // namespace remora::gen::testing
