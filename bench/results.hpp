// SPDX-License-Identifier: MIT
// results.hpp - the figures each case produces, as the report reads them.
#ifndef QIO_BENCH_RESULTS_HPP
#define QIO_BENCH_RESULTS_HPP

#include <array>       // all_fanout_senders
#include <cstddef>     // std::size_t
#include <optional>    // figures a run may not have
#include <string>      // names, errors
#include <string_view> // sender names
#include <vector>      // lists of figures

#include "transport.hpp"
#include "writers.hpp"
#include "xdr_writers.hpp"

namespace bench {

// Medians over the repetitions of one (transport, size, implementation).
struct ThroughputFigure {
  Transport transport = Transport::unix_socketpair;
  std::size_t message_size = 0;
  Implementation implementation = Implementation::limit;
  int runs = 0;                    // runs that verified
  std::vector<double> round_rates; // MiB/s in each round; 0 where it failed
  double messages_per_second = 0;
  double mib_per_second = 0;
  double percent_of_limit = 0;    // paired with the limit run of each round
  double writes_per_mib = 0;      // write-family system calls
  double would_block_per_mib = 0; // of those, calls that returned EAGAIN
  // The writer thread's CPU time per message: user space (the library's
  // queueing and completing, or the plain writers' loops) and kernel (the
  // copies into the socket). Time spent waiting is in neither.
  double writer_user_ns_per_message = 0;
  double writer_system_ns_per_message = 0;
};

// The median over rounds of a's rate divided by b's in the same round
// (rounds where either failed are skipped; 0 if none is left). Runs of one
// round are seconds apart, so a load that drifts over the minutes of a
// whole run cancels out of the ratio.
double paired_ratio(const ThroughputFigure& a, const ThroughputFigure& b);

// Queueing 64-byte messages while the peer does not read.
struct EnqueueFigure {
  std::string subject; // "qio", "qio+AST", "libevent", "libuv"
  std::size_t messages = 0;
  double ns_per_message = 0;
  double bytes_per_request = 0;       // resident growth beyond the payload
  std::optional<double> instructions; // per message, from callgrind
  std::string instructions_note;      // why instructions are missing
  std::string error;
};

struct ChannelsFigures {
  int channels = 0;
  bool peers_in_child = false;    // peer ends held by a child (SCM_RIGHTS)
  double idle_flush_ns = 0;       // qio_flush, all channels idle
  double busy_flush_ns = 0;       // qio_flush, one channel with 64 bytes queued
  double own_write_ns = 0;        // sendmsg of those 64 bytes, without qio
  double busy_over_own_write = 0; // median of per-batch ratios of the two
  double idle_flush_alone_ns = 0; // the same two with only that one channel
  double busy_flush_alone_ns = 0;
  std::string error;
};

// The fan-out tick's senders: the bare loop first, the others' yardstick.
enum class FanoutSender { bare, qio, libevent };
inline constexpr std::array all_fanout_senders{FanoutSender::bare, FanoutSender::qio,
                                               FanoutSender::libevent};
std::string_view fanout_sender_name(FanoutSender sender) noexcept;

// One sender in one fan-out setup: medians over the timed ticks.
struct FanoutRow {
  FanoutSender sender = FanoutSender::bare;
  double ns_per_message = 0;     // the tick's time over its messages
  double writes_per_message = 0; // write-family system calls
  double over_bare = 0;          // tick time over the bare loop's in the same round
};

// One message to each of `peers` peers per tick, one setup.
struct FanoutFigures {
  Transport transport = Transport::unix_socketpair;
  int peers = 0;
  int ticks = 0; // timed ticks per sender
  std::size_t message_size = 0;
  std::string skipped; // why the setup did not run (the descriptor limit)
  std::string error;   // what failed while it ran
  std::vector<FanoutRow> rows;
};

// The row of `sender`; nullptr if the setup has none.
const FanoutRow* find_fanout_row(const FanoutFigures& figures, FanoutSender sender);

// Draining one count of datagrams queued on a connected UDP socket.
struct DatagramRow {
  std::size_t datagrams = 0;
  int runs = 0;                     // 0: skipped
  double drain_seconds = 0;         // qio's, the median run
  double ns_per_datagram = 0;       // qio's drain over the count
  double bare_ns_per_datagram = 0;  // one send() per datagram, no queue
  std::string skipped;              // why the count did not run
};

struct DatagramFigures {
  std::size_t datagram_size = 0;
  double cap_seconds = 0; // a drain longer than this skips larger counts; 0: none
  std::vector<DatagramRow> rows;
  std::string error;
};

// One XDR writer over one transport: medians over the rounds.
struct XdrFigure {
  Transport transport = Transport::unix_socketpair;
  XdrWriter writer = XdrWriter::xdrrec;
  int runs = 0;                    // runs that verified
  std::vector<double> round_rates; // records/s in each round; 0 where it failed
  double records_per_second = 0;
  double mib_per_second = 0;      // bytes on the wire, record marks included
  double writes_per_mib = 0;      // write-family system calls
  double would_block_per_mib = 0; // of those, calls that returned EAGAIN
  double user_ns_per_record = 0;  // the writer thread's CPU time per record
  double system_ns_per_record = 0;
};

struct XdrFigures {
  bool available = false;
  std::string reason; // why not, if not available
  int repetitions = 0;
  double run_seconds = 0;
  std::vector<XdrFigure> figures;
};

// The figure of `writer` over `transport`; nullptr if none of its runs
// verified.
const XdrFigure* find_xdr_figure(const XdrFigures& figures, Transport transport,
                                 XdrWriter writer);
// The median over rounds of a's records/s divided by b's in the same round;
// nothing if no round has figures of both.
std::optional<double> xdr_ratio(const XdrFigure& a, const XdrFigure& b);

struct Machine {
  long processors = 0;
  std::string cpu_model;
  std::string kernel;
  std::string load_average;
  std::string compiler;
  std::string libevent_version;
  std::string libuv_version;
  std::size_t unix_send_buffer = 0; // net.core.wmem_default
  std::string tcp_send_buffer;      // net.ipv4.tcp_wmem
};

struct Settings {
  bool quick = false;
  int repetitions = 0;
  double run_seconds = 0;
  std::size_t backlog_bytes = 0;
  bool content_checked = false;
};

struct Results {
  Machine machine;
  Settings settings;
  std::vector<ThroughputFigure> throughput;
  std::vector<EnqueueFigure> enqueue;
  std::optional<ChannelsFigures> channels;
  std::vector<FanoutFigures> fanout;
  std::optional<DatagramFigures> datagrams;
  std::optional<XdrFigures> xdr;
  std::vector<std::string> failures; // byte-count mismatches, errors
};

} // namespace bench

#endif // QIO_BENCH_RESULTS_HPP
