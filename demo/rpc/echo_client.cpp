// SPDX-License-Identifier: MIT
// echo_client.cpp - the echo, slow-reading and STATS phases.
#include "echo_client.hpp"

#include <netinet/in.h> // sockaddr_in

#include <algorithm>  // std::sort, std::max, std::equal
#include <atomic>     // std::atomic, stopping the second client
#include <chrono>     // round trips
#include <random>     // std::mt19937, the echoed bytes
#include <stdexcept>  // std::runtime_error
#include <string>     // std::string
#include <thread>     // std::thread, the second client
#include <utility>    // std::move
#include <vector>     // std::vector

#include <fmt/core.h>

#include <xdr_glue/rpc_server.hpp> // void_xdrproc: STATS takes no arguments

#include "support/loopback.hpp"
#include "common/report.hpp"
#include "common/xdr_procedure.hpp"
#include "echo.h" // rpcgen: ECHO_PROGRAM, ECHO, STATS, echo_data, echo_stats
#include "slow_reader.hpp"

namespace rpc_demo {
namespace {

using Clock = std::chrono::steady_clock;

constexpr timeval call_timeout{30, 0};
// The slow reader's receive buffer, fixed so its backlog stays on the
// server instead of in a large kernel buffer.
constexpr int slow_receive_buffer = 64 * 1024;
constexpr std::size_t slow_chunk_bytes = 64 * 1024;
constexpr std::chrono::milliseconds slow_pause{25};
constexpr int slow_calls = 4;

// A libtirpc TCP client on a connection of our own making (so its buffer
// size is ours to choose); clnt_destroy closes the connection.
class RpcClient {
public:
  explicit RpcClient(std::uint16_t port, int receive_buffer = 0) {
    support::UniqueFd connection =
        support::connect_to_loopback(port, {.receive_buffer = receive_buffer, .no_delay = true});
    sockaddr_in address = support::loopback_address(port);
    int socket = connection.get();
    handle_ = clnttcp_create(&address, ECHO_PROGRAM, ECHO_VERSION, &socket, 0, 0);
    if (handle_ == nullptr)
      throw std::runtime_error(clnt_spcreateerror("clnttcp_create"));
    connection.release();
    clnt_control(handle_, CLSET_FD_CLOSE, nullptr);
  }
  ~RpcClient() { clnt_destroy(handle_); }
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // One ECHO call; true if the reply is exactly `sent`. `decode` reads the
  // reply: xdr_echo_data, or xdr_echo_data_slowly.
  bool echo(std::vector<char>& sent, bool_t (*decode)(XDR*, echo_data*)) {
    echo_data arguments{static_cast<u_int>(sent.size()), sent.data()};
    echo_data reply{};
    const clnt_stat status =
        clnt_call(handle_, ECHO, demo::xdr_procedure(&xdr_echo_data), &arguments,
                  demo::xdr_procedure(decode), &reply, call_timeout);
    const bool intact = status == RPC_SUCCESS && reply.echo_data_len == sent.size() &&
                        std::equal(sent.begin(), sent.end(), reply.echo_data_val);
    if (status != RPC_SUCCESS)
      fmt::print(stderr, "ECHO of {} bytes: {}\n", sent.size(), clnt_sperrno(status));
    xdr_free(demo::xdr_procedure(&xdr_echo_data), &reply);
    return intact;
  }

  // One STATS call; false (and a message) if it failed.
  bool stats(echo_stats& out) {
    const clnt_stat status = clnt_call(handle_, STATS, xdr_glue::rpc::void_xdrproc(),
                                       nullptr, demo::xdr_procedure(&xdr_echo_stats), &out,
                                       call_timeout);
    if (status != RPC_SUCCESS)
      fmt::print(stderr, "STATS: {}\n", clnt_sperrno(status));
    return status == RPC_SUCCESS;
  }

private:
  CLIENT* handle_ = nullptr;
};

// Calls of one kind: how many, how many came back intact, their round trips.
struct Phase {
  explicit Phase(std::string phase_name) : name(std::move(phase_name)) {}

