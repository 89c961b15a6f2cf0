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
#include <string>      // failures
#include <string_view> // names

#include "bench.hpp"

namespace bench {

enum class Implementation {
  limit,
  limit_1m,
  naive,
  contiguous,
  qio,
  qio_ast,
  libevent,
  evbuffer,
  libuv,
  libuv_tick
};

// Limit first: its row's "% limit" column is the yardstick of the others'.
inline constexpr std::array all_implementations{
    Implementation::limit,    Implementation::limit_1m,   Implementation::naive,
    Implementation::contiguous, Implementation::qio,      Implementation::qio_ast,
    Implementation::libevent, Implementation::evbuffer,   Implementation::libuv,
    Implementation::libuv_tick};

std::string_view implementation_name(Implementation implementation) noexcept;

WriterResult run_writer(Implementation implementation, int fd, const Workload& workload);

// A qio writer's wait, as a select-loop tick's: select() for writability of
// every channel qio's C API has output for.
void wait_qio_writable();
// The other writers' wait: poll() until `fd` can take more bytes.
void wait_writable(int fd);

// Blocking write() of 64 KiB chunks: what the transport itself allows with
// calls of that size; every "% of limit" is of this. No target is judged
// against it: from run to run it moves by half, and the contiguous queue
// often passes it.
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
// What a bufferevent's event callback was told, as text: empty unless
// `events` reports an error or end of file.
std::string bufferevent_failure(short events);
// libevent without its event loop: evbuffer_add per message into one
// evbuffer, evbuffer_write per tick until the socket is full, poll() when
// the backlog is full.
WriterResult write_evbuffer(int fd, const Workload& workload);
// uv_write per message of a heap copy freed in its callback, uv_run per tick.
WriterResult write_libuv(int fd, const Workload& workload);
// libuv as its users send small messages: a tick's messages copied into one
// heap block, handed over with one uv_try_write, and what that left with
// one uv_write (the block freed in its callback); uv_run per tick.
WriterResult write_libuv_tick(int fd, const Workload& workload);

} // namespace bench

#endif // QIO_BENCH_WRITERS_HPP
