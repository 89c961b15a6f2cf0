// SPDX-License-Identifier: MIT
// report.hpp - the tables, the target verdicts and the JSON file.
#ifndef QIO_BENCH_REPORT_HPP
#define QIO_BENCH_REPORT_HPP

#include <cstdio> // std::FILE
#include <span>   // blocks of figures
#include <string> // verdict texts
#include <vector> // verdicts

#include "results.hpp"

namespace bench {

enum class Verdict { met, missed, not_measured };

// One target, judged against this run's figures.
struct TargetCheck {
  std::string target;
  std::string measured;
  Verdict verdict = Verdict::not_measured;
};

// The figure of one implementation in one block; nullptr if it has none
// (never measured, or every run failed).
const ThroughputFigure* find_figure(const std::vector<ThroughputFigure>& figures,
                                    Transport transport, std::size_t size,
                                    Implementation implementation);

Machine describe_machine();
void print_machine(std::FILE* out, const Machine& machine, const Settings& settings);

// One transport-and-size block of the throughput table, after the
// transport's heading if `with_heading`.
void print_throughput_block(std::FILE* out, std::span<const ThroughputFigure> block,
                            const Settings& settings, bool with_heading);
void print_ratios(std::FILE* out, const std::vector<ThroughputFigure>& figures);
void print_enqueue(std::FILE* out, const std::vector<EnqueueFigure>& figures);
void print_channels(std::FILE* out, const ChannelsFigures& figures);
void print_fanout(std::FILE* out, const std::vector<FanoutFigures>& setups);
void print_datagrams(std::FILE* out, const DatagramFigures& figures);
void print_xdr(std::FILE* out, const XdrFigures& figures);

std::vector<TargetCheck> check_targets(const Results& results);
void print_targets(std::FILE* out, const std::vector<TargetCheck>& checks);
void print_failures(std::FILE* out, const std::vector<std::string>& failures);

// Writes everything as JSON; false if the file could not be written.
bool write_json(const std::string& path, const Results& results,
                const std::vector<TargetCheck>& checks);

} // namespace bench

#endif // QIO_BENCH_REPORT_HPP
