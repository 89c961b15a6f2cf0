// SPDX-License-Identifier: MIT
// fanout.cpp - the fan-out tick: qio and libevent against a bare send()
// loop over the same sockets.
#include "fanout.hpp"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>  // IPPROTO_TCP
#include <netinet/tcp.h> // TCP_NODELAY
#include <poll.h>        // poll, for a peer's bytes still on their way
#include <sys/socket.h>  // send, recv, setsockopt
#include <unistd.h>      // alarm

#include <cerrno>  // errno
#include <cstring> // std::memcmp, std::strerror
#include <memory>  // std::unique_ptr, the receive buffer
#include <utility> // std::move

#include <fmt/format.h>

#include "qio/qio.h"
#include "support/table.hpp" // support::grouped
#include "syscall_count.hpp"
#include "timed_run.hpp" // watchdog_seconds
#include "timing.hpp"
#include "writers.hpp" // bufferevent_failure

namespace bench {
namespace {

// Untimed rounds first: the first sends on a socket allocate its buffers,
// qio's blocks and libevent's chains.
constexpr int warm_up_rounds = 3;
// How long a peer may wait for its tick's message before it counts as lost.
constexpr int peer_wait_ms = 1000;

constexpr std::size_t sender_count = all_fanout_senders.size();

// The sending ends as buffered qio channels, left again on destruction.
class QioChannels {
public:
  QioChannels() = default;
  ~QioChannels() {
    for (const int fd : channels_)
      qio_termc(fd);
  }
  QioChannels(const QioChannels&) = delete;
  QioChannels& operator=(const QioChannels&) = delete;

  std::string configure(const std::vector<int>& fds) {
    for (const int fd : fds) {
      if (const int error = qio_configure(fd, 1, 1, -1))
        return fmt::format("qio_configure: {}", std::strerror(error));
      channels_.push_back(fd);
    }
    return {};
  }

  // qio_write of `message` to every channel, then one qio_flush.
  std::string tick(const char* message, std::size_t size) const {
    for (const int fd : channels_)
      if (const int error = qio_write(fd, message, static_cast<int>(size), nullptr, nullptr))
        return fmt::format("qio_write: {}", std::strerror(error));
    qio_flush();
    return {};
  }

  // Untimed, after a tick: did the one flush send everything?
  std::string check() const {
    if (const int left = qio_pend(); left != 0)
      return fmt::format("one qio_flush left {} of {} messages unsent", left, channels_.size());
    return {};
  }

private:
  std::vector<int> channels_;
};

// The sending ends as libevent bufferevents on one event base, with
// library defaults; the descriptors stay open when they are freed.
class Bufferevents {
public:
  Bufferevents() = default;
  ~Bufferevents() {
    for (bufferevent* buffered : buffered_)
      bufferevent_free(buffered);
    if (base_ != nullptr)
      event_base_free(base_);
  }
  Bufferevents(const Bufferevents&) = delete;
  Bufferevents& operator=(const Bufferevents&) = delete;

  std::string open(const std::vector<int>& fds) {
    base_ = event_base_new();
    if (base_ == nullptr)
      return "libevent: cannot create the event base";
    for (const int fd : fds) {
      evutil_make_socket_nonblocking(fd);
      bufferevent* buffered = bufferevent_socket_new(base_, fd, 0);
      if (buffered == nullptr)
        return "libevent: cannot create a bufferevent";
      buffered_.push_back(buffered);
      bufferevent_setcb(buffered, nullptr, count_emptied, record_error, this);
      bufferevent_enable(buffered, EV_WRITE);
    }
    return {};
  }

  // bufferevent_write of `message` to every peer, then the loop until
  // every bufferevent has written all it holds.
  std::string tick(const char* message, std::size_t size) {
    emptied_ = 0;
    for (bufferevent* buffered : buffered_)
      if (bufferevent_write(buffered, message, size) != 0)
        return "bufferevent_write failed";
    while (emptied_ < buffered_.size() && error_.empty())
      event_base_loop(base_, EVLOOP_ONCE);
    return error_;
  }

private:
  // The write callback: with the default low watermark of 0, it runs once
  // the output buffer is empty.
  static void count_emptied(bufferevent*, void* self) {
    ++static_cast<Bufferevents*>(self)->emptied_;
  }
  static void record_error(bufferevent*, short events, void* self) {
    if (std::string failure = bufferevent_failure(events); !failure.empty())
      static_cast<Bufferevents*>(self)->error_ = std::move(failure);
  }

