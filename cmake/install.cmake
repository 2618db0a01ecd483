# `cmake --install` (and `make install`): the libraries, the public headers, the programs, and a
# CMake package, so that another project writes
#   find_package(oneclass REQUIRED)
#   target_link_libraries(app PRIVATE oneclass::oneclass)   # C++: the static layers
#   target_link_libraries(app PRIVATE oneclass::c)          # C: the C API, liboneclass.so
include(CMakePackageConfigHelpers)

set(ONECLASS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/oneclass)
set(layer_targets "")
foreach(layer IN LISTS ONECLASS_LAYERS)
  list(APPEND layer_targets oneclass_${layer})
endforeach()
install(TARGETS oneclass ${layer_targets} EXPORT oneclassTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/oneclass DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/oneclass/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/oneclass)
install(EXPORT oneclassTargets NAMESPACE oneclass:: DESTINATION ${ONECLASS_CMAKE_DIR})
# The C API's shared library: its own export set, so that a C project loads it without LibTorch's
# CMake package (the library finds LibTorch at run time through its RPATH).
install(TARGETS oneclass_c EXPORT oneclassCTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT oneclassCTargets NAMESPACE oneclass:: DESTINATION ${ONECLASS_CMAKE_DIR})

# The package config finds what the static libraries link, with the options this build had.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/oneclassConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/oneclassConfig.cmake INSTALL_DESTINATION ${ONECLASS_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/oneclassConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/oneclassConfig.cmake ${PROJECT_BINARY_DIR}/oneclassConfigVersion.cmake
        DESTINATION ${ONECLASS_CMAKE_DIR})
