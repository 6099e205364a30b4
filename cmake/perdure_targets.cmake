# SPDX-License-Identifier: Apache-2.0
# The names users link: perdure::<module> and perdure::perdure (every module
# this build has), the same through add_subdirectory and an installed
# package; shared libraries get versioned sonames (libperdure_runtime.so.0.2).
set(perdure_modules eventlog runtime actors listeners tools tools_embedded)
set(perdure_libraries)
foreach(m ${perdure_modules})
  if(TARGET perdure_${m})
    list(APPEND perdure_libraries perdure_${m})
    add_library(perdure::${m} ALIAS perdure_${m})
    set_target_properties(perdure_${m} PROPERTIES
      EXPORT_NAME ${m}
      VERSION ${PROJECT_VERSION}
      SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  endif()
endforeach()

# perdure::perdure: every module this build has.
add_library(perdure_all INTERFACE)
set_target_properties(perdure_all PROPERTIES EXPORT_NAME perdure)
target_link_libraries(perdure_all INTERFACE ${perdure_libraries})
add_library(perdure::perdure ALIAS perdure_all)

