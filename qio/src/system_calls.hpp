// SPDX-License-Identifier: MIT
// system_calls.hpp - the one seam every system call goes through.
//
// The engine never calls the kernel directly: it calls a SystemCalls object,
// so tests can subclass it to inject short writes, EINTR, EAGAIN, ENOBUFS,
// EPIPE or ECONNRESET. Each function follows its libc namesake: the result
// on success, -1 with errno set on failure.
//
// Internal: the header is not installed and libqio exports none of this.
// The fault-injection tests, the fuzz model and qio-soak link the static
// qio_internal library, which keeps every symbol.
#ifndef QIO_SRC_SYSTEM_CALLS_HPP
#define QIO_SRC_SYSTEM_CALLS_HPP

#include <poll.h>       // pollfd, nfds_t
#include <signal.h>     // sigset_t, siginfo_t
#include <sys/socket.h> // msghdr
#include <sys/stat.h>   // struct stat
#include <sys/types.h>  // ssize_t, off_t
#include <sys/uio.h>    // iovec
#include <time.h>       // timespec

#include <cstddef> // std::size_t

#include "qio/engine.hpp"

namespace qio::detail {

class SystemCalls {
public:
  virtual ~SystemCalls() = default;

  virtual ssize_t writev(int fd, const iovec* vectors, int count);
  virtual ssize_t sendmsg(int fd, const msghdr* message, int flags);
  virtual ssize_t read(int fd, void* buffer, std::size_t length);
  virtual ssize_t recv(int fd, void* buffer, std::size_t length, int flags);
  virtual off_t lseek(int fd, off_t offset, int whence);
  virtual int poll(pollfd* fds, nfds_t count, int timeout_ms);
  virtual int fcntl_getfl(int fd);
  virtual int fcntl_setfl(int fd, int flags);
  virtual int fstat(int fd, struct stat* status);
  virtual int getsockopt(int fd, int level, int name, void* value, socklen_t* length);
  virtual int thread_sigmask(int how, const sigset_t* set, sigset_t* old_set);
  virtual int sigpending(sigset_t* set);
  virtual int sigtimedwait(const sigset_t* set, siginfo_t* info,
                           const timespec* timeout);
  // Flow control's clock (soft limits, stalls, close deadlines) and the
  // end of a close-after-drain.
  virtual int clock_gettime(clockid_t clock, timespec* now);
  virtual int shutdown(int fd, int how);
  virtual int close(int fd);
};

// The process-wide object that passes every call straight to the kernel.
SystemCalls& real_system_calls() noexcept;

// Engines over a SystemCalls of the caller's, which must outlive the
// engine. Engine's constructor for this is private, so the seam stays out
// of the public API:
//   qio::Engine engine = qio::detail::Seam::engine_over(faulty_calls);
struct Seam {
  static Engine engine_over(SystemCalls& system_calls) { return Engine(system_calls); }
};

} // namespace qio::detail

#endif // QIO_SRC_SYSTEM_CALLS_HPP
