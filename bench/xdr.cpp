// SPDX-License-Identifier: MIT
// xdr.cpp - timed runs of the XDR writers, the reader that follows their
// record marks, and the medians.
#include "xdr.hpp"

#include <array>   // records, samples per writer
#include <cstring> // std::memcmp, std::memcpy
#include <span>    // a chunk read
#include <utility> // std::move

#include <fmt/format.h>

#include "support/draining_reader.hpp"
#include "syscall_count.hpp"
#include "timed_run.hpp"
#include "timing.hpp"
#include "xdr_record.hpp"

namespace bench {
namespace {


struct XdrReadResult {
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  Clock::time_point finished;
  std::string error; // the first problem seen
};

// Drains the reader's end until end of file on a thread of its own,
// following RFC 5531 record marks: each record's fragments must add up to
// one bench_record, and with `check_content` each record must be the
// encoding of the next record number.
class RecordStreamReader {
public:
  RecordStreamReader(support::UniqueFd fd, bool check_content)
      : check_content_(check_content),
        reader_(std::move(fd), [this](std::span<const char> chunk, std::uint64_t) {
          take(chunk.data(), chunk.size());
        }) {}

  // Waits for end of file; call once.
  XdrReadResult join();

private:
  void take(const char* bytes, std::size_t length);
  void end_fragment();
  void fail(std::string error) {
    if (result_.error.empty())
      result_.error = std::move(error);
  }

