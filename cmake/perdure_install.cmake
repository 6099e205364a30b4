# SPDX-License-Identifier: Apache-2.0
# Install rules: headers, libraries, the CLI and the mock broker, the CMake
# package (find_package(perdure CONFIG), targets perdure::<module> and
# perdure::perdure), perdure.pc and the Debian package (perdure_cpack).
# Included from the top-level CMakeLists after perdure_targets.
include(CMakePackageConfigHelpers)

set(perdure_programs perdure)
if(TARGET perdure-mock-kafka)
  list(APPEND perdure_programs perdure-mock-kafka)
endif()
# The programs are installed, not exported (perdure::perdure is the library).
# With shared libraries the installed programs and libraries find each
# other in their own prefix, wherever it is (a custom --prefix as well as
# /usr): RUNPATH is not inherited, so the libraries that load other
# perdure libraries carry one too (all but eventlog).
if(BUILD_SHARED_LIBS)
  file(RELATIVE_PATH perdure_bin_to_lib
       "/prefix/${CMAKE_INSTALL_BINDIR}" "/prefix/${CMAKE_INSTALL_LIBDIR}")
  set_target_properties(${perdure_programs} PROPERTIES
    INSTALL_RPATH "$ORIGIN/${perdure_bin_to_lib}")
  set(perdure_dependent_libraries ${perdure_libraries})
  list(REMOVE_ITEM perdure_dependent_libraries perdure_eventlog)
  set_target_properties(${perdure_dependent_libraries} PROPERTIES
    INSTALL_RPATH "$ORIGIN")
endif()
install(TARGETS ${perdure_programs}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS ${perdure_libraries} perdure_all
  EXPORT perdureTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

foreach(m eventlog runtime actors listeners tools)
  if(TARGET perdure_${m})
    set(exclude)
    if(m STREQUAL "listeners" AND NOT PERDURE_WITH_KAFKA)
      set(exclude PATTERN "kafka*" EXCLUDE)
    endif()
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${m}/include/
      DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
      FILES_MATCHING PATTERN "*.hpp" ${exclude})
  endif()
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/include/perdure/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/perdure COMPONENT development)

set(perdure_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/perdure)
install(EXPORT perdureTargets NAMESPACE perdure::
  DESTINATION ${perdure_cmake_dir} COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/perdureConfig.cmake.in
  ${PROJECT_BINARY_DIR}/perdureConfig.cmake
  INSTALL_DESTINATION ${perdure_cmake_dir})
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/perdureConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/perdureConfig.cmake
              ${PROJECT_BINARY_DIR}/perdureConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindLMDB.cmake
  DESTINATION ${perdure_cmake_dir} COMPONENT development)

# pkg-config: the libraries in link order, then what they need. Static
# libraries need their private dependencies on the command line too.
set(perdure_pc_libs)
foreach(m tools_embedded listeners actors tools runtime eventlog)
  if(TARGET perdure_${m})
    string(APPEND perdure_pc_libs " -lperdure_${m}")
  endif()
endforeach()
set(perdure_pc_requires "flatbuffers fmt libcrypto lmdb")
if(PERDURE_WITH_KAFKA)
  string(APPEND perdure_pc_requires " rdkafka")
endif()
if(BUILD_SHARED_LIBS)
  set(perdure_pc_private_libs "")
  set(perdure_pc_requires_private "${perdure_pc_requires}")
  set(perdure_pc_requires "flatbuffers fmt")
else()
  set(perdure_pc_private_libs "-lcaf_core -pthread")
  set(perdure_pc_requires_private "")
endif()
# Relocatable: the prefix is found from where perdure.pc lies.
file(RELATIVE_PATH perdure_pc_to_prefix
     "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/cmake/perdure.pc.in
  ${PROJECT_BINARY_DIR}/perdure.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/perdure.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)

include(perdure_cpack)