  event_base* base_ = nullptr;
  std::vector<bufferevent*> buffered_;
  std::size_t emptied_ = 0; // bufferevents that have written this tick's message
  std::string error_;
};

// One send() per peer, as a program without a queue would make it.
std::string bare_tick(const std::vector<int>& fds, const char* message, std::size_t size) {
  for (const int fd : fds) {
    const ssize_t sent = ::send(fd, message, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent != static_cast<ssize_t>(size))
      return sent < 0 ? errno_text("send") : fmt::format("send took {} of {} bytes", sent, size);
  }
  return {};
}

// Reads exactly `size` bytes from `fd` into `buffer`, waiting for bytes
// still on their way; empty, or what went wrong.
std::string receive(int fd, char* buffer, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t received = ::recv(fd, buffer + got, size - got, MSG_DONTWAIT);
    if (received > 0) {
      got += static_cast<std::size_t>(received);
      continue;
    }
    if (received == 0)
      return "the peer saw end of file";
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return errno_text("recv");
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, peer_wait_ms) == 0)
      return fmt::format("{} of the tick's {} bytes arrived", got, size);
  }
  return {};
}

// Every peer reads its message of the tick and checks it.
std::string drain(const std::vector<int>& readers, const char* message, std::size_t size) {
  const auto buffer = std::make_unique<char[]>(size);
  for (std::size_t peer = 0; peer < readers.size(); ++peer) {
    if (std::string error = receive(readers[peer], buffer.get(), size); !error.empty())
      return fmt::format("peer {}: {}", peer, error);
    if (std::memcmp(buffer.get(), message, size) != 0)
      return fmt::format("peer {} got other bytes than the tick's message", peer);
  }
  return {};
}

// After the last tick: no peer may hold a byte more than it was sent.
std::string check_nothing_left(const std::vector<int>& readers) {
  for (std::size_t peer = 0; peer < readers.size(); ++peer) {
    char byte = 0;
    if (::recv(readers[peer], &byte, 1, MSG_DONTWAIT) > 0)
      return fmt::format("peer {} got bytes beyond the ticks' messages", peer);
  }
  return {};
}

// One setup's sockets, each sending end known to every sender.
struct Rig {
  PeerSockets peers; // first: closed last
  QioChannels qio;
  Bufferevents libevent;

  std::string open(const FanoutSetup& setup) {
    if (std::string error = peers.connect(setup.transport, static_cast<std::size_t>(setup.peers));
        !error.empty())
      return error;
    if (setup.transport == Transport::tcp_loopback)
      for (const int fd : peers.writers()) {
        const int on = 1;
        if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
          return errno_text("setsockopt TCP_NODELAY");
      }
    if (std::string error = qio.configure(peers.writers()); !error.empty())
      return error;
    return libevent.open(peers.writers());
  }

  // The timed part of one sender's tick.
  std::string tick(FanoutSender sender, const char* message, std::size_t size) {
    switch (sender) {
    case FanoutSender::bare:
      return bare_tick(peers.writers(), message, size);
    case FanoutSender::qio:
      return qio.tick(message, size);
    case FanoutSender::libevent:
      return libevent.tick(message, size);
    }
    return "unknown sender";
  }
};

// Per sender (in all_fanout_senders' order), one value per timed tick.
struct TickSamples {
  std::array<std::vector<double>, sender_count> ns_per_message;
  std::array<std::vector<double>, sender_count> writes_per_message;
};

