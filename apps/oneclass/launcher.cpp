// `oneclass`: a small launcher. It sets the numerical libraries' environment variables (which
// they read while loading, before any of our code could run) and then starts `oneclass-core`,
// the real program, from the same folder. Costs a few milliseconds; loading LibTorch twice to
// re-execute the real program instead would cost ~0.5 s.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "util/runtime_environment.h"

int main(int argc, char** argv) {
  oneclass::tune_environment();
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string core = "oneclass-core";
  if (length > 0) {
    self[length] = '\0';
    const std::string path(self);
    core = path.substr(0, path.find_last_of('/') + 1) + core;
  }
  ::execv(core.c_str(), argv);
  std::fprintf(stderr, "oneclass: cannot start %s: %s; rebuild with `make` (it builds both programs)\n", core.c_str(),
               std::strerror(errno));
  return 127;
}
