// SPDX-License-Identifier: MIT
// test_epoll_loop.cpp - the epoll example of docs/epoll.md (epoll_loop.c),
// driving qio through qio_set_interest, qio_timeout_ms and qio_flush, run
// over 1,000 socketpairs whose peers the same loop reads.
#include <sys/epoll.h>    // EPOLLOUT
#include <sys/socket.h>   // socketpair, setsockopt
#include <unistd.h>       // read

#include <algorithm> // std::all_of, std::min, std::max
#include <cerrno>    // errno, EAGAIN, EINTR
#include <chrono>    // the test's bound in time
#include <cstddef>   // std::size_t
#include <fstream>   // /proc/self/fdinfo
#include <sstream>   // parsing it
#include <string>    // std::string
#include <vector>    // std::vector

#include <catch2/catch.hpp>

#include "epoll_loop.h"
#include "support.hpp"

namespace {

constexpr int channel_count = 1000;
constexpr int rounds = 3;
constexpr int writes_per_round = 4;
constexpr std::size_t write_bytes = 4096;
// More than the small socket buffers below take at once, so each round
// needs the loop to wait for writability.
constexpr std::size_t round_bytes = writes_per_round * write_bytes;
constexpr int socket_buffer = 4096;
// Never reached here; gives qio_timeout_ms a deadline to report.
constexpr int stall_ms = 60'000;

// Byte `position` of channel `index`'s stream: a 251-byte cycle shifted by
// the channel, so a byte on the wrong channel or at the wrong place shows.
char stream_byte(int index, std::size_t position) {
  return static_cast<char>((static_cast<std::size_t>(index) + position) % 251);
}

// The peer end of one socketpair, read by the loop.
struct Peer {
  epoll_loop* loop = nullptr;
  int index = 0;
  std::size_t received = 0;
  bool intact = true;
  bool ended = false;
};

void read_peer(int fd, void* arg) {
  Peer& peer = *static_cast<Peer*>(arg);
  char buffer[65536];
  const ssize_t count = ::read(fd, buffer, sizeof buffer);
  if (count < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (count <= 0) {
    peer.ended = true;
    epoll_loop_watch(peer.loop, fd, nullptr, nullptr);
    return;
  }
  for (ssize_t i = 0; i < count; ++i)
    peer.intact = peer.intact && buffer[i] == stream_byte(peer.index, peer.received + static_cast<std::size_t>(i));
  peer.received += static_cast<std::size_t>(count);
}

void count_call(int error_code, int, int, char*, int, void* counter) {
  if (error_code == 0)
    ++*static_cast<int*>(counter);
}

// Descriptors the kernel's epoll set watches for EPOLLOUT, from
// /proc/self/fdinfo: what the interest handler really did, not what the
// loop believes.
int kernel_writers(int epoll_fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(epoll_fd));
  std::string line;
  int writers = 0;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string tag, target, events_tag;
    unsigned events = 0;
    if (fields >> tag >> target >> events_tag >> std::hex >> events && tag == "tfd:")
      writers += (events & EPOLLOUT) != 0;
  }
  return writers;
}

struct Channels {
  std::vector<qio_test::Fd> local; // qio's channels
  std::vector<qio_test::Fd> remote;
  std::vector<Peer> peers;
};

Channels open_channels(epoll_loop* loop) {
  Channels channels;
  channels.peers.resize(channel_count);
  const qio_limits limits{0, 0, 0, stall_ms};
  for (int index = 0; index < channel_count; ++index) {
    qio_test::FdPair pair = qio_test::socket_pair();
    ::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &socket_buffer, sizeof socket_buffer);
    ::setsockopt(pair.remote.get(), SOL_SOCKET, SO_RCVBUF, &socket_buffer, sizeof socket_buffer);
    REQUIRE(qio_configure(pair.local.get(), 1, 1, -1) == 0);
    REQUIRE(qio_setlimits(pair.local.get(), &limits) == 0);
    channels.peers[static_cast<std::size_t>(index)] = Peer{loop, index};
    REQUIRE(epoll_loop_watch(loop, pair.remote.get(), read_peer,
                             &channels.peers[static_cast<std::size_t>(index)]) == 0);
    channels.local.push_back(std::move(pair.local));
    channels.remote.push_back(std::move(pair.remote));
  }
  return channels;
}

