// SPDX-License-Identifier: MIT
// summary.cpp - the data-server demo's tables and verdict.
#include "summary.hpp"

#include <cerrno> // ENOBUFS, ETIMEDOUT
#include <string> // std::string

#include <fmt/core.h>

#include "common/report.hpp"

namespace data_server {
namespace {

// Packets queued for the client that it never received: pruned, or
// dropped with its queue when its channel failed or its close timed out.
std::uint64_t dropped(const QueueHistory& queue, const ClientReport& report) {
  const std::uint64_t received = report.received;
  return queue.queued_packets > received ? queue.queued_packets - received : 0;
}

// Ticks never queued for it: it was let go first.
std::uint64_t never_sent(const QueueHistory& queue, unsigned ticks) {
  return ticks > queue.queued_packets ? ticks - queue.queued_packets : 0;
}

// The client read whole records in order until its stream ended.
bool ended_in_order(const ClientReport& report) {
  return report.current() == ClientState::finished && report.out_of_order == 0 &&
         report.undecodable == 0;
}

bool prompt_client_ok(const ClientReport& report, unsigned ticks) {
  return report.current() == ClientState::finished && report.received == ticks &&
         report.skipped == 0 && report.out_of_order == 0 && report.late == 0;
}

// keep and prune: the client stays and recovers.
bool recovered(Policy policy, const ClientReport& report, const QueueHistory& queue,
               unsigned ticks) {
  const bool whole_and_current = ended_in_order(report) &&
                                 report.last_sequence == static_cast<std::int64_t>(ticks) - 1 &&
                                 report.caught_up_after_ns >= 0 && queue.left_at_end == 0;
  if (policy == Policy::prune)
    return whole_and_current && queue.pruned > 0 && report.skipped == queue.pruned &&
           queue.peak_packets <= 2;
  return whole_and_current && report.received == ticks && report.skipped == 0 &&
         queue.peak_packets >= 2;
}

// soft, stall and close: the server lets the client go while it is not
// reading, with the error its policy gives; a close after drain delivers
// every packet it queued first.
bool let_go_as_expected(Policy policy, const ClientReport& report, const QueueHistory& queue,
                        const RunFacts& run) {
  const int expected = policy == Policy::soft ? ENOBUFS : ETIMEDOUT;
  const bool during_stall = queue.retired_at_ns >= run.stall_start_ns &&
                            queue.retired_at_ns <= run.stall_end_ns + run.tick_ns;
  if (!ended_in_order(report) || queue.retired_at_ns < 0)
    return false;
  if (policy == Policy::close && queue.retired_error == 0)
    return dropped(queue, report) == 0 &&
           report.last_sequence == static_cast<std::int64_t>(queue.queued_packets) - 1;
  return queue.retired_error == expected && (policy == Policy::close || during_stall);
}

bool stalled_client_ok(Policy policy, const ClientReport& report, const QueueHistory& queue,
                       const RunFacts& run) {
  if (policy == Policy::keep || policy == Policy::prune)
    return recovered(policy, report, queue, run.ticks);
  return let_go_as_expected(policy, report, queue, run);
}

std::string time_to_retire(const QueueHistory& queue, const RunFacts& run) {
  if (queue.retired_at_ns < 0)
    return "-";
  return demo::format_duration_ns(queue.retired_at_ns - run.stall_start_ns);
}

std::string how_it_ended(Policy policy, const QueueHistory& queue) {
  if (queue.retired_at_ns >= 0)
    return describe_retirement(policy, queue.retired_error);
  if (policy == Policy::prune)
    return "stayed, on the newest packets";
  return policy == Policy::keep ? "stayed, every packet late" : "stayed";
}

// The keep client's peak, the reference for "saved", if one ran.
const QueueHistory* keep_reference(const RunFacts& run) {
  for (std::size_t client = 0; client < run.policies.size(); ++client)
    if (run.stalls[client] && run.policies[client] == Policy::keep)
      return &run.queues[client];
  return nullptr;
}

void print_reception(const RunFacts& run, const SharedClients& shared) {
  support::Table table({"client", "reads", "policy", "received", "skipped", "late",
                        "median latency", "worst latency", "peak queue", "on time again"});
  for (std::size_t client = 0; client < run.policies.size(); ++client) {
    const ClientReport& report = shared.clients[client];
    const QueueHistory& queue = run.queues[client];
    table.add_row({fmt::format("{}", client + 1), run.stalls[client] ? "stalls" : "always",
                   std::string(policy_name(run.policies[client])),
                   fmt::format("{} of {}", report.received.load(), run.ticks),
                   fmt::format("{}", report.skipped.load()), fmt::format("{}", report.late.load()),
                   demo::format_duration_ns(report.median_latency_ns),
                   demo::format_duration_ns(report.worst_latency_ns),
                   fmt::format("{} ({})", queue.peak_packets,
                               demo::format_bytes(queue.peak_packets * run.packet_bytes)),
                   run.stalls[client] && report.caught_up_after_ns >= 0
                       ? fmt::format("{} after resuming",
                                     demo::format_duration_ns(report.caught_up_after_ns))
                       : "-"});
  }
  fmt::print("\nsummary (late: more than one 100 ms tick after sampling; queue in packets)\n");
  table.print(stdout);
}

void print_policies(const RunFacts& run, const SharedClients& shared) {
  const QueueHistory* keep = keep_reference(run);
  support::Table table({"client", "policy", "peak queued", "saved vs keep", "dropped", "never sent",
                     "time to retire", "how it ended"});
  for (std::size_t client = 0; client < run.policies.size(); ++client) {
    if (!run.stalls[client])
      continue;
    const QueueHistory& queue = run.queues[client];
    const std::size_t peak = queue.peak_queued_bytes;
    const bool compared = keep != nullptr && keep != &queue;
    table.add_row({fmt::format("{}", client + 1), std::string(policy_name(run.policies[client])),
                   demo::format_bytes(peak),
                   compared ? demo::format_bytes(keep->peak_queued_bytes > peak
                                                     ? keep->peak_queued_bytes - peak
                                                     : 0)
                            : "-",
                   fmt::format("{}", dropped(queue, shared.clients[client])),
                   fmt::format("{}", never_sent(queue, run.ticks)), time_to_retire(queue, run),
                   how_it_ended(run.policies[client], queue)});
  }
  fmt::print("\nwhat each policy cost and saved (peak queued: qio_stat's peak_queued_bytes; "
             "saved vs keep:\nbelow the keep client's peak, with --policy all; dropped: queued "
             "but never received;\ntime to retire: from when the client stopped reading until "
             "the server let it go)\n");
  table.print(stdout);
}

void print_stalled_verdict(std::size_t client, const RunFacts& run, const SharedClients& shared,
                           bool ok) {
  const Policy policy = run.policies[client];
  const ClientReport& report = shared.clients[client];
  const QueueHistory& queue = run.queues[client];
  const std::string who = fmt::format("stalled client #{} ({})", client + 1, policy_name(policy));
  if (policy == Policy::keep)
    fmt::print("{}: {}; its queue grew to {} packets while it did not read and drained once it "
               "resumed; it received all {} ticks.\n",
               who, ok ? "recovered" : "did NOT recover", queue.peak_packets,
               report.received.load());
  else if (policy == Policy::prune)
    fmt::print("{}: {}; its queue never held more than {} packets ({} dropped whole, the same {} "
               "it never saw).\n",
               who, ok ? "recovered" : "did NOT recover", queue.peak_packets, queue.pruned,
               report.skipped.load());
  else
    fmt::print("{}: {} {} after it stopped reading ({}); it received {} packets in order, {} "
               "queued packets were dropped, {} never sent.\n",
               who, ok ? "let go" : "NOT let go as expected", time_to_retire(queue, run),
               how_it_ended(policy, queue), report.received.load(), dropped(queue, report),
               never_sent(queue, run.ticks));
}

} // namespace

void print_summary(const RunFacts& run, const SharedClients& shared) {
  print_reception(run, shared);
  print_policies(run, shared);
}

int print_verdict(const RunFacts& run, const SharedClients& shared) {
  bool prompt_ok = true;
  for (std::size_t client = 0; client < run.policies.size(); ++client)
    if (!run.stalls[client])
      prompt_ok = prompt_ok && prompt_client_ok(shared.clients[client], run.ticks);
  fmt::print("\n{}\n",
             prompt_ok ? "prompt clients: every tick arrived, in order and on time."
                       : "prompt clients: NOT every tick arrived on time.");
  bool stalled_ok = true;
  for (std::size_t client = 0; client < run.policies.size(); ++client) {
    if (!run.stalls[client])
      continue;
    const bool ok = stalled_client_ok(run.policies[client], shared.clients[client],
                                      run.queues[client], run);
    print_stalled_verdict(client, run, shared, ok);
    stalled_ok = stalled_ok && ok;
  }
  fmt::print("result: {}\n", prompt_ok && stalled_ok ? "OK" : "FAILED");
  return prompt_ok && stalled_ok ? 0 : 1;
}

} // namespace data_server
