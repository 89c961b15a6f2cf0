// SPDX-License-Identifier: MIT
// fuzz_record_assembler.cpp - libFuzzer target for the record reader's
// reassembly. Two properties per input:
//   - read as a stream: every chunking of it gives the same records and
//     the same final status, and storage stays within the limits;
//   - read as the bytes of valid records: framed with a random
//     fragmentation (any number of fragments, empty ones up to the bound),
//     the records always come back, whatever the chunking.
// Built with clang (-fsanitize=fuzzer,address,undefined).
//
// Input layout: byte 0 picks max_record (0: the default, else 4 * byte),
// byte 1 picks max_empty_fragments (modulo 17; 0: the default), byte 2
// seeds the random choices; the rest is the stream, or the records' bytes.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <span>
#include <string>
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

// A small deterministic generator, seeded from the input.
class Random {
public:
  explicit Random(std::uint32_t seed) : state_(seed + 1u) {}
  // A number in [0, bound].
  std::size_t up_to(std::size_t bound) {
    state_ = state_ * 1103515245u + 12345u;
    return (state_ >> 8) % (bound + 1);
  }

private:
  std::uint32_t state_;
};

void take_records(RecordAssembler& assembler, Outcome& outcome) {
  std::vector<char> record;
  while (!assembler.next(record)) {
    require(record.size() <= assembler.limits().max_record);
    outcome.records.push_back(record);
  }
  // With no complete record waiting, storage is within its limit however
  // large the pieces fed were.
  require(assembler.held_bytes() <= assembler.storage_limit());
}

// Feeds `input` in pieces whose sizes `next_piece` chooses. With
// `as_a_reader`, pieces are cut to input_room() as RecordReader cuts its
// reads, and storage must stay within its limit after every piece.
Outcome assemble(std::span<const char> input, const ReaderLimits& limits,
                 const std::function<std::size_t()>& next_piece, bool as_a_reader = false) {
  RecordAssembler assembler(limits);
  Outcome outcome;
  std::size_t used = 0;
  while (used < input.size()) {
    std::size_t piece = std::min(next_piece(), input.size() - used);
    if (as_a_reader)
      piece = std::max<std::size_t>(1, std::min(piece, assembler.input_room()));
    assembler.feed(input.subspan(used, piece));
    if (as_a_reader)
      require(assembler.held_bytes() <= assembler.storage_limit());
    take_records(assembler, outcome);
    used += piece;
  }
  assembler.end_of_input();
  take_records(assembler, outcome);
  std::vector<char> none;
  outcome.status = assembler.next(none);
  require(static_cast<bool>(outcome.status)); // ended: never "no error"
  return outcome;
}

// Every chunking of `input` must give the outcome of feeding it whole.
Outcome same_for_every_chunking(std::span<const char> input, const ReaderLimits& limits,
                                Random& random) {
  const Outcome whole = assemble(input, limits, [&] { return input.size(); });
  require(assemble(input, limits, [] { return std::size_t{1}; }) == whole);
  const auto random_piece = [&] { return 1 + random.up_to(22); };
  require(assemble(input, limits, random_piece) == whole);
  require(assemble(input, limits, random_piece, true) == whole);
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
  return whole;
}

void append_mark(std::string& stream, std::size_t length, bool last) {
  const auto word = static_cast<std::uint32_t>(length) | (last ? 0x80000000u : 0u);
  for (int shift = 24; shift >= 0; shift -= 8)
    stream.push_back(static_cast<char>((word >> shift) & 0xff));
}

// `payload` as one record in random fragments, often small ones (so many
// of them), with at most `max_empty` empty ones.
void append_fragmented(std::string& stream, std::span<const char> payload, std::size_t max_empty,
                       Random& random) {
  std::size_t used = 0;
  std::size_t empty = 0;
  for (;;) {
    const std::size_t remaining = payload.size() - used;
    const std::size_t longest = random.up_to(3) == 0 ? remaining : std::min<std::size_t>(remaining, 3);
    std::size_t length = random.up_to(longest);
    if (length == 0 && empty == max_empty)
      length = remaining; // no empty fragment left to spend
    empty += length == 0;
    used += length;
    // Once every byte is in, further fragments could only be empty ones.
    const bool last = used == payload.size() && (empty == max_empty || random.up_to(1) == 1);
    append_mark(stream, length, last);
    stream.append(payload.data() + used - length, length);
    if (last)
      return;
  }
}

// The input's bytes cut into records of at most max_record bytes, each
// framed in random fragments: every chunking must give those records back.
void valid_records_are_accepted(std::span<const char> bytes, const ReaderLimits& limits,
                                Random& random) {
  const RecordAssembler reference(limits);
  const std::size_t max_record = reference.limits().max_record;
  const std::size_t max_empty = reference.limits().max_empty_fragments;
  Outcome expected;
  expected.status = std::error_code(ENODATA, std::generic_category()); // a clean end
  std::string stream;
  for (std::size_t used = 0; used < bytes.size() || random.up_to(7) == 0;) {
    const std::size_t length = random.up_to(std::min(max_record, bytes.size() - used));
    const std::span<const char> payload = bytes.subspan(used, length);
    expected.records.emplace_back(payload.begin(), payload.end());
    append_fragmented(stream, payload, max_empty, random);
    used += length;
  }
  require(same_for_every_chunking(stream, limits, random) == expected);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3)
    return 0;
  ReaderLimits limits;
  limits.max_record = data[0] * std::size_t{4};
  limits.max_empty_fragments = data[1] % 17;
  Random random(data[2]);
  const std::span<const char> input(reinterpret_cast<const char*>(data) + 3, size - 3);
  same_for_every_chunking(input, limits, random);
  valid_records_are_accepted(input, limits, random);
  return 0;
}
