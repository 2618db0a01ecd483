# Compile settings shared by every oneclass target.
function(oneclass_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(ONECLASS_SANITIZE)
    # Undefined behaviour aborts the test (by default UBSan only prints and carries on).
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# One GoogleTest executable per test file, registered with CTest under a label.
function(oneclass_add_test name source label)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE oneclass GTest::gtest GTest::gtest_main)
  # tests may use internal headers, and the shared helpers in tests/support/
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE ONECLASS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                             ONECLASS_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_precompile_headers(${name} REUSE_FROM oneclass_util)
  oneclass_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS ${label} DISCOVERY_TIMEOUT 60)
endfunction()

# One layer of the library: a static library oneclass_<layer> from SOURCES. USES names the other
# layers its sources may include (linked PRIVATE); PUBLIC and PRIVATE are further link items
# (oneclass_<layer> among PUBLIC ones counts as used too). Public headers live in
# include/oneclass/<layer>/, private ones in src/<layer>/.
set(ONECLASS_LAYERS "" CACHE INTERNAL "")
function(oneclass_add_layer layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;USES;PUBLIC;PRIVATE" ${ARGN})
  set(target oneclass_${layer})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(oneclass::${layer} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  set(uses ${ARG_USES})
  foreach(item IN LISTS ARG_PUBLIC)
    if(item MATCHES "^oneclass_(.+)$")
      list(APPEND uses ${CMAKE_MATCH_1})
    endif()
  endforeach()
  list(TRANSFORM ARG_USES PREPEND oneclass_ OUTPUT_VARIABLE used_targets)
  # {fmt} for the build tree's targets only (no public header uses it): its FMT_HEADER_ONLY
  # definition must reach every target that reuses the precompiled header, or the header is not used.
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC} $<BUILD_INTERFACE:fmt::fmt-header-only>
                                  PRIVATE ${used_targets} ${ARG_PRIVATE})
  if(NOT layer STREQUAL "util")
    target_precompile_headers(${target} REUSE_FROM oneclass_util)
  endif()
  oneclass_target_defaults(${target})
  set(ONECLASS_LAYER_USES_${layer} ${uses} CACHE INTERNAL "")
  set(ONECLASS_LAYERS ${ONECLASS_LAYERS} ${layer} CACHE INTERNAL "")
endfunction()

# Refuses a layer's source or header that includes another layer it does not list: the include
# lines of src/<layer>/ and include/oneclass/<layer>/ are read at configure time.
function(oneclass_check_layers)
  foreach(layer IN LISTS ONECLASS_LAYERS)
    file(GLOB files ${PROJECT_SOURCE_DIR}/src/${layer}/*.cpp ${PROJECT_SOURCE_DIR}/src/${layer}/*.h
                    ${PROJECT_SOURCE_DIR}/src/${layer}/*.inc ${PROJECT_SOURCE_DIR}/include/oneclass/${layer}/*.h)
    set(allowed ${layer} ${ONECLASS_LAYER_USES_${layer}})
    foreach(file IN LISTS files)
      file(STRINGS ${file} includes REGEX "^#include \"")
      foreach(line IN LISTS includes)
        if(line MATCHES "^#include \"(oneclass/)?([a-z_]+)/")
          set(included ${CMAKE_MATCH_2})
          if(included IN_LIST ONECLASS_LAYERS AND NOT included IN_LIST allowed)
            file(RELATIVE_PATH where ${PROJECT_SOURCE_DIR} ${file})
            message(FATAL_ERROR "${where}: ${line}: layer '${layer}' does not use layer '${included}' (it uses: "
                                "${ONECLASS_LAYER_USES_${layer}}); include only what its oneclass_add_layer() "
                                "in src/CMakeLists.txt lists, or list it there if the layering allows")
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()
