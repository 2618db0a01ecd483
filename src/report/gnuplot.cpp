// Finding, probing and running gnuplot; see gnuplot.h.
#include "report/gnuplot.h"

#include "oneclass/config.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include "oneclass/error.h"
#include "oneclass/util/temp_dir.h"

extern char** environ;

namespace oneclass::report {
namespace {

const char* const kInstallHint = "install it with `apt-get install gnuplot-nox`";
const char* const kFont = "Sans";

// ---------------------------------------------------------------------------------------------
// Finding and running gnuplot

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

// Which program we would run, and where that choice came from (for the status line).
struct Program {
  std::string path;   // empty: nothing found
  std::string given;  // the ONECLASS_GNUPLOT value when the override is set
};

Program resolve_gnuplot() {
  if (const char* env = std::getenv("ONECLASS_GNUPLOT"); env && *env) {
    std::string given = env;
    std::string path = given.find('/') == std::string::npos ? find_on_path(given) : given;
    return {path.empty() ? given : path, given};
  }
#ifdef ONECLASS_GNUPLOT_EXECUTABLE
  // The build-time path wins, unless the binary moved since (then PATH is the better guess).
  if (is_executable_file(ONECLASS_GNUPLOT_EXECUTABLE)) return {ONECLASS_GNUPLOT_EXECUTABLE, ""};
#endif
  return {find_on_path("gnuplot"), ""};
}

struct RunResult {
  int status = -1;      // exit code; -1 when it could not start or died from a signal
  std::string output;   // stdout and stderr interleaved
  std::string failure;  // why status is -1
};

// Runs argv[0] without a shell (paths need no quoting) and captures everything it prints.
// stdin is /dev/null so a program that waits for input cannot hang us.
RunResult run_captured(const std::vector<std::string>& argv) {
  RunResult result;
  int fds[2];
  if (pipe(fds) != 0) {
    result.failure = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result.failure = std::strerror(rc);
    return result;
  }
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) result.output.append(buf, static_cast<size_t>(n));
    else if (errno != EINTR) break;
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) result.status = WEXITSTATUS(wstatus);
  else result.failure = "killed by signal " + std::to_string(WTERMSIG(wstatus));
  return result;
}

std::string describe_exit(const RunResult& r) {
  return r.status >= 0 ? "exit status " + std::to_string(r.status) : r.failure;
}

// Keeps error messages readable when gnuplot prints pages of warnings: the end has the cause.
std::string tail(const std::string& text, size_t max_chars = 2000) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max_chars) t = "..." + t.substr(t.size() - max_chars);
  return t.empty() ? "(no output)" : t;
}

struct Probe {
  bool ok = false;
  std::string version;  // e.g. "5.4"
  std::string why_not;  // status text when !ok
};

// One run answers both questions: does it start, and does it know the pngcairo terminal.
Probe probe(const Program& program) {
  Probe p;
  if (program.path.empty()) {
    p.why_not = std::string("gnuplot not found; ") + kInstallHint;
    return p;
  }
  if (!is_executable_file(program.path)) {
    p.why_not = "gnuplot not found at ONECLASS_GNUPLOT=" + program.given +
                "; point it at a gnuplot executable or unset it";
    if (program.given.empty()) p.why_not = "gnuplot not found at " + program.path + "; " + kInstallHint;
    return p;
  }
  RunResult r = run_captured({program.path, "-d", "-e",
                              "set terminal pngcairo; set print '-'; print 'version ', GPVAL_VERSION"});
  size_t at = r.output.find("version ");
  if (r.status != 0 || at == std::string::npos) {
    p.why_not = program.path + " did not run as gnuplot with the pngcairo terminal (" +
                describe_exit(r) + ": " + tail(r.output, 300) + "); " + kInstallHint +
                (program.given.empty() ? "" : " or point ONECLASS_GNUPLOT at a working gnuplot");
    return p;
  }
  std::istringstream(r.output.substr(at + 8)) >> p.version;
  p.ok = true;
  return p;
}

struct Gnuplot {
  Program program;
  Probe probe;
};

// Probing costs a process start, so the answer is cached, keyed by the program path: tests and
// users may change ONECLASS_GNUPLOT between calls, which must not reuse a stale answer.
Gnuplot find_gnuplot() {
  static std::mutex mutex;
  static std::map<std::string, Probe> cache;
  Program program = resolve_gnuplot();
  std::string key = program.path + '\n' + program.given;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, probe(program)).first;
  return {program, it->second};
}

// Writes `text` to `name` in the scratch folder.
std::string write_scratch(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string file = dir.file(name);
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out.flush()) throw Error("cannot write " + file + " for the figures; check free space in " + dir.path().string());
  return file;
}

}  // namespace

GnuplotStatus gnuplot_status() {
  const Gnuplot g = find_gnuplot();
  return {g.probe.ok, g.program.path, g.probe.version, g.probe.why_not};
}

void run_gnuplot(const std::string& script, const std::vector<std::string>& data_texts, const std::string& what) {
  const Gnuplot gnuplot = find_gnuplot();
  if (!gnuplot.probe.ok) throw Error("cannot draw figures: " + gnuplot.probe.why_not);
  const std::string& program = gnuplot.program.path;
  TempDir dir("oneclass-figures");
  for (size_t i = 0; i < data_texts.size(); ++i) write_scratch(dir, "d" + std::to_string(i) + ".dat", data_texts[i]);
  const std::string script_path =
      write_scratch(dir, "figures.gp", "set encoding utf8\ndatadir = " + quote(dir.path()) + "\n" + script);
  const RunResult r = run_captured({program, "-d", script_path});
  if (r.status != 0) {
    throw Error("gnuplot failed (" + describe_exit(r) + ") drawing " + what + " with `" + program + " -d " +
                script_path + "` (script removed); no figure was written. gnuplot said:\n" + tail(r.output) +
                "\nCheck that the figure folders exist and are writable.");
  }
}

// Data values keep full float precision; gnuplot skips "NaN" points instead of failing on them.
std::string gnuplot_number(double v) {
  if (!std::isfinite(v)) return "NaN";
  return fmt::format("{:.9g}", v);
}

// A gnuplot single-quoted string: no backslash escapes, only '' for a quote. A newline would end
// the command, so it becomes a space.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "'";
}

std::string font(int size, bool bold) {
  return quote(std::string(kFont) + (bold ? " Bold," : ",") + std::to_string(size));
}

size_t text_length(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace oneclass::report
