// SPDX-License-Identifier: MIT
// channels.cpp - qio_flush with 10,000 channels, idle and with one busy.
#include "channels.hpp"

#include <sys/socket.h> // socketpair, sendmsg, SCM_RIGHTS
#include <sys/wait.h>   // waitpid
#include <unistd.h>     // fork, close

#include <cerrno>     // errno
#include <cstring>    // std::memcpy, std::strerror
#include <functional> // the probes
#include <span>       // descriptors to pass
#include <vector>     // descriptors, batch times

#include <fmt/format.h>

#include "qio/qio.h"
#include "timing.hpp" // median
#include "transport.hpp"

namespace bench {
namespace {

constexpr std::size_t message_size = 64;
// Descriptors per SCM_RIGHTS message: below the kernel's SCM_MAX_FD (253).
constexpr std::size_t descriptors_per_message = 250;

// The child's whole life: hold every descriptor received on `control`
// until it is closed. Exits 1 if descriptors were dropped (MSG_CTRUNC:
// the child's own limit was reached).
[[noreturn]] void hold_descriptors(int control) {
  for (;;) {
    char byte = 0;
    iovec data{&byte, 1};
    alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * descriptors_per_message)] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = space;
    message.msg_controllen = sizeof space;
    const ssize_t got = ::recvmsg(control, &message, 0);
    if (got == 0)
      ::_exit(0);
    if ((got < 0 && errno != EINTR) || (message.msg_flags & MSG_CTRUNC))
      ::_exit(1);
  }
}

// A child process that keeps peer ends open so this process need not.
class PeerKeeper {
public:
  PeerKeeper() = default;
  ~PeerKeeper() { stop(); }
  PeerKeeper(const PeerKeeper&) = delete;
  PeerKeeper& operator=(const PeerKeeper&) = delete;

  std::string start() {
    int ends[2];
    // SEQPACKET keeps each message, and its descriptors, apart.
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ends) != 0)
      return errno_text("socketpair");
    child_ = ::fork();
    if (child_ == 0) {
      ::close(ends[0]);
      hold_descriptors(ends[1]);
    }
    ::close(ends[1]);
    control_ = ends[0];
    return child_ < 0 ? errno_text("fork") : std::string();
  }

  // Passes `descriptors` (at most descriptors_per_message) to the child.
  std::string hold(std::span<const int> descriptors) {
    char byte = 0;
    iovec data{&byte, 1};
    alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * descriptors_per_message)] = {};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = space;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * descriptors.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * descriptors.size());
    std::memcpy(CMSG_DATA(header), descriptors.data(), sizeof(int) * descriptors.size());
    return ::sendmsg(control_, &message, MSG_NOSIGNAL) == 1 ? std::string()
                                                            : errno_text("sendmsg SCM_RIGHTS");
  }

  // Lets the child go and reaps it; an error if it failed.
  std::string stop() {
    if (control_ >= 0)
      ::close(control_);
    control_ = -1;
    if (child_ <= 0)
      return {};
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return "the child holding the peer ends failed (descriptor limit?)";
    return {};
  }

private:
  int control_ = -1;
  pid_t child_ = -1;
};

// The configured channels and where their peers are.
struct ChannelSet {
  std::vector<int> near_ends;   // qio channels; near_ends[0] is the busy one
  std::vector<int> local_peers; // peers kept here (all, if they fit)
  int busy_peer = -1;           // read here, so the busy channel never fills
  PeerKeeper keeper;
  bool peers_in_child = false;

  ~ChannelSet() {
    qio_term();
    for (const int fd : near_ends)
      ::close(fd);
    for (const int fd : local_peers)
      ::close(fd);
    if (busy_peer >= 0)
      ::close(busy_peer);
  }
};

// Hands the waiting peer ends to the child once a message's worth has
// gathered (or, with `all`, whatever is left), closing them here.
std::string pass_peers(ChannelSet& set, std::vector<int>& waiting, bool all) {
  if (waiting.empty() || (!all && waiting.size() < descriptors_per_message))
    return {};
  std::string error = set.keeper.hold(waiting);
  for (const int fd : waiting)
    ::close(fd);
  waiting.clear();
  return error;
}

std::string open_channels(ChannelSet& set, int count, long descriptor_limit) {
  set.peers_in_child = descriptor_limit < 2L * count + spare_descriptors;
  if (set.peers_in_child)
    if (std::string error = set.keeper.start(); !error.empty())
      return error;
  std::vector<int> waiting;
  for (int i = 0; i < count; ++i) {
    int ends[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) != 0)
      return errno_text("socketpair") + fmt::format(" (after {} channels)", i);
    set.near_ends.push_back(ends[0]);
    if (const int error = qio_configure(ends[0], 1, 1, -1))
      return fmt::format("qio_configure: {}", std::strerror(error));
    if (i == 0)
      set.busy_peer = ends[1];
    else if (set.peers_in_child)
      waiting.push_back(ends[1]);
    else
      set.local_peers.push_back(ends[1]);
    if (std::string error = pass_peers(set, waiting, false); !error.empty())
      return error;
  }
  return pass_peers(set, waiting, true);
}

