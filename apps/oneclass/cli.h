#pragma once
// The `oneclass` command line as a function: the program and the Python package run the same parser
// and commands, so that a keyword argument of oneclass.run means what its flag means.
#include <string>
#include <vector>

namespace oneclass::cli {

/// Parses `args` (the words after `oneclass`) and runs the command, printing as the program does.
/// Returns the exit code. Throws Error with the parser's message for bad options, and the
/// command's Error when it fails.
int run_command_line(const std::vector<std::string>& args);

}  // namespace oneclass::cli
