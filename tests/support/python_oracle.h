#pragma once
// Independent answers from Python (Debian's /usr/bin/python3 with SciPy / scikit-learn): a test
// writes its inputs as text, a short script computes the answer, the test compares. Without the
// module the comparison is skipped, except under CI, where a missing oracle is a broken set-up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace oneclass::testing_support {

inline bool python_module_available(const std::string& module) {
  return std::system(("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

// Skips the test (fails it under CI) when /usr/bin/python3 cannot import `module`; `package` is the
// Debian package that provides it.
#define ONECLASS_REQUIRE_PYTHON_MODULE(module, package)                                                     \
  do {                                                                                                      \
    if (!::oneclass::testing_support::python_module_available(module)) {                                   \
      if (std::getenv("CI")) FAIL() << "CI: /usr/bin/python3 cannot import " module "; install " package;   \
      GTEST_SKIP() << "/usr/bin/python3 cannot import " module "; apt-get install " package " to run this"; \
    }                                                                                                       \
  } while (0)

// Runs `script` with the path of a file holding `input` as its one argument; returns its standard
// output, or "" with a test failure when it does not exit 0.
inline std::string run_python_oracle(const std::string& script, const std::string& input) {
  // The pid keeps concurrent test processes (ctest -j) apart.
  const std::string stem = ::testing::TempDir() + "oneclass_oracle_" + std::to_string(::getpid());
  const std::string script_path = stem + ".py", input_path = stem + ".txt";
  std::ofstream(script_path) << script;
  std::ofstream(input_path) << input;
  const std::string command = "/usr/bin/python3 " + script_path + " " + input_path;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  if (pipe) {
    char buffer[4096];
    for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, got);
  }
  const int status = pipe ? ::pclose(pipe) : -1;
  std::remove(script_path.c_str());
  std::remove(input_path.c_str());
  if (status != 0) {
    ADD_FAILURE() << "oracle script failed (" << status << "): " << command;
    return "";
  }
  return output;
}

}  // namespace oneclass::testing_support
