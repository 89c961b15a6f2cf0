// SPDX-License-Identifier: MIT
// targets.cpp - the project's performance targets, judged against one
// run's figures.
//
// Every throughput target is a ratio within one block of interleaved runs,
// and the fan-out one a ratio within one round of ticks, so the noise of a
// shared machine cancels as far as it can. None is judged against the
// 64 KiB "limit" row: from run to run it moves by half, and the contiguous
// queue often passes it.
#include <algorithm> // std::find_if

#include <fmt/format.h>

#include "report.hpp"
#include "support/table.hpp" // support::grouped

namespace bench {
namespace {

// "About one write per 64 KiB" is 16 per MiB; half as many again is still
// "about one".
constexpr double writes_per_mib_allowed = 24;
// Timer noise allowed when comparing two sub-microsecond figures.
constexpr double noise_allowance = 1.10;
// A fan-out tick through qio may take this much longer than the bare loop.
constexpr double fanout_allowed = 1.1;
// Growth in the cost per datagram from the smallest count to the largest
// (8x) still called linear: noise and caches, not the queue's algorithm.
constexpr double datagram_growth_allowed = 2.0;

Verdict judge(bool met) { return met ? Verdict::met : Verdict::missed; }

TargetCheck unmeasured(std::string target, std::string why) {
  return {std::move(target), std::move(why), Verdict::not_measured};
}

TargetCheck writes_per_64k(const Results& results, Transport transport) {
  std::string target = fmt::format("16-1024 B over {}: about 1 write per 64 KiB (<= {:.0f}/MiB)",
                                   transport_name(transport), writes_per_mib_allowed);
  const ThroughputFigure* worst = nullptr;
  for (const std::size_t size : {16, 64, 256, 1024})
    if (const ThroughputFigure* qio =
            find_figure(results.throughput, transport, size, Implementation::qio))
      if (!worst || qio->writes_per_mib > worst->writes_per_mib)
        worst = qio;
  if (!worst)
    return unmeasured(std::move(target), "no qio figures");
  return {std::move(target),
          fmt::format("worst {:.1f}/MiB at {} B ({:.1f} of them EAGAIN)", worst->writes_per_mib,
                      worst->message_size, worst->would_block_per_mib),
          judge(worst->writes_per_mib <= writes_per_mib_allowed)};
}

// `subject`'s messages/s over `peer`'s at `size` bytes, at least `factor`.
TargetCheck lead_over(const Results& results, Transport transport, std::size_t size,
                      Implementation subject, Implementation peer, double factor) {
  std::string target =
      fmt::format("{} B over {}: {} >= {}x {}", size, transport_name(transport),
                  implementation_name(subject), factor, implementation_name(peer));
  const ThroughputFigure* ours = find_figure(results.throughput, transport, size, subject);
  const ThroughputFigure* theirs = find_figure(results.throughput, transport, size, peer);
  if (!ours || !theirs)
    return unmeasured(std::move(target), "no figures");
  const double lead = paired_ratio(*ours, *theirs);
  // Two decimals: a figure just under the target must not print as on it.
  return {std::move(target), fmt::format("{:.2f}x", lead), judge(lead >= factor)};
}

void check_throughput(const Results& results, Transport transport,
                      std::vector<TargetCheck>& checks) {
  using enum Implementation;
  checks.push_back(lead_over(results, transport, 64, qio, contiguous, 0.9));
  checks.push_back(lead_over(results, transport, 64, qio, libevent, 3));
  checks.push_back(lead_over(results, transport, 16, qio, contiguous, 0.8));
  checks.push_back(lead_over(results, transport, 64, qio_ast, contiguous, 0.6));
  checks.push_back(writes_per_64k(results, transport));
}

const EnqueueFigure* find_enqueue(const Results& results, std::string_view subject) {
  const auto found = std::find_if(results.enqueue.begin(), results.enqueue.end(),
                                  [&](const EnqueueFigure& f) { return f.subject == subject; });
  return found == results.enqueue.end() || !found->error.empty() ? nullptr : &*found;
}

TargetCheck enqueue_instructions(const Results& results, std::string_view subject,
                                 double instructions) {
  std::string target = fmt::format("enqueue 64 B, {}: <= {:.0f} instructions",
                                   subject == "qio" ? "no AST" : "with AST", instructions);
  const EnqueueFigure* figure = find_enqueue(results, subject);
  if (!figure || !figure->instructions)
    return unmeasured(std::move(target), figure ? figure->instructions_note : "not run");
  return {std::move(target), fmt::format("{:.2f}", *figure->instructions),
          judge(*figure->instructions <= instructions)};
}

TargetCheck enqueue_memory(const Results& results, std::string_view subject, double bytes) {
  std::string target = fmt::format("memory per request, {}: <= {:.0f} B beyond payload",
                                   subject == "qio" ? "no AST" : "with AST", bytes);
  const EnqueueFigure* figure = find_enqueue(results, subject);
  if (!figure)
    return unmeasured(std::move(target), "not run");
  return {std::move(target), fmt::format("{:.2f} B", figure->bytes_per_request),
          judge(figure->bytes_per_request <= bytes)};
}

void check_enqueue(const Results& results, std::vector<TargetCheck>& checks) {
  checks.push_back(enqueue_instructions(results, "qio", 40));
  checks.push_back(enqueue_instructions(results, "qio+AST", 60));
  checks.push_back(enqueue_memory(results, "qio", 8));
  checks.push_back(enqueue_memory(results, "qio+AST", 24));
}

void check_channels(const Results& results, std::vector<TargetCheck>& checks) {
  std::string idle = "qio_flush, 10,000 idle channels: <= 1 us";
  std::string busy = "qio_flush, 1 busy of 10,000: <= its own write (+10% noise)";
  if (!results.channels || !results.channels->error.empty()) {
    checks.push_back(unmeasured(std::move(idle), "not run"));
    checks.push_back(unmeasured(std::move(busy), "not run"));
    return;
  }
  const ChannelsFigures& figures = *results.channels;
  checks.push_back({std::move(idle), fmt::format("{:.1f} ns", figures.idle_flush_ns),
                    judge(figures.idle_flush_ns <= 1000)});
  checks.push_back(
      {std::move(busy),
       fmt::format("{:.0f} ns vs {:.0f} ns (paired batches: {:+.0f}%)", figures.busy_flush_ns,
                   figures.own_write_ns, 100.0 * (figures.busy_over_own_write - 1)),
       judge(figures.busy_over_own_write <= noise_allowance)});
}

TargetCheck fanout_lead(const FanoutFigures& figures) {
  std::string target =
      fmt::format("fan-out, {} peers over {}: qio <= {:.1f}x bare send",
                  support::grouped(figures.peers), transport_name(figures.transport),
                  fanout_allowed);
  const FanoutRow* qio = find_fanout_row(figures, FanoutSender::qio);
  if (!qio)
    return unmeasured(std::move(target), figures.skipped + figures.error); // one is set
  // Three decimals: a figure just over 1.1 must not print as on it.
  return {std::move(target), fmt::format("{:.3f}x", qio->over_bare),
          judge(qio->over_bare <= fanout_allowed)};
}

// Linear: the cost per datagram of the largest count within
// datagram_growth_allowed of the smallest's (quadratic doubles it with
// every doubling of the count). Not measured if the largest count was
// skipped while the others stayed within it.
TargetCheck datagrams_linear(const DatagramFigures& figures) {
  const std::size_t smallest = figures.rows.empty() ? 0 : figures.rows.front().datagrams;
  const std::size_t largest = figures.rows.empty() ? 0 : figures.rows.back().datagrams;
  std::string target =
      fmt::format("datagrams, {} to {}: linear (ns/datagram within {:.1f}x)",
                  support::grouped(smallest), support::grouped(largest), datagram_growth_allowed);
  const DatagramRow* first = nullptr;
  const DatagramRow* last = nullptr;
  for (const DatagramRow& row : figures.rows)
    if (row.runs > 0) {
      first = first ? first : &row;
      last = &row;
    }
  if (!first || !figures.error.empty())
    return unmeasured(std::move(target), figures.error.empty() ? "not run" : figures.error);
  const double growth = last->ns_per_datagram / first->ns_per_datagram;
  std::string measured = fmt::format("{:.2f}x from {} to {}", growth,
                                     support::grouped(first->datagrams),
                                     support::grouped(last->datagrams));
  if (growth > datagram_growth_allowed)
    return {std::move(target), std::move(measured), Verdict::missed};
  if (last != &figures.rows.back())
    return unmeasured(std::move(target), measured + "; " + figures.rows.back().skipped);
  return {std::move(target), std::move(measured), Verdict::met};
}

// xdr_glue against libtirpc's xdrrec, like for like: each xdr_glue writer
// against the libtirpc writer that ends records the same way (at once, or
// packed into xdrrec's buffer). Met only if every one is at least as fast.
TargetCheck xdr_lead(const XdrFigures& figures, Transport transport) {
  std::string target =
      fmt::format("xdr over {}: xdr_glue >= libtirpc xdrrec", transport_name(transport));
  if (!figures.available)
    return unmeasured(std::move(target), figures.reason);
  std::string measured;
  bool met = true;
  for (const XdrWriter writer : all_xdr_writers) {
    const XdrWriter peer = xdr_writer_peer(writer);
    if (peer == writer)
      continue;
    const XdrFigure* ours = find_xdr_figure(figures, transport, writer);
    const XdrFigure* theirs = find_xdr_figure(figures, transport, peer);
    const std::optional<double> lead = ours && theirs ? xdr_ratio(*ours, *theirs) : std::nullopt;
    if (!lead)
      return unmeasured(std::move(target), "no figures");
    met = met && *lead >= 1.0;
    measured += fmt::format("{}{} {:.2f}x", measured.empty() ? "" : ", ", xdr_writer_name(writer),
                            *lead);
  }
  return {std::move(target), measured, judge(met)};
}

} // namespace

std::vector<TargetCheck> check_targets(const Results& results) {
  std::vector<TargetCheck> checks;
  if (!results.throughput.empty())
    for (const Transport transport : all_transports)
      check_throughput(results, transport, checks);
  if (!results.enqueue.empty())
    check_enqueue(results, checks);
  if (results.channels)
    check_channels(results, checks);
  for (const FanoutFigures& figures : results.fanout)
    checks.push_back(fanout_lead(figures));
  if (results.datagrams)
    checks.push_back(datagrams_linear(*results.datagrams));
  if (results.xdr)
    for (const Transport transport : all_transports)
      checks.push_back(xdr_lead(*results.xdr, transport));
  return checks;
}

void print_targets(std::FILE* out, const std::vector<TargetCheck>& checks) {
  if (checks.empty())
    return;
  fmt::print(out, "== targets\n");
  support::Table table({{"target", support::Align::left, 72},
                        {"verdict", support::Align::left, 13},
                        "measured"},
                       {.indent = "", .headings = false, .rule = false});
  for (const TargetCheck& check : checks) {
    const char* verdict = check.verdict == Verdict::met      ? "met"
                          : check.verdict == Verdict::missed ? "MISSED"
                                                             : "not measured";
    table.add_row({check.target, verdict, check.measured});
  }
  table.print(out);
  fmt::print(out, "\n");
}

} // namespace bench