void drain(int fd) {
  char buffer[4096];
  while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
  }
}

// Something to time: `timed()` is timed, `prepare()` runs untimed before
// each call and `tidy()` after it.
struct Probe {
  std::function<void()> prepare;
  std::function<void()> timed;
  std::function<void()> tidy;
};

// Runs the probes batch after batch, interleaved (one batch of each per
// round), so a burst of load from elsewhere hits all of them alike.
// Returns, per probe, the mean ns per call of each batch.
std::vector<std::vector<double>> interleaved_ns(const ChannelsPlan& plan,
                                                const std::vector<Probe>& probes) {
  std::vector<std::vector<double>> means(probes.size());
  for (int batch = 0; batch < plan.batches; ++batch)
    for (std::size_t p = 0; p < probes.size(); ++p) {
      Clock::duration total{};
      for (int i = 0; i < plan.flushes_per_batch; ++i) {
        probes[p].prepare();
        const Clock::time_point start = Clock::now();
        probes[p].timed();
        total += Clock::now() - start;
        probes[p].tidy();
      }
      means[p].push_back(std::chrono::duration<double, std::nano>(total).count() /
                         plan.flushes_per_batch);
    }
  return means;
}

// The median over batches of probe `p`'s time less the empty probe's
// (index 0: the clock and the call itself), or of its ratio to probe `q`.
double median_net(const std::vector<std::vector<double>>& means, std::size_t p) {
  std::vector<double> net;
  for (std::size_t batch = 0; batch < means[0].size(); ++batch)
    net.push_back(means[p][batch] - means[0][batch]);
  return median(net);
}

double median_ratio(const std::vector<std::vector<double>>& means, std::size_t p, std::size_t q) {
  std::vector<double> ratios;
  for (std::size_t batch = 0; batch < means[0].size(); ++batch)
    ratios.push_back((means[p][batch] - means[0][batch]) / (means[q][batch] - means[0][batch]));
  return median(ratios);
}

// The four probes: nothing, qio_flush with all channels idle, qio_flush
// with 64 bytes queued (untimed) on the busy channel just before, and that
// channel's own sendmsg of the same bytes made directly, as qio makes it.
std::vector<Probe> flush_probes(const ChannelSet& set, std::string& error) {
  const int busy = set.near_ends.front();
  const int peer = set.busy_peer;
  char* message = const_cast<char*>(Pattern::instance().at(0));
  auto nothing = [] {};
  auto flush = [] { qio_flush(); };
  auto queue_message = [busy, message] {
    qio_write(busy, message, static_cast<int>(message_size), nullptr, nullptr);
  };
  auto check_and_drain = [peer, &error] {
    if (qio_pend() != 0)
      error = "qio_flush left the busy channel's 64 bytes unsent";
    drain(peer);
  };
  auto send = [busy, message] {
    iovec data{message, message_size};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    ::sendmsg(busy, &header, MSG_NOSIGNAL | MSG_DONTWAIT);
  };
  auto drain_peer = [peer] { drain(peer); };
  return {{nothing, nothing, nothing},
          {nothing, flush, nothing},
          {queue_message, flush, check_and_drain},
          {nothing, send, drain_peer}};
}

// Where each probe sits in flush_probes' list.
enum ProbeIndex : std::size_t { empty, idle_flush, busy_flush, own_write };

void leave_busy_channel_alone(const ChannelSet& set) {
  for (std::size_t i = 1; i < set.near_ends.size(); ++i)
    qio_termc(set.near_ends[i]);
}

} // namespace

ChannelsFigures run_channels(const ChannelsPlan& plan) {
  ChannelsFigures figures;
  figures.channels = plan.channels;
  ChannelSet set;
  figures.error = open_channels(set, plan.channels, raise_descriptor_limit());
  figures.peers_in_child = set.peers_in_child;
  if (!figures.error.empty())
    return figures;
  const std::vector<Probe> probes = flush_probes(set, figures.error);
  const auto many = interleaved_ns(plan, probes);
  figures.idle_flush_ns = median_net(many, idle_flush);
  figures.busy_flush_ns = median_net(many, busy_flush);
  figures.own_write_ns = median_net(many, own_write);
  figures.busy_over_own_write = median_ratio(many, busy_flush, own_write);
  leave_busy_channel_alone(set);
  const auto alone = interleaved_ns(plan, {probes.begin(), probes.begin() + own_write});
  figures.idle_flush_alone_ns = median_net(alone, idle_flush);
  figures.busy_flush_alone_ns = median_net(alone, busy_flush);
  if (std::string error = set.keeper.stop(); !error.empty() && figures.error.empty())
    figures.error = error;
  return figures;
}

} // namespace bench
