// SPDX-License-Identifier: MIT
// test_scale.cpp - many requests on a silent peer, and many connections.
#include <catch2/catch.hpp>

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qio/engine.hpp"
#include "support.hpp"

using qio_test::Fd;

namespace {

// Counts each request's completions by outcome and catches any request
// completing twice or out of order.
struct OutcomeLedger {
  std::vector<int> calls_per_request;
  int ok = 0, failed = 0, cancelled = 0, out_of_order = 0;
  int next_expected = 0;

  explicit OutcomeLedger(std::size_t requests) : calls_per_request(requests, 0) {}

  void on_completion(int index, int error) {
    ++calls_per_request[static_cast<std::size_t>(index)];
    if (index != next_expected)
      ++out_of_order;
    next_expected = index + 1;
    (error == 0 ? ok : error == ECANCELED ? cancelled : failed) += 1;
  }
};

struct RequestTag {
  OutcomeLedger* ledger;
  int index;
};

void record_outcome(int error_code, int, int, char*, int, void* ast_arg) {
  auto* tag = static_cast<RequestTag*>(ast_arg);
  tag->ledger->on_completion(tag->index, error_code);
}

} // namespace

TEST_CASE_METHOD(qio_test::CApiEngine, "10,000 requests to a peer that never reads each complete "
                 "exactly once when the channel is terminated",
                 "[qio][scale]") {
  qio_test::FdPair& pair = keep(qio_test::socket_pair());
  const int small_buffer = 4096;
  REQUIRE(::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &small_buffer,
                       sizeof small_buffer) == 0);
  qio_test::configure_channel(pair.local.get());

  constexpr int request_count = 10000;
  OutcomeLedger ledger(request_count);
  std::vector<RequestTag> tags(request_count);
  const qio_test::TerminateAtExit terminate_at_exit; // the ASTs report through `tags`
  const std::string kilobyte(1024, 'k');
  for (int i = 0; i < request_count; ++i) {
    tags[static_cast<std::size_t>(i)] = {&ledger, i};
    REQUIRE(qio_write(pair.local.get(), kilobyte.data(), 1024, record_outcome,
                      &tags[static_cast<std::size_t>(i)]) == 0);
  }
  // One second of trying, as a program's select loop would, then give up.
  CHECK(qio_wait(pair.local.get(), 1000) == ETIMEDOUT);
  CHECK(ledger.ok < request_count);
  CHECK(qio_term() == 0);

  CHECK(ledger.ok + ledger.failed + ledger.cancelled == request_count);
  CHECK(ledger.cancelled > 0);
  CHECK(ledger.out_of_order == 0);
  int not_once = 0;
  for (const int calls : ledger.calls_per_request)
    not_once += calls != 1;
  CHECK(not_once == 0);
  CHECK(qio_pend() == 0);
}

namespace {

constexpr int connection_count = 10000;
constexpr int writes_per_connection = 3;
constexpr std::size_t write_size = 700;

// The peer: accepts every connection, reads each to end of file, and
// reports through `report` how many connections delivered exactly the
// expected bytes. Runs in a child process so that the parent's
// descriptors (one per connection) fit the limit.
[[noreturn]] void run_reading_peer(int listener, int report) {
  const int poller = ::epoll_create1(0);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  ::epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
  // Bytes per descriptor number; descriptors stay below the raised limit.
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  std::vector<std::size_t> received(static_cast<std::size_t>(limit.rlim_cur), 0);
  int accepted = 0, finished = 0, exact = 0;
  while (finished < connection_count) {
    epoll_event ready[256];
    const int count = ::epoll_wait(poller, ready, 256, 20000);
    if (count <= 0)
      break; // the parent stalled: report what arrived
    for (int i = 0; i < count; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == listener) {
        const int connection = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (connection < 0)
          continue;
        ++accepted;
        event.data.fd = connection;
        ::epoll_ctl(poller, EPOLL_CTL_ADD, connection, &event);
        continue;
      }
      char buffer[16384];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        received[static_cast<std::size_t>(fd)] += static_cast<std::size_t>(n);
      } else if (n == 0) {
        exact += received[static_cast<std::size_t>(fd)] == writes_per_connection * write_size;
        ++finished;
        ::close(fd);
      }
    }
  }
  const int summary[3] = {accepted, finished, exact};
  const ssize_t written = ::write(report, summary, sizeof summary);
  ::_exit(written == sizeof summary ? 0 : 1);
}

} // namespace

TEST_CASE("10,000 loopback connections with queued output all flush and complete",
          "[qio][scale]") {
  if (support::raise_descriptor_limit() < connection_count + 100) {
    WARN("the hard descriptor limit is below " << connection_count + 100 << "; skipped");
    return;
  }
  Fd listener = support::listen_on_loopback();
  const std::uint16_t port = support::local_port(listener.get());
  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t peer = ::fork();
  REQUIRE(peer >= 0);
  if (peer == 0)
    run_reading_peer(listener.get(), report[1]);
  ::close(report[1]);
  listener.reset();

  qio::Engine engine;
  std::vector<Fd> connections;
  connections.reserve(connection_count);
  std::size_t completions = 0;
  auto count_completion = [](const qio::Completion& completion, void* counter) {
    if (!completion.error)
      ++*static_cast<std::size_t*>(counter);
  };
  const std::string payload(write_size, 'c');
  for (int i = 0; i < connection_count; ++i) {
    Fd connection = support::connect_to_loopback(port);
    REQUIRE(!engine.configure(connection.get(), {}));
    for (int w = 0; w < writes_per_connection; ++w)
      REQUIRE(!engine.write(connection.get(), payload, {count_completion, &completions}));
    connections.push_back(std::move(connection));
  }
  CHECK(engine.pending() == connection_count * writes_per_connection);
  for (int round = 0; round < 1000 && engine.pending() > 0; ++round) {
    std::vector<pollfd> waiting(engine.pending());
    const std::size_t count = engine.fill_pollfds(waiting);
    if (count > 0)
      ::poll(waiting.data(), std::min(count, waiting.size()), 100);
    engine.flush();
  }
  CHECK(engine.pending() == 0);
  CHECK(completions == connection_count * writes_per_connection);
  engine.terminate();
  connections.clear(); // end of file for the peer

  const std::string summary_bytes = qio_test::read_exactly(report[0], 3 * sizeof(int));
  ::close(report[0]);
  int status = 0;
  ::waitpid(peer, &status, 0);
  REQUIRE(summary_bytes.size() == 3 * sizeof(int));
  int summary[3];
  std::memcpy(summary, summary_bytes.data(), sizeof summary);
  CHECK(summary[0] == connection_count); // accepted
  CHECK(summary[1] == connection_count); // read to end of file
  CHECK(summary[2] == connection_count); // with exactly the bytes queued
  CHECK(WIFEXITED(status));
}
