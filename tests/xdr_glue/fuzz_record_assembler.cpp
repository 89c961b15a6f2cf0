// SPDX-License-Identifier: MIT
// fuzz_record_assembler.cpp - libFuzzer target for the record reader's
// reassembly: every chunking of the same input must give the same records
// and the same final status, and no record or reservation may exceed the
// limits. Built with clang (-fsanitize=fuzzer,address,undefined).
//
// Input layout: byte 0 picks max_record (0: the default, else 4 * byte),
// byte 1 picks max_fragments (modulo 17; 0: the default), byte 2 seeds
// the random chunking; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <span>
#include <vector>

#include "xdr_glue/record_assembler.hpp"

namespace {

using xdr_glue::ReaderLimits;
using xdr_glue::RecordAssembler;

struct Outcome {
  std::vector<std::vector<char>> records;
  std::error_code status;
  bool operator==(const Outcome&) const = default;
};

void require(bool condition) {
  if (!condition)
    std::abort(); // libFuzzer reports the input that got here
}

void take_records(RecordAssembler& assembler, Outcome& outcome, std::size_t max_record) {
  std::vector<char> record;
  while (!assembler.next(record)) {
    require(record.size() <= max_record);
    outcome.records.push_back(record);
  }
}

// Feeds `input` in pieces whose sizes `next_piece` chooses.
Outcome assemble(std::span<const char> input, const ReaderLimits& limits,
                 const std::function<std::size_t()>& next_piece) {
  RecordAssembler assembler(limits);
  const std::size_t max_record = assembler.limits().max_record;
  Outcome outcome;
  std::size_t used = 0;
  while (used < input.size()) {
    const std::size_t piece = std::min(next_piece(), input.size() - used);
    assembler.feed(input.subspan(used, piece));
    require(assembler.reserved_bytes() <= max_record);
    take_records(assembler, outcome, max_record);
    used += piece;
  }
  assembler.end_of_input();
  take_records(assembler, outcome, max_record);
  std::vector<char> none;
  outcome.status = assembler.next(none);
  require(static_cast<bool>(outcome.status)); // ended: never "no error"
  return outcome;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3)
    return 0;
  ReaderLimits limits;
  limits.max_record = data[0] * std::size_t{4};
  limits.max_fragments = data[1] % 17;
  std::uint32_t random_state = data[2] + 1u;
  const std::span<const char> input(reinterpret_cast<const char*>(data) + 3, size - 3);

  const Outcome whole = assemble(input, limits, [&] { return input.size(); });
  require(assemble(input, limits, [] { return std::size_t{1}; }) == whole);
  require(assemble(input, limits, [&] {
            random_state = random_state * 1103515245u + 12345u;
            return std::size_t{1} + (random_state >> 16) % 23;
          }) == whole);
  if (input.size() <= 64) { // every split into two pieces
    for (std::size_t split = 1; split < input.size(); ++split) {
      bool first = true;
      require(assemble(input, limits, [&] {
                const std::size_t piece = first ? split : input.size();
                first = false;
                return piece;
              }) == whole);
    }
  }
  return 0;
}
