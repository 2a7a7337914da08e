# Install rules and a Debian package through CPack:
#   cmake --build build/release --target package   ->  ckptfs_<version>_<arch>.deb
install(TARGETS ckptfs RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/ckptfs)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "ckptfs")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "ckptfs developers <dev@ckptfs.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mount a machine-learning checkpoint as a folder tree and remap its keys")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3, libfuse3-3, libzip4, libcjson1")
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
include(CPack)
