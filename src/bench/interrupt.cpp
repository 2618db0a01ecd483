#include "bench/interrupt.h"

#include <atomic>
#include <csignal>

namespace oneclass::bench {
namespace {

std::atomic<bool> interrupt_requested{false};

extern "C" void on_interrupt(int) {
  interrupt_requested.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process
}

}  // namespace

void catch_interrupts() { std::signal(SIGINT, on_interrupt); }

void release_interrupts() { std::signal(SIGINT, SIG_DFL); }

void stop_if_interrupted() {
  if (interrupt_requested.load()) throw Interrupted{};
}

}  // namespace oneclass::bench
