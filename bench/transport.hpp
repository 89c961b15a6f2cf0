// SPDX-License-Identifier: MIT
// transport.hpp - connected descriptor pairs and the reader that drains one.
#ifndef QIO_BENCH_TRANSPORT_HPP
#define QIO_BENCH_TRANSPORT_HPP

#include <array>       // all_transports
#include <cstdint>     // std::uint64_t
#include <span>        // a chunk read
#include <string>      // error texts
#include <string_view> // transport names
#include <vector>      // PeerSockets' descriptors

#include "bench.hpp"
#include "support/draining_reader.hpp"
#include "support/loopback.hpp" // raise_descriptor_limit
#include "support/unique_fd.hpp"

namespace bench {

enum class Transport { unix_socketpair, tcp_loopback };
inline constexpr std::array all_transports{Transport::unix_socketpair, Transport::tcp_loopback};

std::string_view transport_name(Transport transport) noexcept;

// Two connected sockets, both blocking; neither where creation failed.
struct SocketPair {
  support::UniqueFd writer;
  support::UniqueFd reader;
  std::string error; // empty on success
};

// An AF_UNIX socketpair, or a TCP connection over 127.0.0.1 (listening on
// an ephemeral port, connecting, accepting).
SocketPair connect_pair(Transport transport);

// Two UDP sockets on 127.0.0.1: `reader` bound to an ephemeral port,
// `writer` connected to it. Both blocking.
SocketPair connect_datagram_pair();

using support::raise_descriptor_limit;
// Descriptors the rest of the program may have open besides a case's own.
inline constexpr long spare_descriptors = 64;

// Many connected pairs over one transport (TCP ones through one listener),
// all blocking, all closed together.
class PeerSockets {
public:
  PeerSockets() = default;
  ~PeerSockets();
  PeerSockets(const PeerSockets&) = delete;
  PeerSockets& operator=(const PeerSockets&) = delete;

  // Connects `count` more pairs; empty, or what failed (the pairs made
  // before stay, and are closed with the rest).
  std::string connect(Transport transport, std::size_t count);
  const std::vector<int>& writers() const noexcept { return writers_; }
  const std::vector<int>& readers() const noexcept { return readers_; }

private:
  std::vector<int> writers_; // writers_[i] is connected to readers_[i]
  std::vector<int> readers_;
};

struct ReaderResult {
  std::uint64_t bytes = 0;    // read before end of file
  Clock::time_point finished; // when end of file was seen
  std::string error;          // read error or first content mismatch
};

// Drains a descriptor on its own thread until end of file, counting bytes
// and, if asked, checking each chunk against the pattern. A mismatch is
// recorded and reading goes on, so the writer is never left blocked.
class Reader {
public:
  Reader(support::UniqueFd fd, bool check_content);

  // Waits for end of file; call once.
  ReaderResult join();

private:
  void check(std::span<const char> chunk, std::uint64_t position);

  bool check_content_;
  std::string mismatch_;          // the first, if any
  support::DrainingReader reader_; // last: starts once the rest is ready
};

} // namespace bench

#endif // QIO_BENCH_TRANSPORT_HPP
