// SPDX-License-Identifier: MIT
// peer.cpp - the peers' select loop and their checked, non-blocking input.
#include "peer.hpp"

#include <sys/socket.h> // recv, MSG_DONTWAIT

#include <algorithm>    // std::max
#include <cerrno>       // errno, EAGAIN, EINTR
#include <cstring>      // std::strerror
#include <system_error> // std::error_code
#include <vector>       // std::vector, buffers

#include <fmt/core.h>

#include "common/report.hpp"
#include "common/xdr_procedure.hpp"
#include "packets.hpp"
#include "xdr_glue/record_assembler.hpp"
#include "xdr_glue/record_reader.hpp"

namespace deadlock {
namespace {

// The input side, the same in both runs: reads what the socket holds
// without waiting, reassembles records and checks each one.
class Inbox {
public:
  Inbox(int socket, packet_kind expected, PeerStatus& status)
      : socket_(socket), expected_(expected), status_(status), buffer_(64 * 1024) {}

  // Reads until recv would wait. Returns false once the other peer has
  // ended the stream (or it failed); records before the end still count.
  bool read_available() {
    for (;;) {
      const ssize_t count = ::recv(socket_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
      if (count > 0) {
        status_.bytes_received += static_cast<std::uint64_t>(count);
        assembler_.feed({buffer_.data(), static_cast<std::size_t>(count)});
        continue;
      }
      if (count < 0 && errno == EINTR)
        continue;
      const bool open = count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      if (!open && count == 0)
        assembler_.end_of_input();
      else if (!open)
        assembler_.stop({errno, std::generic_category()});
      take_records();
      return open;
    }
  }

  std::uint32_t received() const noexcept { return next_sequence_; }

private:
  void take_records() {
    while (!assembler_.next(record_)) {
      demo_packet packet{};
      const bool decoded =
          !xdr_glue::decode_record(record_, demo::xdr_procedure(&xdr_demo_packet), &packet);
      note_received(decoded ? &packet : nullptr, expected_, next_sequence_, status_);
    }
  }

  int socket_;
  packet_kind expected_;
  PeerStatus& status_;
  xdr_glue::RecordAssembler assembler_;
  std::vector<char> buffer_;
  std::vector<char> record_;
  std::uint32_t next_sequence_ = 0;
};

int give_up(PeerStatus& status, const PeerPlan& plan, const std::string& why) {
  status.set(Activity::failed);
  fmt::print(stderr, "{}: {}\n", peer_names[plan.peer], why);
  return 1;
}

// One select: the socket for reading while input is open, and for writing
// while qio holds output for it. A peer with records still to send does
// not wait: it only looks at what has arrived. Returns false on an error.
bool wait_for_turn(int socket, bool input_open, bool more_to_send, const PeerOutput& output,
                   fd_set& readable) {
  fd_set writable;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  if (input_open)
    FD_SET(socket, &readable);
  const int count = std::max(socket + 1, output.add_pending(writable));
  timeval limit{more_to_send ? 0 : 1, 0};
  if (::select(count, &readable, &writable, nullptr, &limit) >= 0)
    return true;
  FD_ZERO(&readable);
  return errno == EINTR;
}

// Sends the next burst of records, advancing `next_to_send`; false if the
// output failed (errno says why).
bool send_burst(const PeerPlan& plan, PeerOutput& output, std::uint32_t& next_to_send) {
  const std::uint32_t end = std::min(plan.records, next_to_send + plan.burst);
  for (; next_to_send < end; ++next_to_send) {
    demo_packet packet = make_packet(plan.sends, next_to_send);
    if (!output.send(packet))
      return false;
  }
  return true;
}

} // namespace

int run_peer(const PeerPlan& plan, int socket, PeerStatus& status) {
  const std::int64_t start = demo::monotonic_ns();
  const auto output = make_output(plan.mode, socket, status);
  Inbox inbox(socket, plan.expects, status);
  std::uint32_t next_to_send = 0;
  bool input_open = true;
  while (next_to_send < plan.records || !output->drained() || inbox.received() < plan.records) {
    if (!input_open && inbox.received() < plan.records)
      return give_up(status, plan,
                     fmt::format("the other peer ended the connection after {} records",
                                 inbox.received()));
    const bool more_to_send = next_to_send < plan.records;
    fd_set readable;
    status.set(Activity::selecting);
    if (!wait_for_turn(socket, input_open, more_to_send, *output, readable))
      return give_up(status, plan, fmt::format("select: {}", std::strerror(errno)));
    if (FD_ISSET(socket, &readable)) {
      status.set(Activity::reading);
      input_open = inbox.read_available();
    }
    if (more_to_send && !send_burst(plan, *output, next_to_send))
      return give_up(status, plan, fmt::format("sending: {}", std::strerror(errno)));
    if (!output->flush())
      return give_up(status, plan, fmt::format("writing: {}", std::strerror(errno)));
  }
  status.elapsed_ns = demo::monotonic_ns() - start;
  status.set(Activity::finished);
  return status.bad_records == 0 ? 0 : 1;
}

std::string_view describe(Activity activity) {
  switch (activity) {
  case Activity::starting: return "starting";
  case Activity::selecting: return "in select";
  case Activity::reading: return "reading";
  case Activity::writing: return "in write";
  case Activity::calling: return "in clnt_call";
  case Activity::queueing: return "queueing";
  case Activity::finished: return "finished";
  case Activity::failed: return "failed";
  }
  return "?";
}

} // namespace deadlock
