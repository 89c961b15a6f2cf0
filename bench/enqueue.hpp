// SPDX-License-Identifier: MIT
// enqueue.hpp - the cost of queueing a 64-byte message the peer never reads.
#ifndef QIO_BENCH_ENQUEUE_HPP
#define QIO_BENCH_ENQUEUE_HPP

#include <string>      // failures
#include <string_view> // probe subjects
#include <vector>      // figures

#include "results.hpp"

namespace bench {

struct EnqueuePlan {
  std::size_t messages = 1'000'000;         // timed, RSS measured
  std::size_t callgrind_messages = 200'000; // under callgrind, if present
  std::string program_path;                 // this program, for the probe
};

// For qio, qio with an AST, libevent and libuv: ns per message and resident
// bytes per request beyond the payload (each in a fresh process running
// this program's probe mode, so no heap already resident hides the growth),
// and user-space instructions per message from callgrind.
std::vector<EnqueueFigure> run_enqueue(const EnqueuePlan& plan, std::vector<std::string>& failures);

// The probe mode (--probe SUBJECT COUNT), run in a fresh process: queue
// `count` messages for `subject` ("qio", "qio-ast", "libevent", "libuv"),
// print "ok NS_PER_MESSAGE BYTES_PER_REQUEST" and return 0; or print
// "error TEXT" and return 1; 2 for an unknown subject.
int run_enqueue_probe(std::string_view subject, std::size_t count);

} // namespace bench

#endif // QIO_BENCH_ENQUEUE_HPP
