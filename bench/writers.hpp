// SPDX-License-Identifier: MIT
// writers.hpp - the implementations the throughput case compares.
//
// Every writer takes a connected blocking socket, owns it from then on and
// closes it once every byte has been handed to the kernel, so the reader's
// end of file marks the end of the run. Event-loop writers run the same
// tick: produce messages until the library holds `backlog_bytes` unsent
// (or has been handed that many this tick), then run the loop once,
// without blocking unless the backlog is full or production has stopped.
#ifndef QIO_BENCH_WRITERS_HPP
#define QIO_BENCH_WRITERS_HPP

#include <array>       // all_implementations
#include <string_view> // names

#include "bench.hpp"

namespace bench {

enum class Implementation { limit, limit_1m, naive, contiguous, qio, qio_ast, libevent, libuv };

// Limit first: every other row is measured against it.
inline constexpr std::array all_implementations{
    Implementation::limit,      Implementation::limit_1m, Implementation::naive,
    Implementation::contiguous, Implementation::qio,      Implementation::qio_ast,
    Implementation::libevent,   Implementation::libuv};

std::string_view implementation_name(Implementation implementation) noexcept;

WriterResult run_writer(Implementation implementation, int fd, const Workload& workload);

// A qio writer's wait, as a select-loop tick's: select() for writability of
// every channel qio's C API has output for.
void wait_qio_writable();

// Blocking write() of 64 KiB chunks: what the transport itself allows, as
// the performance targets define it; every "% of limit" is of this.
WriterResult write_limit(int fd, const Workload& workload);
// The same with 1 MiB chunks. Not a target's yardstick: it shows where
// 64 KiB calls are not the transport's ceiling (TCP loopback, where each
// call runs the whole TCP path and bigger calls amortise it).
WriterResult write_limit_1m(int fd, const Workload& workload);
// Blocking write() per message.
WriterResult write_naive(int fd, const Workload& workload);
// A hand-written contiguous queue: each message copied into one ring of
// `backlog_bytes`, sent with writev per tick: queueing with no record per
// message at all, the yardstick for what a queue's bookkeeping costs.
WriterResult write_contiguous(int fd, const Workload& workload);
// qio_write per message on a buffered channel, qio_flush per tick, select()
// on qio_fdset's mask when the backlog is full; an AST per message if asked.
WriterResult write_qio(int fd, const Workload& workload, bool with_ast);
// bufferevent_write per message, event_base_loop per tick.
WriterResult write_libevent(int fd, const Workload& workload);
// uv_write per message of a heap copy freed in its callback, uv_run per tick.
WriterResult write_libuv(int fd, const Workload& workload);

} // namespace bench

#endif // QIO_BENCH_WRITERS_HPP
