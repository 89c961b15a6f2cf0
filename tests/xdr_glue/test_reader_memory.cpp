// SPDX-License-Identifier: MIT
// test_reader_memory.cpp - what a record reader really holds, counted by
// the allocator: many tiny records in one fill stay within the bound
// docs/xdr.md states. A program of its own, linked with counting_new.cpp,
// which replaces the global operator new and delete.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "../counting_new.hpp"
#include "../support.hpp"
#include "xdr_support.hpp"
#include "xdr_glue/record_reader.hpp"
#include "xdr_glue/xdr_qio.h"

namespace {

using qio_test::Fd;

// A regular file (always readable, so one fill reads on until the reader's
// own limit stops it) holding `count` records of one byte each: 5 bytes on
// the wire, the smallest record but an empty one.
Fd file_of_tiny_records(std::size_t count) {
  std::string input;
  input.reserve(count * 5);
  for (std::size_t i = 0; i < count; ++i)
    input += xdr_test::framed(std::string(1, static_cast<char>(i)));
  Fd file = qio_test::temporary_file();
  REQUIRE(::write(file.get(), input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);
  return file;
}

// A decoder that takes any record: the test counts records, not values.
bool_t any_record(XDR*, u_int*) { return TRUE; }

// The bound docs/xdr.md states: 2 * max_record + 8 bytes of records and
// their lengths, the lengths' blocks (up to 1 KiB, and 1/32 of max_record
// for their index), a read buffer of 64 KiB or max_record if smaller, and
// the reader object.
std::size_t stated_bound(std::size_t max_record) {
  const std::size_t records = 2 * max_record + 8;
  const std::size_t length_blocks = 1024 + max_record / 32;
  const std::size_t object = 256;
  return records + length_blocks + std::min<std::size_t>(64 * 1024, max_record) + object;
}

} // namespace

TEST_CASE("many tiny records in one fill cost a reader no more than its stated bound",
          "[xdr_glue][reader][memory]") {
  const std::size_t max_record = GENERATE(std::size_t{64}, std::size_t{1024 * 1024});
  CAPTURE(max_record);
  // Twice the backlog a fill may gather, so the reader's limit stops it.
  const std::size_t count = 2 * max_record / 5 + 100;
  const Fd file = file_of_tiny_records(count);
  std::size_t held = 0;
  std::size_t records = 0;
  SECTION("the C++ RecordReader") {
    const std::size_t before = qio_test::live_bytes();
    // No assertion until measured: Catch2 may allocate for one.
    auto reader = std::make_unique<xdr_glue::RecordReader>(file.get(),
                                                           xdr_glue::ReaderLimits{max_record, 0});
    const std::error_code filled = reader->fill();
    held = qio_test::live_bytes() - before;
    REQUIRE_FALSE(filled);
    std::vector<char> record;
    while (!reader->next(record))
      ++records;
  }
  SECTION("the C xdr_qio_reader") {
    const std::size_t before = qio_test::live_bytes();
    xdr_qio_reader* reader = xdr_qio_reader_create(file.get(), static_cast<unsigned>(max_record));
    const int filled = reader == nullptr ? -1 : xdr_qio_reader_fill(reader);
    held = qio_test::live_bytes() - before;
    REQUIRE(filled == 0);
    u_int ignored = 0;
    while (xdr_qio_reader_next(reader, xdr_test::xdrproc(any_record), &ignored) == 0)
      ++records;
    xdr_qio_reader_destroy(reader);
  }
  CAPTURE(held, records);
  CHECK(held <= stated_bound(max_record));
  // The fill did its work: it gathered the records its limit allows (one
  // stored record takes 5 bytes), and no more than there were.
  CHECK(records * 5 >= max_record);
  CHECK(records < count);
}

TEST_CASE("a reader allocates no block larger than max_record, records of exactly max_record "
          "bytes included",
          "[xdr_glue][reader][memory]") {
  const std::size_t max_record = GENERATE(std::size_t{4096}, std::size_t{100000});
  CAPTURE(max_record);
  std::string input;
  for (int i = 0; i < 3; ++i)
    input += xdr_test::framed(std::string(max_record, static_cast<char>('a' + i)),
                              {max_record / 3, 0, max_record / 3});
  for (int i = 0; i < 200; ++i) // and tiny ones
    input += xdr_test::framed(std::string(1, 'z'));
  Fd file = qio_test::temporary_file();
  REQUIRE(::write(file.get(), input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);
  qio_test::reset_largest_allocation();
  xdr_glue::RecordReader reader(file.get(), xdr_glue::ReaderLimits{max_record, 0});
  std::size_t records = 0;
  std::vector<char> record;
  for (int round = 0; round < 1000 && records < 203; ++round) {
    const std::error_code filled = reader.fill();
    while (!reader.next(record))
      ++records;
    if (filled)
      break;
  }
  const std::size_t largest = qio_test::largest_allocation();
  CHECK(records == 203);
  CHECK(largest <= max_record);
}