  std::string name;
  std::uint64_t calls = 0;
  std::uint64_t intact = 0;
  std::uint64_t bytes = 0; // echoed, each way
  std::vector<std::int64_t> round_trips_ns;

  void add(bool call_intact, std::size_t size, Clock::duration round_trip) {
    ++calls;
    intact += call_intact ? 1 : 0;
    bytes += size;
    round_trips_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(round_trip).count());
  }
  std::int64_t fastest_ns() const { return sorted_at(0); }
  std::int64_t median_ns() const { return sorted_at(round_trips_ns.size() / 2); }
  std::int64_t worst_ns() const { return round_trips_ns.empty() ? 0 : sorted_at(round_trips_ns.size() - 1); }
  bool all_intact() const { return calls > 0 && intact == calls; }

private:
  std::int64_t sorted_at(std::size_t index) const {
    if (round_trips_ns.empty())
      return 0;
    std::vector<std::int64_t> sorted = round_trips_ns;
    std::sort(sorted.begin(), sorted.end());
    return sorted[index];
  }
};

std::vector<char> random_bytes(std::size_t size, std::mt19937& generator) {
  std::vector<char> bytes(size);
  for (char& byte : bytes)
    byte = static_cast<char>(generator());
  return bytes;
}

bool timed_echo(RpcClient& client, Phase& phase, std::vector<char>& data,
                bool_t (*decode)(XDR*, echo_data*)) {
  const auto start = Clock::now();
  const bool intact = client.echo(data, decode);
  phase.add(intact, data.size(), Clock::now() - start);
  return intact;
}

Phase run_echo_phase(RpcClient& client, std::mt19937& generator) {
  // Edges of XDR's 4-byte padding, of libtirpc's 4000-byte xdrrec buffers
  // and of 64 KiB, up to the 1 MiB limit of echo.x.
  const std::size_t sizes[] = {0,     1,     2,      3,       4,           5,
                               1000,  3999,  4000,   4001,    65535,       65536,
                               65537, 300001, 1048573, 1048575, ECHO_MAX_BYTES};
  Phase phase{"echo, 0 B to 1 MiB"};
  for (const std::size_t size : sizes) {
    std::vector<char> data = random_bytes(size, generator);
    timed_echo(client, phase, data, &xdr_echo_data);
  }
  return phase;
}

// The second client: small echoes and STATS until told to stop. Records
// the most reply bytes STATS ever showed waiting.
struct Bystander {
  Phase phase{"second client, meanwhile"};
  std::uint64_t most_bytes_queued_seen = 0;
  bool stats_ok = true;
  std::string failure; // what stopped it early, if anything did

