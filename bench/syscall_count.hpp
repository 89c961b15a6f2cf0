// SPDX-License-Identifier: MIT
// syscall_count.hpp - counts the write-family system calls a thread makes.
//
// qio's C API, libevent and libuv offer no common seam for counting their
// system calls, so the bench defines write, writev, send, sendto and sendmsg
// itself: the dynamic linker binds every library's calls to these, which
// count and then call the C library's own. One counter per thread, so the
// reader threads (which only read) never disturb the writer's figures.
#ifndef QIO_BENCH_SYSCALL_COUNT_HPP
#define QIO_BENCH_SYSCALL_COUNT_HPP

#include <cstdint> // std::uint64_t

namespace bench {

struct SyscallTally {
  std::uint64_t writes = 0;      // every write-family call, failed or not
  std::uint64_t would_block = 0; // of those, calls that failed with EAGAIN
  std::uint64_t bytes = 0;       // bytes the calls reported written
};

// The calling thread's tally since its last reset.
SyscallTally syscall_tally() noexcept;
void reset_syscall_tally() noexcept;

} // namespace bench

#endif // QIO_BENCH_SYSCALL_COUNT_HPP
