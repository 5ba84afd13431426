# Each API's run declaration (apis/<api>/run.conf; the format is src/cli/api_setup.h's comment): what
# `remora run` sets up for a program. CMake reads the same file, so a library name is listed once:
#
#   remora_run_conf(API cuda GUEST remora-cuda)
#
# copies the declaration to build/lib/remora-run/<api>.conf, where `remora run` reads it, checks that
# its guest line names GUEST's file, and makes build/lib/<api>/ hold exactly its links (each `link`
# NAME -> ../<guest file>, each ALIAS -> NAME) after GUEST is built, for linking programs with -l.
set(REMORA_RUN_CONF_DIR ${CMAKE_LIBRARY_OUTPUT_DIRECTORY}/remora-run)
# Only the APIs of this configuration: a declaration left from an earlier one (an API no longer
# built) must not reach `remora run`.
file(REMOVE_RECURSE ${REMORA_RUN_CONF_DIR})

function(remora_run_conf)
  cmake_parse_arguments(RC "" "API;GUEST" "" ${ARGN})
  set(conf ${CMAKE_CURRENT_SOURCE_DIR}/run.conf)
  configure_file(${conf} ${REMORA_RUN_CONF_DIR}/${RC_API}.conf COPYONLY)
  get_target_property(out_name ${RC_GUEST} OUTPUT_NAME)
  if(NOT out_name)
    set(out_name ${RC_GUEST})
  endif()
  set(guest_file ${CMAKE_SHARED_LIBRARY_PREFIX}${out_name}${CMAKE_SHARED_LIBRARY_SUFFIX})

  set(links_dir ${CMAKE_LIBRARY_OUTPUT_DIRECTORY}/${RC_API})
  set(commands "")
  set(guest_seen FALSE)
  file(STRINGS ${conf} lines)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "#.*" "" line "${line}")
    string(STRIP "${line}" line)
    if(line STREQUAL "")
      continue()
    endif()
    separate_arguments(fields UNIX_COMMAND "${line}")
    list(POP_FRONT fields directive)
    if(directive STREQUAL "guest")
      list(GET fields 0 declared)
      if(NOT declared STREQUAL guest_file)
        message(FATAL_ERROR "${conf}: the guest line names ${declared}, but target ${RC_GUEST} builds ${guest_file}")
      endif()
      set(guest_seen TRUE)
    elseif(directive STREQUAL "link")
      list(POP_FRONT fields name)
      list(APPEND commands COMMAND ${CMAKE_COMMAND} -E create_symlink ../${guest_file} ${links_dir}/${name})
      foreach(alias IN LISTS fields)
        list(APPEND commands COMMAND ${CMAKE_COMMAND} -E create_symlink ${name} ${links_dir}/${alias})
      endforeach()
    endif()
    # icd, preload and env concern only `remora run`.
  endforeach()
  if(NOT guest_seen)
    message(FATAL_ERROR "${conf}: no guest line")
  endif()
  if(commands)
    set(commands COMMAND ${CMAKE_COMMAND} -E make_directory ${links_dir} ${commands})
  endif()
  # Rebuilt from the declaration each time, so a name removed from it goes from the build tree too;
  # the guest relinks when the declaration changes, which runs this again.
  add_custom_command(TARGET ${RC_GUEST} POST_BUILD COMMAND ${CMAKE_COMMAND} -E rm -rf ${links_dir} ${commands} VERBATIM)
  set_property(TARGET ${RC_GUEST} APPEND PROPERTY LINK_DEPENDS ${conf})
endfunction()
