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
  target_precompile_headers(${name} REUSE_FROM oneclass)
  oneclass_target_defaults(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS ${label} DISCOVERY_TIMEOUT 60)
endfunction()
