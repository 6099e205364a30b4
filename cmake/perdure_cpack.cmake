# SPDX-License-Identifier: Apache-2.0
# `cpack -G DEB` in the build directory: one Debian package with the CLI,
# the mock broker, the headers, the libraries and the CMake/pkg-config
# files. Depends lists the Debian packages perdure's libraries and programs
# load at run time, and the -dev packages a consumer's build needs (the
# package config finds them, and static libraries link them).
set(CPACK_PACKAGE_NAME perdure)
set(CPACK_PACKAGE_VENDOR "perdure developers")
set(CPACK_PACKAGE_CONTACT "perdure developers <perdure@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "embeddable durable execution for C++20: workflows and virtual actors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(perdure_deb_depends
    "libcaf-dev (>= 0.17.6), libcaf-core0.17 (>= 0.17.6), liblmdb-dev, liblmdb0"
    "libflatbuffers-dev (>= 2.0), libflatbuffers2, libfmt-dev, libfmt9, libssl-dev, libssl3"
    "libstdc++6 (>= 12), libc6")
if(PERDURE_WITH_KAFKA)
  list(APPEND perdure_deb_depends "librdkafka-dev (>= 2.0), librdkafka1 (>= 2.0), pkg-config")
endif()
list(JOIN perdure_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
set(CPACK_GENERATOR DEB)
include(CPack)
