# SPDX-License-Identifier: Apache-2.0
# Warnings and sanitizers live on one INTERFACE target that every target links
# PRIVATE, so a flag change reaches the whole tree from here.
add_library(perdure_warnings INTERFACE)
target_compile_options(perdure_warnings INTERFACE -Wall -Wextra)
if(PERDURE_WERROR)
  target_compile_options(perdure_warnings INTERFACE -Werror)
endif()
if(PERDURE_SANITIZERS)
  target_compile_options(perdure_warnings INTERFACE
    -fsanitize=${PERDURE_SANITIZERS} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(perdure_warnings INTERFACE -fsanitize=${PERDURE_SANITIZERS})
endif()
if(PERDURE_DEBUG_INFO STREQUAL "lines")
  # After the build type's -g, so it wins; only where the build type has -g.
  target_compile_options(perdure_warnings INTERFACE
    $<$<CONFIG:Debug,RelWithDebInfo>:-g1>)
elseif(NOT PERDURE_DEBUG_INFO STREQUAL "full")
  message(FATAL_ERROR
    "PERDURE_DEBUG_INFO is '${PERDURE_DEBUG_INFO}': it must be full or lines")
endif()

# perdure_test(NAME SOURCES... LIBS ...) builds a doctest binary and registers
# each TEST_CASE with CTest.
function(perdure_test name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_LIBS} doctest::doctest perdure_warnings)
  target_compile_definitions(${name} PRIVATE
    PERDURE_TEST_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")
  if(NOT PERDURE_OPTIMIZE_TESTS)
    # After the build type's -O2 -g, so these win (PERDURE_OPTIMIZE_TESTS).
    target_compile_options(${name} PRIVATE -O0 -g1)
  endif()
  set(props "")
  if(arg_LABELS)
    set(props PROPERTIES LABELS "${arg_LABELS}")
  endif()
  doctest_discover_tests(${name} ${props})
endfunction()
