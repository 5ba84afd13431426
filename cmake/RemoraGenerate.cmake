# remora_generate(API name SPEC file OUT_VAR var [OPCODES table] [FOLDER name] [INCLUDES dir...]
#                 [DEPENDS file...])
#
# Runs remora-gen over SPEC at build time, writing into ${CMAKE_BINARY_DIR}/gen/<FOLDER> (default: the
# API's name; two specs of one API, as the compatibility tests have, need folders of their own). Outputs are
# rebuilt when the spec, any file it includes (remora-gen writes a depfile), or the generator changes;
# remora-gen rewrites a file only when its content changed, so unchanged outputs do not trigger
# recompiles.
#
# OPCODES names the API's committed opcode table (src/gen/opcode_table.h): the ctest
# gen.opcodes.<name> checks the spec against it, and the target update-opcodes-<name> appends the
# spec's new opcodes to it.
# Sets <var>_DIR to the output folder and <var>_GUEST, <var>_SERVER, <var>_DUMMY to the sources.
#
# REMORA_GEN_EXECUTABLE (cache, optional): an already built remora-gen to run instead of this build's.
# The sanitizer and fuzz builds (Makefile: build-asan/, build-fuzz/) use the main build's, so the
# generator is neither rebuilt nor run under a sanitizer there.
set(REMORA_GEN_EXECUTABLE "" CACHE FILEPATH "remora-gen to run instead of building one (sanitizer/fuzz builds)")
function(remora_generate)
  cmake_parse_arguments(G "" "API;SPEC;OUT_VAR;OPCODES;FOLDER" "INCLUDES;DEPENDS" ${ARGN})
  if(NOT G_FOLDER)
    set(G_FOLDER ${G_API})
  endif()
  set(out ${CMAKE_BINARY_DIR}/gen/${G_FOLDER})
  set(guest ${out}/${G_API}_guest.cpp)
  set(server ${out}/${G_API}_server.cpp)
  set(dummy ${out}/${G_API}_dummy.cpp)
  set(protocol ${out}/${G_API}_protocol.h)
  set(guest_h ${out}/${G_API}_guest.h)
  set(server_h ${out}/${G_API}_server.h)
  set(coverage ${out}/${G_API}_coverage.md)
  set(inc_args)
  foreach(d ${G_INCLUDES})
    list(APPEND inc_args -I ${d})
  endforeach()
  if(REMORA_GEN_EXECUTABLE)
    set(gen ${REMORA_GEN_EXECUTABLE})
  else()
    set(gen remora-gen)
  endif()
  set(depfile ${out}/${G_API}.d)
  # The depfile names the outputs in remora-gen's order, protocol header first: Ninja matches its first
  # target against the command's first output.
  add_custom_command(
    OUTPUT ${protocol} ${guest_h} ${guest} ${server_h} ${server} ${dummy} ${coverage}
    COMMAND ${gen} --spec ${G_SPEC} --out ${out} -I ${PROJECT_SOURCE_DIR}/include ${inc_args} --print-coverage
            --depfile ${depfile}
    DEPENDS ${gen} ${G_SPEC} ${PROJECT_SOURCE_DIR}/include/remora/spec.h ${G_DEPENDS}
    DEPFILE ${depfile}
    COMMENT "remora-gen: generating the ${G_API} stack from ${G_SPEC}"
    VERBATIM)
  if(G_OPCODES)
    add_test(NAME gen.opcodes.${G_API}
      COMMAND ${gen} --spec ${G_SPEC} --check-opcodes ${G_OPCODES} -I ${PROJECT_SOURCE_DIR}/include ${inc_args})
    add_custom_target(update-opcodes-${G_API}
      COMMAND ${gen} --spec ${G_SPEC} --update-opcodes ${G_OPCODES} -I ${PROJECT_SOURCE_DIR}/include ${inc_args}
      DEPENDS ${gen} VERBATIM)
  endif()
  set(${G_OUT_VAR}_DIR ${out} PARENT_SCOPE)
  set(${G_OUT_VAR}_GUEST ${guest} PARENT_SCOPE)
  set(${G_OUT_VAR}_SERVER ${server} PARENT_SCOPE)
  set(${G_OUT_VAR}_DUMMY ${dummy} PARENT_SCOPE)
  set(${G_OUT_VAR}_HEADERS ${protocol} ${guest_h} ${server_h} PARENT_SCOPE)
  set(${G_OUT_VAR}_COVERAGE ${coverage} PARENT_SCOPE)
endfunction()
