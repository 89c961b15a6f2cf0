// SPDX-License-Identifier: MIT
// transport.hpp - connected descriptor pairs and the reader that drains one.
#ifndef QIO_BENCH_TRANSPORT_HPP
#define QIO_BENCH_TRANSPORT_HPP

#include <array>       // all_transports
#include <cstdint>     // std::uint64_t
#include <string>      // error texts
#include <string_view> // transport names
#include <thread>      // the reader's thread

#include "bench.hpp"

namespace bench {

enum class Transport { unix_socketpair, tcp_loopback };
inline constexpr std::array all_transports{Transport::unix_socketpair, Transport::tcp_loopback};

std::string_view transport_name(Transport transport) noexcept;

// Two connected stream sockets, both blocking; -1 where creation failed.
struct SocketPair {
  int writer = -1;
  int reader = -1;
  std::string error; // empty on success
};

// An AF_UNIX socketpair, or a TCP connection over 127.0.0.1 (listening on
// an ephemeral port, connecting, accepting).
SocketPair connect_pair(Transport transport);

struct ReaderResult {
  std::uint64_t bytes = 0;    // read before end of file
  Clock::time_point finished; // when end of file was seen
  std::string error;          // read error or first content mismatch
};

// Drains a descriptor on its own thread until end of file, counting bytes
// and, if asked, checking each chunk against the pattern. Owns and closes
// the descriptor. A mismatch is recorded and reading goes on, so the writer
// is never left blocked.
class Reader {
public:
  Reader(int fd, bool check_content);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Waits for end of file; call once.
  ReaderResult join();

private:
  void run();

  int fd_;
  bool check_content_;
  ReaderResult result_;
  std::thread thread_;
};

} // namespace bench

#endif // QIO_BENCH_TRANSPORT_HPP
