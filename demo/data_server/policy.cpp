// SPDX-License-Identifier: MIT
// policy.cpp - the limits each policy sets, and how its figures read.
#include "policy.hpp"

#include <cerrno>  // ENOBUFS, ETIMEDOUT
#include <cstring> // std::strerror

#include <fmt/core.h>

#include "common/report.hpp"

namespace data_server {

std::string_view policy_name(Policy policy) {
  switch (policy) {
  case Policy::keep:
    return "keep";
  case Policy::prune:
    return "prune";
  case Policy::soft:
    return "soft";
  case Policy::stall:
    return "stall";
  case Policy::close:
    return "close";
  }
  return "?";
}

std::string_view policy_summary(Policy policy) {
  switch (policy) {
  case Policy::keep:
    return "a stalled client's packets wait in its queue; it gets them all, late.";
  case Policy::prune:
    return "a client still behind at a tick has its unsent packets dropped whole.";
  case Policy::soft:
    return "a queue above the soft limit (3 packets) for --retire-after fails the channel\n"
           "with ENOBUFS, and the server lets the client go.";
  case Policy::stall:
    return "nothing taken for --retire-after fails the channel with ETIMEDOUT, and the\n"
           "server lets the client go.";
  case Policy::close:
    return "a client stalled for --retire-after gets nothing more and is closed once its\n"
           "queue is written, or when --close-timeout passes.";
  }
  return "";
}

Policy policy_named(std::string_view name) {
  for (const Policy policy : every_policy)
    if (policy_name(policy) == name)
      return policy;
  return Policy::keep;
}

int apply_limits(int channel, Policy policy, const RetirementPlan& plan) {
  qio_limits limits{};
  if (policy == Policy::soft) {
    limits.soft_queued_bytes = plan.soft_limit_bytes;
    limits.soft_ms = plan.retire_after_ms;
  } else if (policy == Policy::stall) {
    limits.stall_ms = plan.retire_after_ms;
  } else {
    return 0;
  }
  return qio_setlimits(channel, &limits);
}

bool due_for_close(Policy policy, const qio_channel_stats& stats, const RetirementPlan& plan) {
  return policy == Policy::close && stats.stalled_ms >= plan.retire_after_ms;
}

std::string describe_stats(const qio_channel_stats& stats) {
  std::string line = fmt::format(
      "{} queued in {} requests, peak {}, {} written in {} calls", demo::format_bytes(stats.queued_bytes),
      stats.queued_requests, demo::format_bytes(stats.peak_queued_bytes),
      demo::format_bytes(stats.bytes_written), support::grouped(stats.write_calls));
  if (stats.stalled_ms > 0)
    line += fmt::format(", stalled {} ms", stats.stalled_ms);
  return line;
}

std::string describe_retirement(Policy policy, int error) {
  const std::string code =
      error == ENOBUFS ? "ENOBUFS" : error == ETIMEDOUT ? "ETIMEDOUT" : std::strerror(error);
  if (policy == Policy::close)
    return error == 0 ? "closed after drain" : error == ETIMEDOUT ? code + ", close timed out" : code;
  if (policy == Policy::soft && error == ENOBUFS)
    return code + ", soft limit";
  if (policy == Policy::stall && error == ETIMEDOUT)
    return code + ", stall timeout";
  return code;
}

} // namespace data_server
