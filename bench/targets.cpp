// SPDX-License-Identifier: MIT
// targets.cpp - the performance targets, judged against one run's figures.
//
// Every throughput target is a ratio within one block of interleaved runs,
// so the noise of a shared machine cancels as far as it can.
#include <algorithm> // std::find_if

#include <fmt/format.h>

#include "report.hpp"

namespace bench {
namespace {

// "About one write per 64 KiB" is 16 per MiB; half as many again is still
// "about one".
constexpr double writes_per_mib_allowed = 24;
// Timer noise allowed when comparing two sub-microsecond figures.
constexpr double noise_allowance = 1.10;

Verdict judge(bool met) { return met ? Verdict::met : Verdict::missed; }

TargetCheck unmeasured(std::string target, std::string why) {
  return {std::move(target), std::move(why), Verdict::not_measured};
}

TargetCheck share_of_limit(const Results& results, Transport transport, std::size_t size,
                           double percent) {
  std::string target = fmt::format("{} B over {}: qio >= {:.0f}% of limit", size,
                                   transport_name(transport), percent);
  const ThroughputFigure* qio =
      find_figure(results.throughput, transport, size, Implementation::qio);
  if (!qio)
    return unmeasured(std::move(target), "no qio figure");
  // Two decimals: a figure just under the target must not print as on it.
  return {std::move(target), fmt::format("{:.2f}%", qio->percent_of_limit),
          judge(qio->percent_of_limit >= percent)};
}

TargetCheck lead_over(const Results& results, Transport transport, Implementation peer,
                      double factor) {
  std::string target = fmt::format("64 B over {}: qio >= {:.0f}x {}", transport_name(transport),
                                   factor, implementation_name(peer));
  const ThroughputFigure* qio = find_figure(results.throughput, transport, 64, Implementation::qio);
  const ThroughputFigure* other = find_figure(results.throughput, transport, 64, peer);
  if (!qio || !other)
    return unmeasured(std::move(target), "no figures");
  const double lead = paired_ratio(*qio, *other);
  return {std::move(target), fmt::format("{:.2f}x", lead), judge(lead >= factor)};
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

const EnqueueFigure* find_enqueue(const Results& results, std::string_view subject) {
  const auto found = std::find_if(results.enqueue.begin(), results.enqueue.end(),
                                  [&](const EnqueueFigure& f) { return f.subject == subject; });
  return found == results.enqueue.end() || !found->error.empty() ? nullptr : &*found;
}

TargetCheck enqueue_instructions(const Results& results) {
  std::string target = "enqueue 64 B, no AST: <= 40 instructions";
  const EnqueueFigure* qio = find_enqueue(results, "qio");
  if (!qio || !qio->instructions)
    return unmeasured(std::move(target), qio ? qio->instructions_note : "not run");
  return {std::move(target), fmt::format("{:.2f}", *qio->instructions),
          judge(*qio->instructions <= 40)};
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
    for (const Transport transport : all_transports) {
      checks.push_back(share_of_limit(results, transport, 64, 80));
      checks.push_back(lead_over(results, transport, Implementation::libevent, 3));
      checks.push_back(lead_over(results, transport, Implementation::libuv, 50));
      checks.push_back(share_of_limit(results, transport, 16, 40));
      checks.push_back(writes_per_64k(results, transport));
    }
  if (!results.enqueue.empty()) {
    checks.push_back(enqueue_instructions(results));
    checks.push_back(enqueue_memory(results, "qio", 8));
    checks.push_back(enqueue_memory(results, "qio+AST", 32));
  }
  if (results.channels)
    check_channels(results, checks);
  if (results.xdr)
    for (const Transport transport : all_transports)
      checks.push_back(xdr_lead(*results.xdr, transport));
  return checks;
}

void print_targets(std::FILE* out, const std::vector<TargetCheck>& checks) {
  if (checks.empty())
    return;
  fmt::print(out, "== targets\n");
  for (const TargetCheck& check : checks) {
    const char* verdict = check.verdict == Verdict::met      ? "met"
                          : check.verdict == Verdict::missed ? "MISSED"
                                                             : "not measured";
    fmt::print(out, "{:<64} {:<13} {}\n", check.target, verdict, check.measured);
  }
  fmt::print(out, "\n");
}

} // namespace bench
