// SPDX-License-Identifier: MIT
// timed_run.hpp - one timed run, the same for every case that has a
// writer on one end of a connected pair and a reader thread on the other.
#ifndef QIO_BENCH_TIMED_RUN_HPP
#define QIO_BENCH_TIMED_RUN_HPP

#include <unistd.h> // alarm

#include <string>  // the connection's error
#include <utility> // std::declval, std::move

#include "bench.hpp"
#include "syscall_count.hpp"
#include "timing.hpp"
#include "transport.hpp"

namespace bench {

// No run may take more than this: a hung run kills the program (SIGALRM's
// default action) rather than the test suite's whole time budget.
inline constexpr unsigned watchdog_seconds = 60;

template <class Written, class Read> struct TimedRun {
  std::string connect_error; // the pair could not be made: nothing ran
  Written written{};         // what the writer returned
  Read read{};               // what the reader returned, at end of file
  CpuTime writer_cpu;        // this thread's (the writer's) CPU time
  SyscallTally syscalls;     // this thread's write-family calls
  double seconds = 0;        // from the start to the reader's end of file
};

// Connects a pair over `transport`, starts a `ReaderType(owned fd, check_content)`
// on one end, and runs `write(fd, deadline)` here on the other, with the
// deadline `run_length` from the start: the writer owns its descriptor and
// closes it when done, which ends the reader.
template <class ReaderType, class Write>
auto timed_run(Transport transport, Clock::duration run_length, bool check_content, Write write) {
  using Written = decltype(write(0, Clock::time_point{}));
  using Read = decltype(std::declval<ReaderType&>().join());
  TimedRun<Written, Read> run;
  SocketPair pair = connect_pair(transport);
  if (!pair.error.empty()) {
    run.connect_error = pair.error;
    return run;
  }
  ::alarm(watchdog_seconds);
  ReaderType reader(std::move(pair.reader), check_content);
  reset_syscall_tally();
  const Clock::time_point start = Clock::now();
  const CpuTime cpu_before = thread_cpu_time();
  run.written = write(pair.writer.release(), start + run_length);
  run.writer_cpu = thread_cpu_time() - cpu_before;
  run.syscalls = syscall_tally();
  run.read = reader.join();
  ::alarm(0);
  run.seconds = seconds_between(start, run.read.finished);
  return run;
}

} // namespace bench

#endif // QIO_BENCH_TIMED_RUN_HPP
