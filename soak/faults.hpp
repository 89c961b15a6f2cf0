// SPDX-License-Identifier: MIT
// faults.hpp - a SystemCalls that fails or shortens some socket calls.
//
// The soak builds one qio::Engine over this seam, so part of its traffic
// meets short writes and reads, EINTR, EAGAIN with room to spare, and
// ECONNRESET on a connection that is in fact healthy.
#ifndef QIO_SOAK_FAULTS_HPP
#define QIO_SOAK_FAULTS_HPP

#include <cstdint> // std::uint64_t
#include <random>  // std::mt19937_64

#include "system_calls.hpp" // qio/src: the SystemCalls seam

namespace soak {

struct FaultCounts {
  std::uint64_t short_writes = 0;
  std::uint64_t write_interrupts = 0; // EINTR
  std::uint64_t write_would_block = 0; // EAGAIN
  std::uint64_t write_resets = 0;     // ECONNRESET
  std::uint64_t short_reads = 0;
  std::uint64_t read_interrupts = 0;
  std::uint64_t read_would_block = 0;
  std::uint64_t read_resets = 0;

  std::uint64_t total() const noexcept {
    return short_writes + write_interrupts + write_would_block + write_resets + short_reads +
           read_interrupts + read_would_block + read_resets;
  }
};

class FaultySystemCalls final : public qio::detail::SystemCalls {
public:
  explicit FaultySystemCalls(std::uint64_t seed) : random_(seed) {}

  ssize_t sendmsg(int fd, const msghdr* message, int flags) override;
  ssize_t recv(int fd, void* buffer, std::size_t length, int flags) override;

  const FaultCounts& counts() const noexcept { return counts_; }

private:
  enum class Fault { none, shorten, interrupt, would_block, reset };
  struct FailureCounters {
    std::uint64_t& interrupts;
    std::uint64_t& would_block;
    std::uint64_t& resets;
  };
  Fault pick();
  static bool fails(Fault fault, FailureCounters counters);
  std::size_t shorter(std::size_t length);

  std::mt19937_64 random_;
  FaultCounts counts_;
};

} // namespace soak

#endif // QIO_SOAK_FAULTS_HPP
