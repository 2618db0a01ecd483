#pragma once
// Running the real `oneclass` program from a test: to completion with its output captured
// (run_cli), or in the background as a child process that a test can wait for, signal or kill
// (CliProcess). The launcher execs the core program, so a child's pid is the real program's.
// Header-only, like test_support.h.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace oneclass::testing_support {

inline const std::string& cli_binary() {
  static const std::string path = ONECLASS_BINARY_DIR "/bin/oneclass";
  return path;
}

// `text` in single quotes for /bin/sh.
inline std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct CliResult {
  int exit_code = -1;  // 128 + signal when it died of one
  std::string out, err;
};

inline int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Runs the binary with `arguments` (already quoted where needed), capturing stdout and stderr;
// stderr goes through a file in `scratch_dir`.
inline CliResult run_cli(const std::string& arguments, const std::string& scratch_dir) {
  static int counter = 0;
  const std::string err_file = scratch_dir + "/stderr-" + std::to_string(++counter) + ".txt";
  const std::string command = quote(cli_binary()) + " " + arguments + " 2>" + quote(err_file);
  CliResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "popen failed: " << command;
    return result;
  }
  char buffer[4096];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, got);
  result.exit_code = exit_code_of(::pclose(pipe));
  result.err = read_file(err_file);
  std::filesystem::remove(err_file);
  return result;
}

inline std::string describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

// The program started in the background (fork and exec, no shell) with stdout and stderr written
// to `<output_prefix>.out` and `<output_prefix>.err`. A process still running when the object goes
// is killed, so a failed test leaves nothing behind.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& arguments, const std::string& output_prefix,
             const std::string& program = cli_binary())
      : out_file_(output_prefix + ".out"), err_file_(output_prefix + ".err") {
    std::vector<std::string> argv_text{program};
    argv_text.insert(argv_text.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // In the child: only async-signal-safe calls until exec.
      const int out = ::open(out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) ADD_FAILURE() << "fork failed";
  }
  ~CliProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait(30);
    }
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && exit_code_ < 0; }

  // True when the process has ended (and records how); does not wait.
  bool poll() {
    if (!running()) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = exit_code_of(status);
    return true;
  }

  // Waits up to `seconds` for the process to end and returns its exit code; a test failure, a
  // SIGKILL and -1 when it does not end in time.
  int wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!poll()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "process " << pid_ << " still running after " << seconds << " s; killing it";
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        exit_code_ = 128 + SIGKILL;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
  }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  std::string out() const { return read_file(out_file_); }
  std::string err() const { return read_file(err_file_); }
  std::string describe() const {
    return "exit " + std::to_string(exit_code_) + "\n--- stdout:\n" + out() + "\n--- stderr:\n" + err();
  }

 private:
  std::string out_file_, err_file_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace oneclass::testing_support
