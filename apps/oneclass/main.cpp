// oneclass-core: the command-line program (the `oneclass` launcher starts it; see launcher.cpp).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "cli.h"
#include "oneclass/error.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);  // argv[0] is the core program
  try {
    return oneclass::cli::run_command_line(args);
  } catch (const oneclass::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error (LibTorch): %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {  // e.g. a file system error: still a message, not an abort
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