  bool check_content_;
  XdrReadResult result_;
  RecordSource source_; // the expected records, when checking content
  std::array<char, record_bytes> record_{};   // the record being received
  std::array<char, record_bytes> expected_{}; // what it should be
  unsigned char mark_[4] = {};
  std::size_t mark_bytes_ = 0;      // of the current fragment's mark
  std::size_t fragment_left_ = 0;   // bytes of the fragment still to come
  bool last_fragment_ = false;      // the current fragment ends its record
  std::uint64_t record_length_ = 0; // bytes of the record so far
  support::DrainingReader reader_;  // last: starts once the rest is ready
};

XdrReadResult RecordStreamReader::join() {
  support::DrainOutcome outcome = reader_.join();
  if (!outcome.error.empty())
    fail(std::move(outcome.error));
  if (mark_bytes_ != 0 || record_length_ != 0 || fragment_left_ != 0)
    fail(fmt::format("the stream ended inside record {}", result_.records));
  result_.bytes = outcome.bytes;
  result_.finished = outcome.finished;
  return result_;
}

void RecordStreamReader::take(const char* bytes, std::size_t length) {
  while (length > 0) {
    if (mark_bytes_ < sizeof mark_) {
      mark_[mark_bytes_++] = static_cast<unsigned char>(*bytes++);
      --length;
      if (mark_bytes_ < sizeof mark_)
        continue;
      const std::uint32_t mark = std::uint32_t{mark_[0]} << 24 | std::uint32_t{mark_[1]} << 16 |
                                 std::uint32_t{mark_[2]} << 8 | std::uint32_t{mark_[3]};
      last_fragment_ = (mark & 0x80000000u) != 0;
      fragment_left_ = mark & 0x7fffffffu;
      if (fragment_left_ == 0)
        end_fragment();
      continue;
    }
    const std::size_t taken = std::min(fragment_left_, length);
    if (check_content_ && record_length_ + taken <= record_bytes)
      std::memcpy(record_.data() + record_length_, bytes, taken);
    record_length_ += taken;
    fragment_left_ -= taken;
    bytes += taken;
    length -= taken;
    if (fragment_left_ == 0)
      end_fragment();
  }
}

void RecordStreamReader::end_fragment() {
  mark_bytes_ = 0;
  if (!last_fragment_)
    return;
  if (record_length_ != record_bytes)
    fail(fmt::format("record {} is {} bytes, not {}", result_.records, record_length_,
                     record_bytes));
  else if (check_content_ &&
           (!source_.encode(static_cast<std::uint32_t>(result_.records), expected_) ||
            std::memcmp(record_.data(), expected_.data(), record_bytes) != 0))
    fail(fmt::format("record {} is not the record sent with that number", result_.records));
  ++result_.records;
  record_length_ = 0;
}

struct XdrSample {
  double seconds = 0;
  std::uint64_t records = 0;
  SyscallTally syscalls;
  CpuTime writer_cpu;
};

// Compares what was written with what was read; empty if they agree. The
// writer's bytes are those its write-family calls reported written.
std::string verify(XdrWriter writer, const XdrWriterResult& written,
                   const SyscallTally& syscalls, const XdrReadResult& read) {
  if (!written.error.empty())
    return written.error;
  if (!read.error.empty())
    return "reader: " + read.error;
  if (written.records == 0)
    return "nothing was written";
  if (written.records != read.records)
    return fmt::format("record count mismatch: {} written, {} read", written.records,
                       read.records);
  if (syscalls.bytes != read.bytes)
    return fmt::format("byte count mismatch: {} written, {} read", syscalls.bytes, read.bytes);
  // Records ended at once are one fragment each: the count is exact.
  if (!xdr_writer_batches(writer) && read.bytes != read.records * wire_record_bytes)
    return fmt::format("{} bytes for {} records of one fragment", read.bytes, read.records);
  return {};
}

bool run_once(Transport transport, XdrWriter writer, const XdrPlan& plan, XdrSample& sample,
              std::string& failure) {
  const auto run = timed_run<RecordStreamReader>(
      transport, plan.run_length, plan.check_content,
      [&](int fd, Clock::time_point deadline) {
        XdrWorkload workload;
        workload.backlog_bytes = plan.backlog_bytes;
        workload.deadline = deadline;
        return run_xdr_writer(writer, fd, workload);
      });
  if (!run.connect_error.empty()) {
    failure = run.connect_error;
    return false;
  }
  sample.writer_cpu = run.writer_cpu;
  sample.syscalls = run.syscalls;
  sample.seconds = run.seconds;
  sample.records = run.written.records;
  failure = verify(writer, run.written, run.syscalls, run.read);
  return failure.empty();
}

XdrFigure summarize(Transport transport, XdrWriter writer, const std::vector<XdrSample>& samples) {
  XdrFigure figure;
  figure.transport = transport;
  figure.writer = writer;
  std::vector<double> rates, mib_rates, writes, would_block, user_ns, system_ns;
  for (const XdrSample& sample : samples) {
    figure.round_rates.push_back(
        sample.records ? static_cast<double>(sample.records) / sample.seconds : 0);
    if (sample.records == 0)
      continue;
    const double records = static_cast<double>(sample.records);
    const double mib = static_cast<double>(sample.syscalls.bytes) / mebibyte;
    rates.push_back(records / sample.seconds);
    mib_rates.push_back(mib / sample.seconds);
    writes.push_back(static_cast<double>(sample.syscalls.writes) / mib);
    would_block.push_back(static_cast<double>(sample.syscalls.would_block) / mib);
    user_ns.push_back(sample.writer_cpu.user_seconds * 1e9 / records);
    system_ns.push_back(sample.writer_cpu.system_seconds * 1e9 / records);
  }
  figure.runs = static_cast<int>(rates.size());
  figure.records_per_second = median(rates);
  figure.mib_per_second = median(mib_rates);
  figure.writes_per_mib = median(writes);
  figure.would_block_per_mib = median(would_block);
  figure.user_ns_per_record = median(user_ns);
  figure.system_ns_per_record = median(system_ns);
  return figure;
}

} // namespace

XdrFigures run_xdr(const XdrPlan& plan, std::vector<std::string>& failures) {
  XdrFigures figures;
  figures.available = true;
  figures.repetitions = plan.repetitions;
  figures.run_seconds = std::chrono::duration<double>(plan.run_length).count();
  RecordSource source;
  std::array<char, record_bytes> encoded{};
  if (!source.encode(0, encoded)) {
    figures.available = false;
    figures.reason = fmt::format("bench_record does not encode to {} bytes", record_bytes);
    failures.push_back("xdr: " + figures.reason);
    return figures;
  }
  constexpr std::size_t writers = all_xdr_writers.size();
  for (const Transport transport : all_transports) {
    std::array<std::vector<XdrSample>, writers> samples;
    for (int round = 0; round < plan.repetitions; ++round)
      for (std::size_t turn = 0; turn < writers; ++turn) {
        const std::size_t i = (turn + static_cast<std::size_t>(round)) % writers;
        XdrSample sample;
        std::string failure;
        if (!run_once(transport, all_xdr_writers[i], plan, sample, failure)) {
          failures.push_back(fmt::format("xdr, {}, {}: {}", transport_name(transport),
                                         xdr_writer_name(all_xdr_writers[i]), failure));
          sample = {};
        }
        samples[i].push_back(sample);
      }
    for (std::size_t i = 0; i < writers; ++i)
      figures.figures.push_back(summarize(transport, all_xdr_writers[i], samples[i]));
  }
  return figures;
}

const XdrFigure* find_xdr_figure(const XdrFigures& figures, Transport transport,
                                 XdrWriter writer) {
  for (const XdrFigure& figure : figures.figures)
    if (figure.transport == transport && figure.writer == writer && figure.runs > 0)
      return &figure;
  return nullptr;
}

std::optional<double> xdr_ratio(const XdrFigure& a, const XdrFigure& b) {
  const double ratio = paired_ratio(a.round_rates, b.round_rates);
  return ratio > 0 ? std::optional<double>(ratio) : std::nullopt;
}

} // namespace bench
