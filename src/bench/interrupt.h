#pragma once
// Ctrl-C in `oneclass bench`: the first one stops the run at the next check (between stacks, and
// every 256 training steps) and the report of what is finished is written; a second one ends the
// process at once (finished jobs are in the database either way).
namespace oneclass::bench {

/// Thrown by stop_if_interrupted once Ctrl-C was pressed.
struct Interrupted {};

/// From now on the first SIGINT is noted instead of ending the process.
void catch_interrupts();
/// SIGINT ends the process again.
void release_interrupts();
/// Throws Interrupted when Ctrl-C was pressed since catch_interrupts().
void stop_if_interrupted();

}  // namespace oneclass::bench
