#pragma once
// One exception type for everything a user can fix: a bad file, a bad option, missing data.
// The message names the file or value and says what to do; the CLI prints it and exits non-zero.
#include <stdexcept>
#include <string>

namespace oneclass {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace oneclass
