// SPDX-License-Identifier: MIT
// faulty_system_calls.hpp - a qio::detail::SystemCalls that fails or
// shortens some socket and pipe calls, and counts every call it sees.
//
// The fault-injection tests script the faults of the next output calls
// (writev, sendmsg) one by one; qio-soak and a randomised test draw them
// at random rates instead, on output and on input (recv, read). Each
// other call goes to the kernel unchanged.
//
// Part of the support_faults library: it reaches inside qio (the seam is
// internal), so only what links qio_internal uses it.
#ifndef QIO_SUPPORT_FAULTY_SYSTEM_CALLS_HPP
#define QIO_SUPPORT_FAULTY_SYSTEM_CALLS_HPP

#include <array>   // FaultCounts' counters
#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t
#include <deque>   // std::deque, the script
#include <random>  // std::mt19937_64
#include <vector>  // the output log

#include "system_calls.hpp" // qio/src: the SystemCalls seam

namespace support {

enum class Fault {
  none,
  short_transfer,   // only part of the bytes offered (or asked for) is passed on
  interrupted,      // -1, EINTR
  would_block,      // -1, EAGAIN
  no_buffers,       // -1, ENOBUFS
  broken_pipe,      // -1, EPIPE
  connection_reset, // -1, ECONNRESET
};
inline constexpr std::size_t fault_kinds = 7;

// One scripted fault.
struct Injection {
  Fault fault = Fault::none;
  std::size_t bytes = 0; // short_transfer: how many to pass on (0: 1 to all but one, at random)
};

// How often each fault strikes at random, out of every 100,000 calls.
struct FaultRates {
  unsigned short_transfer = 0;
  unsigned interrupted = 0;
  unsigned would_block = 0;
  unsigned no_buffers = 0;
  unsigned connection_reset = 0;
};

// The faults injected, by kind (a short transfer counts only where the
// call had at least two bytes to shorten).
class FaultCounts {
public:
  std::uint64_t operator[](Fault fault) const noexcept {
    return counts_[static_cast<std::size_t>(fault)];
  }
  // Every fault but Fault::none.
  std::uint64_t total() const noexcept;
  void add(Fault fault) noexcept { ++counts_[static_cast<std::size_t>(fault)]; }

private:
  std::array<std::uint64_t, fault_kinds> counts_{};
};

class FaultySystemCalls final : public qio::detail::SystemCalls {
public:
  // Faults at random from now on, once the script is empty: `output`'s on
  // writev and sendmsg, `input`'s on recv and read.
  void inject_at_random(std::uint64_t seed, FaultRates output, FaultRates input = {});

  // The faults of the next writev and sendmsg calls, before any random one.
  std::deque<Injection> script;

  // Each writev and sendmsg call's vector count and bytes offered, while
  // log_output_calls is set (a test's to read; a soak makes millions).
  bool log_output_calls = false;
  std::vector<int> vector_counts;
  std::vector<std::size_t> offered_bytes;

  int writev_calls = 0;
  int sendmsg_calls = 0;
  int poll_calls = 0;
  int thread_sigmask_calls = 0;
  int sigpending_calls = 0;
  int sigtimedwait_calls = 0;
  int last_send_flags = 0;

  const FaultCounts& output_faults() const noexcept { return output_faults_; }
  const FaultCounts& input_faults() const noexcept { return input_faults_; }

  ssize_t writev(int fd, const iovec* vectors, int count) override;
  ssize_t sendmsg(int fd, const msghdr* message, int flags) override;
  ssize_t recv(int fd, void* buffer, std::size_t length, int flags) override;
  ssize_t read(int fd, void* buffer, std::size_t length) override;
  int poll(pollfd* fds, nfds_t count, int timeout_ms) override;
  int thread_sigmask(int how, const sigset_t* set, sigset_t* old_set) override;
  int sigpending(sigset_t* set) override;
  int sigtimedwait(const sigset_t* set, siginfo_t* info, const timespec* timeout) override;

private:
  Injection draw(const FaultRates& rates);
  Injection next_output_injection();
  std::size_t shortened(std::size_t asked, std::size_t length);
  template <class Call>
  ssize_t output(const iovec* vectors, int count, const Call& call);
  template <class Call> ssize_t input(std::size_t length, const Call& call);

  std::mt19937_64 random_;
  bool random_faults_ = false;
  FaultRates output_rates_;
  FaultRates input_rates_;
  FaultCounts output_faults_;
  FaultCounts input_faults_;
};

} // namespace support

#endif // QIO_SUPPORT_FAULTY_SYSTEM_CALLS_HPP
