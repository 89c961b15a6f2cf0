// SPDX-License-Identifier: MIT
// datagrams.cpp - draining queued datagrams with qio_flush, count by count,
// beside the kernel's own cost of sending them.
#include "datagrams.hpp"

#include <sys/socket.h> // send
#include <unistd.h>     // close, alarm

#include <cerrno>  // errno
#include <cstring> // std::strerror

#include <fmt/format.h>

#include "qio/qio.h"
#include "support/table.hpp" // support::grouped
#include "syscall_count.hpp"
#include "timed_run.hpp" // watchdog_seconds
#include "timing.hpp"
#include "writers.hpp" // wait_qio_writable, wait_writable

namespace bench {
namespace {

// A count is run again only while its runs so far took less than this.
constexpr double repeat_below_seconds = 1.0;

// A connected UDP pair over loopback, closed on destruction.
class DatagramPair {
public:
  DatagramPair() : pair_(connect_datagram_pair()) {}

  const std::string& error() const noexcept { return pair_.error; }
  int writer() const noexcept { return pair_.writer.get(); }

private:
  SocketPair pair_;
};

// A configured qio channel, left again on destruction.
struct QioChannel {
  int fd;
  ~QioChannel() { qio_termc(fd); }
};

struct Drain {
  double seconds = 0;
  std::string error;
};

// Times `send_all()` (which returns an error text or empty) and checks
// that it sent `count` datagrams of `size` bytes, each in a system call of
// its own.
template <class SendAll> Drain time_sends(std::size_t count, std::size_t size, SendAll send_all) {
  ::alarm(watchdog_seconds);
  reset_syscall_tally();
  const Clock::time_point start = Clock::now();
  Drain drain{0, send_all()};
  const Clock::time_point end = Clock::now();
  const SyscallTally tally = syscall_tally();
  ::alarm(0);
  drain.seconds = seconds_between(start, end);
  const std::uint64_t calls = tally.writes - tally.would_block;
  if (drain.error.empty() && (calls != count || tally.bytes != count * size))
    drain.error = fmt::format("{} datagrams of {} bytes left in {} calls carrying {} bytes", count,
                              size, calls, tally.bytes);
  return drain;
}

// Queues `count` datagrams on a buffered qio channel, untimed, then times
// qio_flush (waiting for writability when the socket is full) until none
// is pending.
Drain drain_with_qio(std::size_t count, std::size_t size) {
  const DatagramPair pair;
  if (!pair.error().empty())
    return {0, pair.error()};
  if (const int error = qio_configure(pair.writer(), 1, 1, -1))
    return {0, fmt::format("qio_configure: {}", std::strerror(error))};
  const QioChannel channel{pair.writer()};
  MessageStream messages(size);
  for (std::size_t i = 0; i < count; ++i)
    if (const int error =
            qio_write(channel.fd, messages.next(), static_cast<int>(size), nullptr, nullptr))
      return {0, fmt::format("qio_write: {}", std::strerror(error))};
  return time_sends(count, size, [fd = channel.fd] {
    while (qio_pendc(fd) > 0) {
      qio_flush();
      if (qio_pendc(fd) > 0)
        wait_qio_writable();
    }
    return std::string();
  });
}

// One send() per datagram, no queue: what the kernel itself costs.
Drain drain_bare(std::size_t count, std::size_t size) {
  const DatagramPair pair;
  if (!pair.error().empty())
    return {0, pair.error()};
  MessageStream messages(size);
  return time_sends(count, size, [&, fd = pair.writer()] {
    const char* message = messages.next();
    for (std::size_t sent_count = 0; sent_count < count;) {
      const ssize_t sent = ::send(fd, message, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent == static_cast<ssize_t>(size)) {
        message = messages.next();
        ++sent_count;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wait_writable(fd);
      } else if (sent >= 0 || errno != EINTR) {
        return sent < 0 ? errno_text("send")
                        : fmt::format("send took {} of {} bytes", sent, size);
      }
    }
    return std::string();
  });
}

// Runs one count, qio and bare in turn, as often as the plan allows.
DatagramRow run_count(const DatagramPlan& plan, std::size_t count, std::string& error) {
  DatagramRow row;
  row.datagrams = count;
  std::vector<double> qio_seconds;
  std::vector<double> bare_seconds;
  double total = 0;
  while (static_cast<int>(qio_seconds.size()) < plan.repetitions && total < repeat_below_seconds) {
    const Drain qio = drain_with_qio(count, plan.datagram_size);
    const Drain bare = drain_bare(count, plan.datagram_size);
    error = !qio.error.empty() ? "qio: " + qio.error
                               : (!bare.error.empty() ? "bare send: " + bare.error : "");
    if (!error.empty())
      return row;
    qio_seconds.push_back(qio.seconds);
    bare_seconds.push_back(bare.seconds);
    total += qio.seconds + bare.seconds;
  }
  const auto datagrams = static_cast<double>(count);
  row.runs = static_cast<int>(qio_seconds.size());
  row.drain_seconds = median(qio_seconds);
  row.ns_per_datagram = row.drain_seconds * 1e9 / datagrams;
  row.bare_ns_per_datagram = median(bare_seconds) * 1e9 / datagrams;
  return row;
}

} // namespace

DatagramFigures run_datagrams(const DatagramPlan& plan, std::vector<std::string>& failures) {
  DatagramFigures figures;
  figures.datagram_size = plan.datagram_size;
  figures.cap_seconds = plan.cap_seconds;
  std::string skip_reason;
  for (const std::size_t count : plan.counts) {
    if (!skip_reason.empty()) {
      figures.rows.push_back({count, 0, 0, 0, 0, skip_reason});
      continue;
    }
    figures.rows.push_back(run_count(plan, count, figures.error));
    if (!figures.error.empty()) {
      failures.push_back(fmt::format("datagrams, {}: {}", count, figures.error));
      break;
    }
    const double seconds = figures.rows.back().drain_seconds;
    if (plan.cap_seconds > 0 && seconds > plan.cap_seconds)
      skip_reason = fmt::format("{} datagrams took {:.2f} s, over the {:.1f} s cap",
                                support::grouped(count), seconds, plan.cap_seconds);
  }
  return figures;
}

} // namespace bench