  // Runs on a thread of its own, so nothing may escape it.
  void run(std::uint16_t port, const std::atomic<bool>& stop) noexcept {
    try {
      call_until(port, stop);
    } catch (const std::exception& error) {
      failure = error.what();
    }
  }

private:
  void call_until(std::uint16_t port, const std::atomic<bool>& stop) {
    RpcClient client(port);
    std::mt19937 generator(7);
    for (unsigned turn = 0; !stop; ++turn) {
      std::vector<char> data = random_bytes(512, generator);
      timed_echo(client, phase, data, &xdr_echo_data);
      echo_stats stats{};
      if (turn % 4 == 0) {
        if (client.stats(stats))
          most_bytes_queued_seen =
              std::max<std::uint64_t>(most_bytes_queued_seen, stats.bytes_queued);
        else
          stats_ok = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
};

// Stops the second client and waits for it, however the slow phase ends.
struct StopAndJoin {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~StopAndJoin() {
    stop = true;
    thread.join();
  }
};

Phase run_slow_phase(std::uint16_t port, Bystander& bystander, std::mt19937& generator) {
  set_slow_reading_pace(slow_chunk_bytes, slow_pause);
  RpcClient slow_client(port, slow_receive_buffer);
  Phase phase{"slow reader, 1 MiB each"};
  std::atomic<bool> stop{false};
  std::thread second([&] { bystander.run(port, stop); });
  {
    const StopAndJoin stop_second{stop, second};
    for (int call = 0; call < slow_calls; ++call) {
      std::vector<char> data = random_bytes(ECHO_MAX_BYTES, generator);
      timed_echo(slow_client, phase, data, &xdr_echo_data_slowly);
    }
  }
  if (!bystander.failure.empty())
    throw std::runtime_error("second client: " + bystander.failure);
  return phase;
}

void print_phase(const Phase& phase) {
  fmt::print("  {}: {} of {} replies intact ({} each way); round trip median {}, worst {}\n",
             phase.name, phase.intact, phase.calls, demo::format_bytes(phase.bytes),
             demo::format_duration_ns(phase.median_ns()), demo::format_duration_ns(phase.worst_ns()));
  std::fflush(stdout);
}

void print_table(const std::vector<Phase>& phases, const echo_stats& stats) {
  support::Table table({"phase", "calls", "intact", "bytes each way", "median round trip",
                     "worst round trip"});
  for (const Phase& phase : phases)
    table.add_row({phase.name, support::grouped(phase.calls), support::grouped(phase.intact),
                   demo::format_bytes(phase.bytes), demo::format_duration_ns(phase.median_ns()),
                   demo::format_duration_ns(phase.worst_ns())});
  fmt::print("\nsummary\n");
  table.print(stdout);
  fmt::print("  server, by STATS: {} calls answered, peak queue depth {}, {} queued at the end\n",
             support::grouped(stats.calls), demo::format_bytes(stats.peak_bytes_queued),
             demo::format_bytes(stats.bytes_queued));
}

} // namespace

int run_client_session(std::uint16_t port) {
  std::mt19937 generator(1991);
  RpcClient client(port);

  fmt::print("\n== echo: ECHO calls from 0 bytes to the 1 MiB limit, each reply compared\n");
  const Phase echoes = run_echo_phase(client, generator);
  print_phase(echoes);

  fmt::print("\n== slow reading: {} ECHO calls of 1 MiB whose replies are read {} at a time,\n"
             "   {} ms pause before each; a second client calls ECHO and STATS meanwhile\n",
             slow_calls, demo::format_bytes(slow_chunk_bytes), slow_pause.count());
  Bystander bystander;
  const Phase slow = run_slow_phase(port, bystander, generator);
  print_phase(slow);
  print_phase(bystander.phase);
  fmt::print("  STATS, asked by the second client meanwhile: up to {} of replies waiting in qio\n",
             demo::format_bytes(bystander.most_bytes_queued_seen));

  fmt::print("\n== STATS: the server's counters\n");
  echo_stats stats{};
  const bool stats_ok = client.stats(stats) && bystander.stats_ok;
  fmt::print("  {} ECHO and STATS calls answered, {} of replies queued now, peak queue depth {}\n",
             support::grouped(stats.calls), demo::format_bytes(stats.bytes_queued),
             demo::format_bytes(stats.peak_bytes_queued));
  print_table({echoes, slow, bystander.phase}, stats);

  const bool intact = echoes.all_intact() && slow.all_intact() && bystander.phase.all_intact();
  // Had the server waited for the slow reader, a call of the second client
  // would have waited for much of a slow call; a busy machine's scheduling
  // delays stay well below half of one.
  const bool never_held_up = bystander.phase.worst_ns() < slow.fastest_ns() / 2;
  const bool backlog_in_qio = stats.peak_bytes_queued > 0 && bystander.most_bytes_queued_seen > 0;
  fmt::print("\n{}\n{}\n{}\n",
             intact ? "every echo came back intact." : "some echoes did NOT come back intact.",
             never_held_up
                 ? fmt::format("the second client was never held up by the slow reader (worst "
                               "round trip {}).",
                               demo::format_duration_ns(bystander.phase.worst_ns()))
                 : "the second client WAS held up by the slow reader.",
             backlog_in_qio ? "the slow reader's replies waited in the server's qio queue."
                            : "no backlog was seen in the server's qio queue.");
  const bool ok = intact && never_held_up && backlog_in_qio && stats_ok;
  fmt::print("result: {}\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

} // namespace rpc_demo
