// SPDX-License-Identifier: MIT
// syscall_count.cpp - the counting write-family wrappers (see the header).
//
// The executable is linked with export_dynamic, so these definitions come
// first in symbol lookup for libqio, libevent and libuv alike; dlsym with
// RTLD_NEXT finds the definition they would otherwise have bound to.
#include "syscall_count.hpp"

#include <dlfcn.h>      // dlsym, RTLD_NEXT
#include <sys/socket.h> // send, sendto, sendmsg
#include <sys/uio.h>    // writev
#include <unistd.h>     // write

#include <cerrno> // EAGAIN

namespace bench {
namespace {

thread_local SyscallTally tally;

template <class Function> Function* next_definition(const char* name) noexcept {
  return reinterpret_cast<Function*>(dlsym(RTLD_NEXT, name));
}

ssize_t counted(ssize_t result) noexcept {
  ++tally.writes;
  if (result > 0)
    tally.bytes += static_cast<std::uint64_t>(result);
  if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    ++tally.would_block;
  return result;
}

} // namespace

SyscallTally syscall_tally() noexcept { return tally; }
void reset_syscall_tally() noexcept { tally = {}; }

} // namespace bench

extern "C" {

ssize_t write(int fd, const void* buffer, size_t length) {
  static auto* const real = bench::next_definition<decltype(::write)>("write");
  return bench::counted(real(fd, buffer, length));
}

ssize_t writev(int fd, const struct iovec* vectors, int count) {
  static auto* const real = bench::next_definition<decltype(::writev)>("writev");
  return bench::counted(real(fd, vectors, count));
}

ssize_t send(int fd, const void* buffer, size_t length, int flags) {
  static auto* const real = bench::next_definition<decltype(::send)>("send");
  return bench::counted(real(fd, buffer, length, flags));
}

ssize_t sendto(int fd, const void* buffer, size_t length, int flags, const struct sockaddr* address,
               socklen_t address_length) {
  static auto* const real = bench::next_definition<decltype(::sendto)>("sendto");
  return bench::counted(real(fd, buffer, length, flags, address, address_length));
}

ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  static auto* const real = bench::next_definition<decltype(::sendmsg)>("sendmsg");
  return bench::counted(real(fd, message, flags));
}

} // extern "C"
