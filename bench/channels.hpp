// SPDX-License-Identifier: MIT
// channels.hpp - qio_flush's cost with many configured channels.
#ifndef QIO_BENCH_CHANNELS_HPP
#define QIO_BENCH_CHANNELS_HPP

#include "results.hpp"

namespace bench {

struct ChannelsPlan {
  int channels = 10'000;
  int batches = 21; // the figure is the median batch
  int flushes_per_batch = 1'000;
};

// Configures `channels` socketpair ends as qio channels and times
// qio_flush with all of them idle and with one of them holding 64 bytes,
// against that channel's own sendmsg of the same bytes; then the same with
// that channel alone. If both ends of every pair do not fit under the
// descriptor limit, a child process holds the peer ends (passed over
// SCM_RIGHTS) until the measurement ends.
ChannelsFigures run_channels(const ChannelsPlan& plan);

} // namespace bench

#endif // QIO_BENCH_CHANNELS_HPP
