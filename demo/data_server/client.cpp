// SPDX-License-Identifier: MIT
// client.cpp - reading, timing and checking the server's DATA packets.
#include "client.hpp"

#include <unistd.h> // read

#include <algorithm> // std::max, std::nth_element
#include <cerrno>    // errno, EINTR
#include <chrono>    // std::chrono::nanoseconds
#include <thread>    // std::this_thread::sleep_for
#include <vector>    // std::vector, latencies

#include <fmt/core.h>

#include "support/loopback.hpp"
#include "common/report.hpp"
#include "common/xdr_procedure.hpp"
#include "telemetry.h" // rpcgen: data_packet

namespace data_server {
namespace {

// xdrrec's reader: one blocking read(2), as classic TCP clients do. It
// remembers the end of the stream so the caller can tell it from an error.
struct SocketSource {
  int socket = -1;
  bool ended = false;

  static int read(void* self, void* buffer, int length) {
    auto& source = *static_cast<SocketSource*>(self);
    for (;;) {
      const ssize_t count = ::read(source.socket, buffer, static_cast<std::size_t>(length));
      if (count > 0)
        return static_cast<int>(count);
      if (count < 0 && errno == EINTR)
        continue;
      source.ended = count == 0;
      return -1;
    }
  }
  static int refuse_writing(void*, void*, int) { return -1; }
};

// Everything the client learns from one stream of packets.
class PacketLog {
public:
  PacketLog(const ClientPlan& plan, ClientReport& report) : plan_(plan), report_(report) {}

  void record(const data_packet& packet) {
    const std::int64_t now = demo::monotonic_ns();
    const std::int64_t latency = now - static_cast<std::int64_t>(packet.sampled_at_ns);
    if (first_tick_ns_ < 0)
      first_tick_ns_ = static_cast<std::int64_t>(packet.sampled_at_ns) -
                       static_cast<std::int64_t>(packet.sequence) * plan_.tick_ns;
    check_sequence(packet.sequence);
    latencies_.push_back(latency);
    report_.worst_latency_ns = std::max<std::int64_t>(report_.worst_latency_ns, latency);
    if (latency > plan_.tick_ns)
      ++report_.late;
    else if (resumed_at_ns_ >= 0 && report_.caught_up_after_ns < 0)
      report_.caught_up_after_ns = now - resumed_at_ns_;
    ++report_.received;
  }

  // Stops reading for the planned time once the stall is due.
  void pause_if_due() {
    if (!plan_.stalls || resumed_at_ns_ >= 0 || first_tick_ns_ < 0)
      return;
    const std::int64_t stall_starts = first_tick_ns_ + plan_.stall_at_ns;
    if (demo::monotonic_ns() < stall_starts)
      return;
    report_.set(ClientState::stalled);
    std::this_thread::sleep_for(std::chrono::nanoseconds(plan_.stall_for_ns));
    resumed_at_ns_ = demo::monotonic_ns();
    report_.set(ClientState::reading);
  }

  void finish() {
    if (latencies_.empty())
      return;
    auto middle = latencies_.begin() + static_cast<std::ptrdiff_t>(latencies_.size() / 2);
    std::nth_element(latencies_.begin(), middle, latencies_.end());
    report_.median_latency_ns = *middle;
  }

private:
  void check_sequence(std::uint32_t sequence) {
    const std::int64_t last = report_.last_sequence;
    if (sequence <= last)
      ++report_.out_of_order;
    else
      report_.skipped += static_cast<std::uint64_t>(sequence - last - 1);
    report_.last_sequence = std::max<std::int64_t>(last, sequence);
  }

  const ClientPlan& plan_;
  ClientReport& report_;
  std::vector<std::int64_t> latencies_;
  std::int64_t first_tick_ns_ = -1;
  std::int64_t resumed_at_ns_ = -1;
};

} // namespace

int run_client(const ClientPlan& plan, ClientReport& report) {
  const support::UniqueFd socket = support::connect_to_loopback(
      plan.port, {.receive_buffer = plan.receive_buffer, .no_delay = true});
  SocketSource source{socket.get()};
  XDR stream{};
  xdrrec_create(&stream, 0, 0, &source, &SocketSource::read, &SocketSource::refuse_writing);
  stream.x_op = XDR_DECODE;
  report.set(ClientState::reading);
  PacketLog log(plan, report);
  for (;;) {
    log.pause_if_due();
    data_packet packet{};
    const bool decoded = xdrrec_skiprecord(&stream) && xdr_data_packet(&stream, &packet);
    if (decoded)
      log.record(packet);
    xdr_free(demo::xdr_procedure(&xdr_data_packet), &packet);
    if (!decoded)
      break;
  }
  xdr_destroy(&stream);
  log.finish();
  if (!source.ended) {
    ++report.undecodable;
    fmt::print(stderr, "client: a record did not decode\n");
  }
  report.set(source.ended ? ClientState::finished : ClientState::failed);
  return source.ended ? 0 : 1;
}

} // namespace data_server
