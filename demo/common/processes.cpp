// SPDX-License-Identifier: MIT
// processes.cpp - forking, watching and stopping the demos' children.
#include "processes.hpp"

#include <signal.h>    // kill, signal, SIGKILL
#include <sys/prctl.h> // prctl(PR_SET_PDEATHSIG)
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // fork, _exit, getppid

#include <cerrno>       // errno, EINTR
#include <cstdio>       // std::fflush
#include <cstring>      // strsignal
#include <exception>    // std::exception
#include <system_error> // std::system_error
#include <thread>       // std::this_thread::sleep_for
#include <utility>      // std::exchange

#include <fmt/core.h>

namespace demo {
namespace {

// The child's side of start(): tie its life to the parent's, run the body,
// and leave with _exit so the parent's atexit handlers and buffers are not
// run a second time.
[[noreturn]] void run_child(pid_t parent, const std::function<int()>& body) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
    ::_exit(127); // the parent is already gone
  int status = 1;
  try {
    status = body();
  } catch (const std::exception& error) {
    fmt::print(stderr, "child process {}: {}\n", ::getpid(), error.what());
  }
  std::fflush(nullptr);
  ::_exit(status);
}

} // namespace

int run_reporting_errors(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::fflush(stdout);
    fmt::print(stderr, "{}: {}\n", program, error.what());
    return 1;
  }
}

void ignore_broken_pipes() { ::signal(SIGPIPE, SIG_IGN); }

ChildProcess ChildProcess::start(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0)
    run_child(parent, body);
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = other.reaped_;
    status_ = other.status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::reap(int options) {
  if (pid_ < 0 || reaped_)
    return;
  int status = 0;
  pid_t result;
  do
    result = ::waitpid(pid_, &status, options);
  while (result < 0 && errno == EINTR);
  if (result == pid_) {
    reaped_ = true;
    status_ = status;
  }
}

bool ChildProcess::finished() {
  reap(WNOHANG);
  return reaped_;
}

bool ChildProcess::wait_for(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!finished() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return reaped_;
}

void ChildProcess::send(int signal) const {
  if (pid_ > 0 && !reaped_)
    ::kill(pid_, signal);
}

void ChildProcess::stop() {
  if (pid_ < 0 || reaped_)
    return;
  ::kill(pid_, SIGKILL);
  reap(0);
}

bool ChildProcess::succeeded() const noexcept {
  return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
}

std::string ChildProcess::describe_end() const {
  if (!reaped_)
    return "still running";
  if (WIFEXITED(status_))
    return fmt::format("exited with status {}", WEXITSTATUS(status_));
  if (WIFSIGNALED(status_))
    return fmt::format("killed by signal {} ({})", WTERMSIG(status_), ::strsignal(WTERMSIG(status_)));
  return "ended";
}

} // namespace demo
