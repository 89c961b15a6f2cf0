// SPDX-License-Identifier: MIT
// fanout.hpp - the fan-out tick: one small message to each of many peers,
// then one flush, as a data server's tick sends an update to every client.
#ifndef QIO_BENCH_FANOUT_HPP
#define QIO_BENCH_FANOUT_HPP

#include <vector> // setups, figures

#include "results.hpp"

namespace bench {

struct FanoutSetup {
  Transport transport = Transport::unix_socketpair;
  int peers = 1'000;
};

struct FanoutPlan {
  std::vector<FanoutSetup> setups{{Transport::unix_socketpair, 1'000},
                                  {Transport::unix_socketpair, 8'000},
                                  {Transport::tcp_loopback, 1'000}};
  int ticks = 200; // timed ticks per sender; the figure is the median
  std::size_t message_size = 128;
};

// For each setup: connects the peers (TCP_NODELAY on TCP, as a server of
// small updates sets it), makes each sending end a buffered qio channel and
// a libevent bufferevent, and runs ticks round after round, each round one
// tick of every sender in a rotated order: the bare send() loop, qio_write
// per peer then one qio_flush, and bufferevent_write per peer then
// event_base_loop until every bufferevent has written. Between ticks,
// untimed, every peer reads and checks the tick's message. A setup whose
// descriptors do not fit under the hard RLIMIT_NOFILE is skipped, saying
// why; what fails is listed in `failures`.
std::vector<FanoutFigures> run_fanout(const FanoutPlan& plan, std::vector<std::string>& failures);

} // namespace bench

#endif // QIO_BENCH_FANOUT_HPP
