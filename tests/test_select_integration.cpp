// SPDX-License-Identifier: MIT
// test_select_integration.cpp - qio_fdset and qio_pollfds: telling a select
// or poll loop which channels wait for writability.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <string>

#include "support.hpp"

using qio_test::Fd;

namespace {

// Fills the channel's socket buffer so its queue stays pending.
void queue_until_pending(int fd) {
  const std::string chunk(64 * 1024, 'q');
  while (qio_pendc(fd) == 0) {
    REQUIRE(qio_write(fd, chunk.data(), static_cast<int>(chunk.size()), nullptr, nullptr) == 0);
    REQUIRE(qio_flushc(fd) == 0);
  }
}

// A descriptor number at or above FD_SETSIZE, if the limits allow one.
Fd duplicate_above_fd_setsize(int fd) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  const rlim_t wanted = FD_SETSIZE + 64;
  if (limit.rlim_cur < wanted && limit.rlim_max >= wanted) {
    limit.rlim_cur = wanted;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  return Fd(::fcntl(fd, F_DUPFD, FD_SETSIZE + 8));
}

} // namespace

TEST_CASE_METHOD(qio_test::CApiEngine, "qio_pollfds lists exactly the channels with pending output",
                 "[qio][select]") {
  qio_test::FdPair& busy = open_channel(qio_test::socket_pair());
  qio_test::FdPair& idle = open_channel(qio_test::socket_pair());
  queue_until_pending(busy.local.get());

  pollfd fds[4]{};
  REQUIRE(qio_pollfds(fds, 4) == 1);
  CHECK(fds[0].fd == busy.local.get());
  CHECK(fds[0].events == POLLOUT);

  SECTION("poll wakes once the peer reads, and the flush then completes the queue") {
    CHECK(::poll(fds, 1, 0) == 0); // the socket is full right now
    std::string received;
    while (qio_pend() > 0) {
      qio_test::drain_available(busy.remote.get(), received);
      const int count = qio_pollfds(fds, 4);
      if (count > 0)
        ::poll(fds, static_cast<nfds_t>(count), 1000);
      qio_flush();
    }
    qio_test::drain_available(busy.remote.get(), received);
    CHECK(received.size() % (64 * 1024) == 0);
    CHECK(qio_pollfds(fds, 4) == 0);
  }
  SECTION("a too small array gets the first entries and the full count") {
    queue_until_pending(idle.local.get());
    pollfd one{};
    CHECK(qio_pollfds(&one, 1) == 2);
    CHECK((one.fd == busy.local.get() || one.fd == idle.local.get()));
    CHECK(qio_pollfds(nullptr, 0) == 2);
  }
}

TEST_CASE_METHOD(qio_test::CApiEngine, "qio_pollfds rejects a negative capacity or a null array",
                 "[qio][select][errors]") {
  errno = 0;
  CHECK(qio_pollfds(nullptr, 1) == -1);
  CHECK(errno == EINVAL);
  pollfd fds[1];
  errno = 0;
  CHECK(qio_pollfds(fds, -1) == -1);
  CHECK(errno == EINVAL);
}

TEST_CASE_METHOD(qio_test::CApiEngine, "a channel at or above FD_SETSIZE is left out of qio_fdset "
                 "but listed by qio_pollfds",
                 "[qio][select]") {
  qio_test::FdPair& pair = keep(qio_test::socket_pair());
  Fd& high = keep(duplicate_above_fd_setsize(pair.local.get()));
  if (high.get() < 0) {
    WARN("RLIMIT_NOFILE does not allow a descriptor >= FD_SETSIZE here; skipped");
    return;
  }
  qio_test::configure_channel(high.get());
  qio_test::FdPair& low = open_channel(qio_test::socket_pair());
  queue_until_pending(high.get());
  queue_until_pending(low.local.get());

  fd_set mask;
  FD_ZERO(&mask);
  CHECK(qio_fdset(&mask) == low.local.get() + 1);
  CHECK(FD_ISSET(low.local.get(), &mask));

  pollfd fds[2]{};
  REQUIRE(qio_pollfds(fds, 2) == 2);
  CHECK(((fds[0].fd == high.get() && fds[1].fd == low.local.get()) ||
         (fds[1].fd == high.get() && fds[0].fd == low.local.get())));
  // A channel past FD_SETSIZE still flushes and completes normally.
  std::string received;
  while (qio_pendc(high.get()) > 0) {
    qio_test::drain_available(pair.remote.get(), received);
    qio_flushc(high.get());
  }
  CHECK(qio_pendc(high.get()) == 0);
}