void queue_round(const Channels& channels, int round, int* completed) {
  std::vector<char> bytes(write_bytes);
  for (int index = 0; index < channel_count; ++index)
    for (int write = 0; write < writes_per_round; ++write) {
      const std::size_t start = static_cast<std::size_t>(round) * round_bytes +
                                static_cast<std::size_t>(write) * write_bytes;
      for (std::size_t i = 0; i < write_bytes; ++i)
        bytes[i] = stream_byte(index, start + i);
      const bool last = write + 1 == writes_per_round;
      REQUIRE(qio_write(channels.local[static_cast<std::size_t>(index)].get(), bytes.data(),
                        static_cast<int>(write_bytes), last ? count_call : nullptr,
                        last ? completed : nullptr) == 0);
    }
}

// Runs passes until `done` or the test's bound; returns whether `done`.
// While output is pending, every qio_timeout_ms the loop asks is noted.
template <class Done>
bool run_until(epoll_loop* loop, Done done, int& longest_timeout, int& shortest_timeout) {
  const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > bound)
      return false;
    if (qio_pend() > 0) {
      const int timeout = qio_timeout_ms();
      longest_timeout = std::max(longest_timeout, timeout);
      shortest_timeout = std::min(shortest_timeout, timeout);
    }
    if (epoll_loop_run_once(loop, 1000) < 0)
      return false;
  }
  return true;
}

} // namespace

TEST_CASE("an epoll loop driven by qio_set_interest, qio_timeout_ms and qio_flush delivers "
          "every byte over 1,000 socketpairs, arming EPOLLOUT only while a channel has output",
          "[qio][epoll]") {
  REQUIRE(support::raise_descriptor_limit() >= 2 * channel_count + 64);
  qio_init();
  epoll_loop* loop = epoll_loop_create(2 * channel_count + 64);
  REQUIRE(loop != nullptr);
  Channels channels = open_channels(loop);
  int completed = 0;
  int longest_timeout = -1;
  int shortest_timeout = stall_ms + 1;

  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    queue_round(channels, round, &completed);
    // The handler armed every channel from inside qio_write.
    CHECK(epoll_loop_writers(loop) == channel_count);
    CHECK(kernel_writers(epoll_loop_fd(loop)) == channel_count);
    const std::size_t expected = static_cast<std::size_t>(round + 1) * round_bytes;
    REQUIRE(run_until(
        loop,
        [&] {
          return std::all_of(channels.peers.begin(), channels.peers.end(),
                             [&](const Peer& peer) { return peer.received >= expected; });
        },
        longest_timeout, shortest_timeout));
    // Drained: the handler disarmed every one, and the last ASTs ran.
    CHECK(epoll_loop_writers(loop) == 0);
    CHECK(kernel_writers(epoll_loop_fd(loop)) == 0);
    CHECK(completed == channel_count * (round + 1));
  }
  // Deadlines while output was pending: the stall limit's, never beyond it.
  CHECK(shortest_timeout >= 0);
  CHECK(longest_timeout <= stall_ms);
  CHECK(longest_timeout > 0);
  // Nothing pending: no deadline.
  CHECK(qio_timeout_ms() == -1);

  unsigned long long write_calls = 0;
  for (const qio_test::Fd& local : channels.local) {
    qio_channel_stats stats{};
    REQUIRE(qio_stat(local.get(), &stats) == 0);
    CHECK(stats.bytes_written == rounds * round_bytes);
    write_calls += stats.write_calls;
  }
  // More calls than rounds: the socket buffers filled and the loop waited.
  CHECK(write_calls > static_cast<unsigned long long>(channel_count) * rounds);

  // Close after drain: every peer then reads end of file.
  int closed = 0;
  for (qio_test::Fd& local : channels.local) {
    REQUIRE(qio_close(local.get(), 10'000, count_call, &closed) == 0);
    static_cast<void>(local.release()); // qio closes it now
  }
  CHECK(qio_timeout_ms() == 0); // drained: the next flush closes them
  REQUIRE(run_until(
      loop,
      [&] {
        return closed == channel_count &&
               std::all_of(channels.peers.begin(), channels.peers.end(),
                           [](const Peer& peer) { return peer.ended; });
      },
      longest_timeout, shortest_timeout));
  for (const Peer& peer : channels.peers) {
    CAPTURE(peer.index);
    CHECK(peer.intact);
    CHECK(peer.received == rounds * round_bytes);
  }
  CHECK(qio_pend() == 0);
  CHECK(epoll_loop_writers(loop) == 0);
  epoll_loop_destroy(loop);
}
