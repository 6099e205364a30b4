# SPDX-License-Identifier: Apache-2.0
# Every source, header, CMake file and script of perdure starts with an
# SPDX licence line (after a #! line). Run by CTest (spdx_headers) with
# -DROOT=<source dir>.
file(GLOB_RECURSE sources RELATIVE "${ROOT}"
  "${ROOT}/actors/*" "${ROOT}/cmake/*" "${ROOT}/docs/*.in"
  "${ROOT}/eventlog/*" "${ROOT}/listeners/*" "${ROOT}/runtime/*"
  "${ROOT}/samples/*" "${ROOT}/scripts/*" "${ROOT}/test/*" "${ROOT}/tools/*")
list(APPEND sources CMakeLists.txt)
set(missing "")
foreach(f IN LISTS sources)
  if(NOT f MATCHES "(\\.(cpp|hpp|h|fbs|cmake|in|sh|supp)|CMakeLists\\.txt)$"
     AND NOT f MATCHES "^scripts/")
    continue()
  endif()
  file(STRINGS "${ROOT}/${f}" head LIMIT_COUNT 2)
  if(NOT head MATCHES "SPDX-License-Identifier: Apache-2\\.0")
    list(APPEND missing "${f}")
  endif()
endforeach()
if(missing)
  list(JOIN missing "\n  " text)
  message(FATAL_ERROR "no SPDX-License-Identifier line in:\n  ${text}")
endif()
list(LENGTH sources n)
message(STATUS "spdx: ok (${n} files checked)")
