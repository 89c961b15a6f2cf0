// SPDX-License-Identifier: MIT
// policy.hpp - what the data server does about a client that stops
// reading, each policy through qio's C API:
//
//   keep   nothing: the queue grows and the client gets every packet late;
//   prune  xdr_qio_prune at each tick while it is behind: whole packets are
//          dropped and it resumes on the newest;
//   soft   qio_setlimits' soft limit: a queue above it for retire_after
//          fails the channel with ENOBUFS, and the server lets it go;
//   stall  qio_setlimits' stall timeout: nothing taken for retire_after
//          fails the channel with ETIMEDOUT, and the server lets it go;
//   close  once qio_stat says nothing has moved for retire_after, the
//          server stops sending and calls qio_close with a timeout: what is
//          queued still goes out if the client resumes in time.
#ifndef QIO_DEMO_DATA_SERVER_POLICY_HPP
#define QIO_DEMO_DATA_SERVER_POLICY_HPP

#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t
#include <string>      // std::string
#include <string_view> // std::string_view

#include "qio/qio.h" // struct qio_channel_stats

namespace data_server {

enum class Policy { keep, prune, soft, stall, close };
inline constexpr Policy every_policy[] = {Policy::keep, Policy::prune, Policy::soft,
                                          Policy::stall, Policy::close};

std::string_view policy_name(Policy policy);
// What the policy does, in one sentence.
std::string_view policy_summary(Policy policy);
// The policy called `name` ("keep", ...); `name` must be one of them.
Policy policy_named(std::string_view name);

// The figures the policies that retire a client work with.
struct RetirementPlan {
  int retire_after_ms = 1000;       // soft_ms; stall_ms; stalled this long: close
  std::size_t soft_limit_bytes = 0; // the soft limit
  int close_timeout_ms = 5000;      // qio_close's timeout
};

// Gives a client's channel the limits its policy needs (soft and stall:
// qio_setlimits; the others: none). Returns 0 or an errno value.
int apply_limits(int channel, Policy policy, const RetirementPlan& plan);

// Whether the close policy lets a client with these figures go now.
bool due_for_close(Policy policy, const qio_channel_stats& stats, const RetirementPlan& plan);

// "176 KiB queued in 11 requests, peak 176 KiB, 912 KiB written in 63
// calls, stalled 480 ms": one progress line's worth of qio_stat.
std::string describe_stats(const qio_channel_stats& stats);

// What ended a retired client: "ENOBUFS, soft limit", "closed after drain".
std::string describe_retirement(Policy policy, int error);

} // namespace data_server

#endif // QIO_DEMO_DATA_SERVER_POLICY_HPP
