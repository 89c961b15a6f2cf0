// SPDX-License-Identifier: MIT
// server.cpp - the data server's tick, sampling, sending and draining.
#include "server.hpp"

#include <sys/select.h> // select, fd_set
#include <sys/socket.h> // recv, MSG_DONTWAIT

#include <algorithm>    // std::max, std::min
#include <cerrno>       // errno, EINTR, ENOBUFS, ETIMEDOUT
#include <cmath>        // std::sin, the sampled values
#include <cstring>      // std::strerror
#include <system_error> // std::system_error

#include <fmt/core.h>

#include "common/report.hpp"
#include "common/xdr_procedure.hpp"
#include "qio/qio.h"
#include "xdr_glue/xdr_qio.h"

namespace data_server {
namespace {

constexpr std::int64_t second_ns = 1'000'000'000;

// The few values sampled each tick: slow waves, so they look alive.
struct Measurement {
  const char* name;
  double base, swing, period_seconds;
};
constexpr Measurement measurements[] = {
    {"bus voltage", 28.0, 0.4, 7.0},
    {"battery temperature", 18.5, 2.0, 31.0},
    {"wheel speed", 2400.0, 150.0, 11.0},
    {"sun angle", 45.0, 30.0, 60.0},
};
constexpr unsigned value_count = sizeof measurements / sizeof measurements[0];

// Samples every measurement at `seconds` into `values` and wraps it, with
// the raw samples, in a packet (pointing into both: encode only).
data_packet sample_tick(unsigned sequence, std::int64_t now_ns, double seconds,
                   telemetry_value (&values)[value_count], std::vector<float>& samples) {
  for (unsigned index = 0; index < value_count; ++index) {
    const Measurement& measured = measurements[index];
    values[index].name = const_cast<char*>(measured.name); // rpcgen's string is char*
    values[index].value =
        measured.base + measured.swing * std::sin(6.283185 * seconds / measured.period_seconds);
  }
  for (std::size_t index = 0; index < samples.size(); ++index)
    samples[index] = static_cast<float>(std::sin(0.001 * static_cast<double>(index) + seconds));
  data_packet packet{};
  packet.sequence = sequence;
  packet.sampled_at_ns = static_cast<u_quad_t>(now_ns);
  packet.values.values_len = value_count;
  packet.values.values_val = values;
  packet.samples.samples_len = static_cast<u_int>(samples.size());
  packet.samples.samples_val = samples.data();
  return packet;
}

std::size_t encoded_size(data_packet& packet) {
  return xdr_sizeof(demo::xdr_procedure(&xdr_data_packet), &packet);
}

// The channel's qio_stat figures, their peak kept in `history` (the
// figures go with the channel). False if it is no longer a channel.
bool take_stats(int channel, QueueHistory& history, qio_channel_stats& stats) {
  if (qio_stat(channel, &stats) != 0)
    return false;
  history.peak_queued_bytes = std::max(history.peak_queued_bytes, stats.peak_queued_bytes);
  return true;
}

// The same when only the peak matters: before the channel goes.
void keep_peak(int channel, QueueHistory& history) {
  qio_channel_stats stats{};
  take_stats(channel, history, stats);
}

} // namespace

DataServer::DataServer(const ServerPlan& plan, std::vector<support::UniqueFd> connections,
                       const SharedClients& reports)
    : plan_(plan), reports_(reports) {
  // About packet_bytes in all: the few values take ~150 bytes, the rest
  // is raw samples of 4 bytes each.
  samples_.resize(plan.packet_bytes > 256 ? (plan.packet_bytes - 160) / 4 : 16);
  telemetry_value values[value_count];
  data_packet probe = sample_tick(0, 0, 0, values, samples_);
  encoded_bytes_ = encoded_size(probe);
  for (std::size_t index = 0; index < connections.size(); ++index) {
    auto client = std::make_unique<Client>();
    client->socket = std::move(connections[index]);
    client->policy = plan.policies[index];
    client->stalls = plan.stalls[index];
    const int fd = client->socket.get();
    // As the memo's data server: non-blocking, buffered, no request limit;
    // then what the client's policy needs.
    if (const int error = qio_configure(fd, 1, 1, -1))
      throw std::system_error(error, std::generic_category(), "qio_configure");
    if (const int error = apply_limits(fd, client->policy, plan.retirement))
      throw std::system_error(error, std::generic_category(), "qio_setlimits");
    // One packet per xdrrec buffer, so one qio request per packet and
    // qio_pendc() counts packets.
    const auto buffer = static_cast<unsigned>(encoded_bytes_ + 64);
    if (const int error = xdr_qio_create(&client->stream, fd, buffer, 0))
      throw std::system_error(error, std::generic_category(), "xdr_qio_create");
    clients_.push_back(std::move(client));
  }
}

DataServer::~DataServer() {
  for (auto& client : clients_)
    if (!client->history.gone)
      drop_client(*client);
}

// A packet the stream could not queue means the channel failed: by the
// client's soft limit or stall timeout (ENOBUFS, ETIMEDOUT: its policy at
// work), or by a hard error (the client is gone).
void DataServer::send_packet(Client& client, data_packet& packet) {
  const int fd = client.socket.get();
  if (client.policy == Policy::prune && qio_pendc(fd) > 0) {
    unsigned dropped = 0;
    xdr_qio_prune(fd, &dropped);
    client.history.pruned += dropped;
  }
  if (xdr_data_packet(&client.stream, &packet) && xdrrec_endofrecord(&client.stream, TRUE)) {
    ++client.history.queued_packets;
    return;
  }
  const int error = errno; // xdr_qio_writeit's: qio_write's error
  if (error == ENOBUFS || error == ETIMEDOUT) {
    retire(client, error);
    return;
  }
  fmt::print(stderr, "data server: queueing a packet failed: {}\n", std::strerror(error));
  drop_client(client);
}

void DataServer::send_tick(unsigned sequence, std::int64_t now_ns) {
  if (first_tick_ns_ < 0)
    first_tick_ns_ = now_ns;
  telemetry_value values[value_count];
  data_packet packet = sample_tick(sequence, now_ns, static_cast<double>(now_ns) / 1e9, values, samples_);
  for (auto& client : clients_)
    if (!client->history.gone && !client->history.closing)
      send_packet(*client, packet);
  note_queue_depths();
}

// Right after a tick's packets were queued: the deepest each queue gets.
// The close policy decides here too, from qio_stat's stall time.
void DataServer::note_queue_depths() {
  for (auto& client : clients_) {
    if (client->history.gone || client->history.closing)
      continue;
    client->history.peak_packets = std::max<std::uint64_t>(
        client->history.peak_packets, static_cast<std::uint64_t>(qio_pendc(client->socket.get())));
    qio_channel_stats stats{};
    if (take_stats(client->socket.get(), client->history, stats) &&
        due_for_close(client->policy, stats, plan_.retirement))
      begin_close(*client);
  }
}

// Stops serving the client. A closing channel is ended by qio_termc, which
// closes it and calls on_closed; any other is closed here.
void DataServer::drop_client(Client& client) {
  const bool closing = client.history.closing;
  if (!closing)
    xdr_destroy(&client.stream);
  qio_termc(client.socket.get());
  client.socket.reset();
  client.history.gone = true;
}

// A limit failed the client's channel: what it cost is noted, and it goes.
void DataServer::retire(Client& client, int error) {
  keep_peak(client.socket.get(), client.history);
  client.history.retired_at_ns = demo::monotonic_ns();
  client.history.retired_error = error;
  drop_client(client);
}

// The close policy: no more packets for this client; what is queued still
// goes out if it resumes within the close's timeout, then qio closes the
// connection and on_closed says how it ended.
void DataServer::begin_close(Client& client) {
  keep_peak(client.socket.get(), client.history);
  xdr_destroy(&client.stream);
  const int error = qio_close(client.socket.get(), plan_.retirement.close_timeout_ms,
                              &DataServer::on_closed, &client);
  if (error != 0) {
    fmt::print(stderr, "data server: qio_close failed: {}\n", std::strerror(error));
    qio_termc(client.socket.get());
    client.socket.reset();
    client.history.gone = true;
    return;
  }
  client.history.closing = true;
}

void DataServer::on_closed(int error_code, int, int operation, char*, int, void* argument) {
  if (operation != QIO_CLOSE)
    return;
  Client& client = *static_cast<Client*>(argument);
  static_cast<void>(client.socket.release()); // qio has closed it
  client.history.closing = false;
  client.history.gone = true;
  client.history.retired_at_ns = demo::monotonic_ns();
  client.history.retired_error = error_code;
}

// One select: clients' sockets for reading (they send nothing, so
// readable means they closed), qio's channels with output for writing,
// and a timeout at `until_ns`. Then qio_flush, whatever woke us.
void DataServer::wait_for_io(std::int64_t until_ns) {
  fd_set readable, writable;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  int count = qio_fdset(&writable);
  for (auto& client : clients_)
    if (!client->history.gone) {
      FD_SET(client->socket.get(), &readable);
      count = std::max(count, client->socket.get() + 1);
    }
  const std::int64_t wait_ns = std::max<std::int64_t>(0, until_ns - demo::monotonic_ns());
  timeval timeout{static_cast<time_t>(wait_ns / second_ns),
                  static_cast<suseconds_t>(wait_ns % second_ns / 1000)};
  if (::select(count, &readable, &writable, nullptr, &timeout) < 0)
    FD_ZERO(&readable); // EINTR: nothing is known to be ready
  for (auto& client : clients_) {
    char byte;
    if (!client->history.gone && FD_ISSET(client->socket.get(), &readable) &&
        ::recv(client->socket.get(), &byte, 1, MSG_DONTWAIT) <= 0)
      drop_client(*client);
  }
  qio_flush();
}

void DataServer::print_progress(double seconds, unsigned ticks) const {
  std::string line = fmt::format("  [{:4.1f} s] ticks {:3}", seconds, ticks);
  for (std::size_t index = 0; index < clients_.size(); ++index) {
    const ClientReport& report = reports_.clients[index];
    const Client& client = *clients_[index];
    const int queued = client.history.gone ? 0 : qio_pendc(client.socket.get());
    line += fmt::format(" | #{} got {:3}, {:2} queued{}", index + 1, report.received.load(), queued,
                        report.current() == ClientState::stalled ? ", STALLED" : "");
  }
  fmt::print("{}\n", line);
  for (std::size_t index = 0; index < clients_.size(); ++index)
    if (clients_[index]->stalls)
      print_stats_line(index);
  std::fflush(stdout);
}

// A client that stalls: its qio_stat figures, or how its policy retired it.
void DataServer::print_stats_line(std::size_t index) const {
  const Client& client = *clients_[index];
  const QueueHistory& history = client.history;
  std::string what;
  qio_channel_stats stats{};
  if (history.retired_at_ns >= 0)
    what = fmt::format("retired at {:.2f} s ({}), peak {}",
                       static_cast<double>(history.retired_at_ns - first_tick_ns_) / 1e9,
                       describe_retirement(client.policy, history.retired_error),
                       demo::format_bytes(history.peak_queued_bytes));
  else if (history.gone || qio_stat(client.socket.get(), &stats) != 0)
    what = "gone";
  else
    what = describe_stats(stats) + (history.closing ? ", closing" : "");
  fmt::print("        #{} {}: {}\n", index + 1, policy_name(client.policy), what);
}

void DataServer::run() {
  const std::int64_t start = demo::monotonic_ns();
  std::int64_t next_tick = start;
  // Half a tick after the tick, so a line shows where the packets went
  // rather than the one just queued.
  std::int64_t next_progress = start + second_ns + plan_.tick_ns / 2;
  unsigned sent = 0;
  while (sent < plan_.ticks) {
    wait_for_io(std::min(next_tick, next_progress));
    const std::int64_t now = demo::monotonic_ns();
    if (now >= next_tick) {
      send_tick(sent++, now);
      next_tick += plan_.tick_ns;
    }
    if (now >= next_progress) {
      print_progress(static_cast<double>(now - start) / 1e9, sent);
      next_progress += second_ns;
    }
  }
  if (!drain())
    fmt::print("  data server: gave up draining after {:.1f} s\n", plan_.drain_limit_seconds);
}

// After the last tick: flush until every queue is empty, or the limit.
bool DataServer::drain() {
  const std::int64_t deadline =
      demo::monotonic_ns() + static_cast<std::int64_t>(plan_.drain_limit_seconds * 1e9);
  while (qio_pend() > 0 && demo::monotonic_ns() < deadline)
    wait_for_io(std::min(deadline, demo::monotonic_ns() + plan_.tick_ns));
  for (auto& client : clients_)
    if (!client->history.gone) {
      client->history.left_at_end = static_cast<std::uint64_t>(qio_pendc(client->socket.get()));
      keep_peak(client->socket.get(), client->history);
    }
  return qio_pend() == 0;
}

} // namespace data_server