// One sender's tick, timed, then checked and drained untimed.
std::string run_tick(Rig& rig, std::size_t sender, const char* message, std::size_t size,
                     bool timed, TickSamples& samples) {
  const FanoutSender which = all_fanout_senders[sender];
  reset_syscall_tally();
  const Clock::time_point start = Clock::now();
  std::string error = rig.tick(which, message, size);
  const Clock::time_point end = Clock::now();
  const SyscallTally tally = syscall_tally();
  if (error.empty() && which == FanoutSender::qio)
    error = rig.qio.check();
  if (error.empty())
    error = drain(rig.peers.readers(), message, size);
  if (!error.empty())
    return fmt::format("{}: {}", fanout_sender_name(which), error);
  if (timed) {
    const auto messages = static_cast<double>(rig.peers.readers().size());
    samples.ns_per_message[sender].push_back(
        std::chrono::duration<double, std::nano>(end - start).count() / messages);
    samples.writes_per_message[sender].push_back(static_cast<double>(tally.writes) / messages);
  }
  return {};
}

// Every round runs each sender's tick once, starting one further along
// each round; each round's message is another slice of the pattern.
std::string run_rounds(Rig& rig, const FanoutPlan& plan, TickSamples& samples) {
  for (int round = 0; round < warm_up_rounds + plan.ticks; ++round) {
    ::alarm(watchdog_seconds);
    const char* message = Pattern::instance().at(static_cast<std::uint64_t>(round));
    for (std::size_t turn = 0; turn < sender_count; ++turn) {
      const std::size_t sender = (turn + static_cast<std::size_t>(round)) % sender_count;
      if (std::string error = run_tick(rig, sender, message, plan.message_size,
                                       round >= warm_up_rounds, samples);
          !error.empty())
        return error;
    }
  }
  return check_nothing_left(rig.peers.readers());
}

std::vector<FanoutRow> summarize(const TickSamples& samples) {
  std::vector<FanoutRow> rows;
  const std::vector<double>& bare = samples.ns_per_message[0]; // all_fanout_senders starts with it
  for (std::size_t sender = 0; sender < sender_count; ++sender) {
    FanoutRow row;
    row.sender = all_fanout_senders[sender];
    row.ns_per_message = median(samples.ns_per_message[sender]);
    row.writes_per_message = median(samples.writes_per_message[sender]);
    row.over_bare = paired_ratio(samples.ns_per_message[sender], bare);
    rows.push_back(row);
  }
  return rows;
}

FanoutFigures run_setup(const FanoutSetup& setup, const FanoutPlan& plan) {
  FanoutFigures figures;
  figures.transport = setup.transport;
  figures.peers = setup.peers;
  figures.ticks = plan.ticks;
  figures.message_size = plan.message_size;
  const long needed = 2L * setup.peers + spare_descriptors;
  if (const long allowed = raise_descriptor_limit(); allowed < needed) {
    figures.skipped = fmt::format("needs {} descriptors; the hard RLIMIT_NOFILE allows {}",
                                  support::grouped(needed),
                                  support::grouped(allowed));
    return figures;
  }
  Rig rig;
  figures.error = rig.open(setup);
  TickSamples samples;
  if (figures.error.empty())
    figures.error = run_rounds(rig, plan, samples);
  ::alarm(0);
  if (figures.error.empty())
    figures.rows = summarize(samples);
  return figures;
}

} // namespace

std::string_view fanout_sender_name(FanoutSender sender) noexcept {
  switch (sender) {
  case FanoutSender::bare:
    return "bare send";
  case FanoutSender::qio:
    return "qio";
  case FanoutSender::libevent:
    return "libevent";
  }
  return "?";
}

const FanoutRow* find_fanout_row(const FanoutFigures& figures, FanoutSender sender) {
  for (const FanoutRow& row : figures.rows)
    if (row.sender == sender)
      return &row;
  return nullptr;
}

std::vector<FanoutFigures> run_fanout(const FanoutPlan& plan, std::vector<std::string>& failures) {
  std::vector<FanoutFigures> all;
  for (const FanoutSetup& setup : plan.setups) {
    all.push_back(run_setup(setup, plan));
    if (!all.back().error.empty())
      failures.push_back(fmt::format("fan-out, {} peers over {}: {}", setup.peers,
                                     transport_name(setup.transport), all.back().error));
  }
  return all;
}

} // namespace bench
