// SPDX-License-Identifier: MIT
// processes.hpp - the demos' child processes, which never outlive them.
//
// The demos run each peer in a process of its own, as the programs of the
// 1991 story were. A ChildProcess is killed with SIGKILL and reaped by its
// destructor if it is still running, so every failure path, exception or
// early return stops it; and each child asks the kernel to kill it if the
// demo itself dies first (PR_SET_PDEATHSIG), so not even a demo killed by a
// test's time limit leaves a peer behind.
#ifndef QIO_DEMO_PROCESSES_HPP
#define QIO_DEMO_PROCESSES_HPP

#include <sys/types.h> // pid_t

#include <chrono>     // std::chrono::milliseconds, waiting with a limit
#include <functional> // std::function, the child's body
#include <string>     // std::string, descriptions of how a child ended
#include <string_view> // std::string_view, the program's name

namespace demo {

// Runs a demo's main work and returns its exit status; an exception
// (a socket that could not be set up, a fork that failed...) becomes one
// line "program: what went wrong" on stderr and exit status 1, after the
// destructors have stopped any child processes.
int run_reporting_errors(std::string_view program, const std::function<int()>& body);

// Sets SIGPIPE to be ignored: a write to a vanished peer then fails with
// EPIPE instead of killing the demo (children inherit the setting).
void ignore_broken_pipes();

class ChildProcess {
public:
  // Forks a child that runs `body` and exits with its result (1 if it
  // throws; the message goes to stderr). Output buffered so far is flushed
  // first, so it is not printed twice. Throws std::system_error if fork
  // fails.
  static ChildProcess start(const std::function<int()>& body);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Stops (SIGKILL) and reaps the child if it is still running.
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // True once the child has ended and been reaped; never blocks.
  bool finished();
  // Waits up to `limit` for the child to end; true if it did.
  bool wait_for(std::chrono::milliseconds limit);
  // Sends `signal` to the child if it is still running.
  void send(int signal) const;
  // SIGKILL, then reaps it. Does nothing once the child has been reaped.
  void stop();

  // After finished(): true if it exited with status 0.
  bool succeeded() const noexcept;
  // After finished(): "exited with status 3", "killed by SIGKILL", ...
  std::string describe_end() const;

private:
  explicit ChildProcess(pid_t pid) noexcept : pid_(pid) {}
  void reap(int options);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

} // namespace demo

#endif // QIO_DEMO_PROCESSES_HPP
