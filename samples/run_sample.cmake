# SPDX-License-Identifier: Apache-2.0
# cmake -DPROGRAM=... -DEXPECTED=<regex> -P run_sample.cmake
# Runs one sample; passes when it exits 0 AND its output matches EXPECTED.
# (CTest's PASS_REGULAR_EXPRESSION alone ignores the exit code.)
execute_process(COMMAND "${PROGRAM}" ${ARGS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "sample exited with ${rc}")
endif()
if(NOT out MATCHES "${EXPECTED}")
  message(FATAL_ERROR "sample output does not match: ${EXPECTED}")
endif()
