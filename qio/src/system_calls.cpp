// SPDX-License-Identifier: MIT
// system_calls.cpp - the real kernel behind the SystemCalls seam.
#include "system_calls.hpp"

#include <fcntl.h>   // fcntl
#include <pthread.h> // pthread_sigmask
#include <unistd.h>  // read, lseek

#include <cerrno> // errno

namespace qio::detail {

ssize_t SystemCalls::writev(int fd, const iovec* vectors, int count) {
  return ::writev(fd, vectors, count);
}
// One vector (a fan-out tick's single message per peer) goes by send(2):
// the kernel then skips importing the message header and vector array.
ssize_t SystemCalls::sendmsg(int fd, const msghdr* message, int flags) {
  if (message->msg_iovlen == 1 && message->msg_name == nullptr && message->msg_controllen == 0)
    return ::send(fd, message->msg_iov[0].iov_base, message->msg_iov[0].iov_len, flags);
  return ::sendmsg(fd, message, flags);
}
ssize_t SystemCalls::read(int fd, void* buffer, std::size_t length) {
  return ::read(fd, buffer, length);
}
ssize_t SystemCalls::recv(int fd, void* buffer, std::size_t length, int flags) {
  return ::recv(fd, buffer, length, flags);
}
off_t SystemCalls::lseek(int fd, off_t offset, int whence) {
  return ::lseek(fd, offset, whence);
}
int SystemCalls::poll(pollfd* fds, nfds_t count, int timeout_ms) {
  return ::poll(fds, count, timeout_ms);
}
int SystemCalls::fcntl_getfl(int fd) { return ::fcntl(fd, F_GETFL); }
int SystemCalls::fcntl_setfl(int fd, int flags) {
  return ::fcntl(fd, F_SETFL, flags);
}
int SystemCalls::fstat(int fd, struct stat* status) {
  return ::fstat(fd, status);
}
int SystemCalls::getsockopt(int fd, int level, int name, void* value, socklen_t* length) {
  return ::getsockopt(fd, level, name, value, length);
}
// pthread_sigmask reports its error as a result, not in errno; the seam
// keeps the libc convention of every other call.
int SystemCalls::thread_sigmask(int how, const sigset_t* set, sigset_t* old_set) {
  const int error = ::pthread_sigmask(how, set, old_set);
  if (error == 0)
    return 0;
  errno = error;
  return -1;
}
int SystemCalls::sigpending(sigset_t* set) { return ::sigpending(set); }
int SystemCalls::sigtimedwait(const sigset_t* set, siginfo_t* info,
                              const timespec* timeout) {
  return ::sigtimedwait(set, info, timeout);
}

int SystemCalls::clock_gettime(clockid_t clock, timespec* now) {
  return ::clock_gettime(clock, now);
}
int SystemCalls::shutdown(int fd, int how) { return ::shutdown(fd, how); }
int SystemCalls::close(int fd) { return ::close(fd); }

SystemCalls& real_system_calls() noexcept {
  static SystemCalls kernel;
  return kernel;
}

} // namespace qio::detail
