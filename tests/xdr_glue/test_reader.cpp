// SPDX-License-Identifier: MIT
// test_reader.cpp - reassembling RFC 5531 records: from libtirpc's own
// xdrrec writer, split anywhere, and from hostile input (oversize marks,
// too many fragments, truncation), through the C++ and the C reader.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "../support.hpp"
#include "xdr_support.hpp"
#include "xdr_glue/record_assembler.hpp"
#include "xdr_glue/record_reader.hpp"
#include "xdr_glue/xdr_qio.h"

using qio_test::Fd;
using qio_test::socket_pair;
using xdr_glue::RecordAssembler;
using xdr_glue::RecordReader;
using xdr_glue::ReaderLimits;
using xdr_test::encode;
using xdr_test::fill_sample;
using xdr_test::framed;
using xdr_test::record_mark;
using xdr_test::TirpcPeer;
using xdr_test::xdrproc;
using xdr_test::XdrObject;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

// Everything an assembler hands out for one input: records, then status.
struct Outcome {
  std::vector<std::string> records;
  std::error_code status;
  bool operator==(const Outcome&) const = default;
};

// Feeds `input` in pieces of the given sizes (the rest in one piece),
// taking records as they complete, then ends the input.
Outcome assemble(const std::string& input, const std::vector<std::size_t>& pieces,
                 ReaderLimits limits = {}) {
  RecordAssembler assembler(limits);
  Outcome outcome;
  auto take_records = [&] {
    std::vector<char> record;
    while (!assembler.next(record))
      outcome.records.emplace_back(record.begin(), record.end());
  };
  std::size_t used = 0;
  for (const std::size_t size : pieces) {
    assembler.feed({input.data() + used, std::min(size, input.size() - used)});
    used += std::min(size, input.size() - used);
    take_records();
  }
  assembler.feed({input.data() + used, input.size() - used});
  assembler.end_of_input();
  take_records();
  std::vector<char> none;
  outcome.status = assembler.next(none);
  return outcome;
}

std::vector<std::size_t> one_byte_pieces(std::size_t count) {
  return std::vector<std::size_t>(count, 1);
}

} // namespace

TEST_CASE("records written by libtirpc's xdrrec are reassembled and decode as rpcgen types",
          "[xdr_glue][reader]") {
  auto pair = socket_pair();
  TirpcPeer peer(pair.remote.get(), 128); // 128-byte fragments: many per record
  std::vector<std::string> expected;
  for (unsigned sequence = 0; sequence < 10; ++sequence) {
    XdrObject<sample> out(xdr_sample);
    fill_sample(out.value, sequence, sequence * 150);
    REQUIRE(peer.write_record(out.procedure(), &out.value));
    expected.push_back(encode(out.procedure(), &out.value));
  }
  RecordReader reader(pair.local.get());
  REQUIRE_FALSE(reader.fill()); // many records in one read
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    XdrObject<sample> in(xdr_sample);
    REQUIRE_FALSE(reader.decode(in.procedure(), &in.value));
    CHECK(encode(in.procedure(), &in.value) == expected[i]);
  }
  XdrObject<sample> none(xdr_sample);
  CHECK(reader.decode(none.procedure(), &none.value) == errc(EAGAIN));
  pair.remote.reset();
  CHECK(reader.fill() == errc(ENODATA));
  CHECK(reader.decode(none.procedure(), &none.value) == errc(ENODATA));
}

TEST_CASE("every split point of a 3-fragment record gives the same record", "[xdr_glue][reader]") {
  const std::string payload = "three fragments: first, then second, then third!";
  const std::string input = framed(payload, {17, 0, 12}) + framed("next");
  const Outcome whole = assemble(input, {});
  REQUIRE(whole.records == std::vector<std::string>{payload, "next"});
  CHECK(whole.status == errc(ENODATA));
  CHECK(assemble(input, one_byte_pieces(input.size())) == whole);
  for (std::size_t split = 1; split < input.size(); ++split) {
    CAPTURE(split);
    CHECK(assemble(input, {split}) == whole);
  }
}

TEST_CASE("a 3-fragment record delivered a byte at a time through a socket is handed out "
          "only once whole",
          "[xdr_glue][reader]") {
  auto pair = socket_pair();
  XdrObject<sample> out(xdr_sample);
  fill_sample(out.value, 7, 40);
  const std::string payload = encode(out.procedure(), &out.value);
  const std::string input = framed(payload, {10, 50});
  RecordReader reader(pair.local.get());
  for (std::size_t i = 0; i < input.size(); ++i) {
    CAPTURE(i);
    REQUIRE(::write(pair.remote.get(), &input[i], 1) == 1);
    REQUIRE_FALSE(reader.fill());
    std::vector<char> record;
    if (i + 1 < input.size()) {
      REQUIRE(reader.next(record) == errc(EAGAIN));
    } else {
      REQUIRE_FALSE(reader.next(record));
      CHECK(std::string(record.begin(), record.end()) == payload);
    }
  }
}

TEST_CASE("a mark announcing 0x7fffffff bytes allocates nothing and fails with EMSGSIZE",
          "[xdr_glue][reader][hostile]") {
  RecordAssembler assembler;
  const std::string before = framed("ok");
  CHECK(assembler.feed({before.data(), before.size()}) == before.size());
  const std::size_t held_before = assembler.held_bytes();
  const std::string input = record_mark(0x7fffffffu, true) + "abc";
  CHECK(assembler.feed({input.data(), input.size()}) == 4);
  CHECK(assembler.held_bytes() == held_before);
  std::vector<char> record;
  REQUIRE_FALSE(assembler.next(record)); // the record before the bad mark
  CHECK(std::string(record.begin(), record.end()) == "ok");
  CHECK(assembler.next(record) == errc(EMSGSIZE));
  CHECK(assembler.status() == errc(EMSGSIZE));
}

TEST_CASE("fragments that only together exceed the limit fail with EMSGSIZE, storage within it",
          "[xdr_glue][reader][hostile]") {
  const std::size_t limit = 1000;
  RecordAssembler assembler(ReaderLimits{limit, 0});
  const std::string part(400, 'x');
  const std::string input = record_mark(400, false) + part + record_mark(400, false) + part +
                            record_mark(400, true) + part;
  assembler.feed({input.data(), input.size()});
  CHECK(assembler.status() == errc(EMSGSIZE));
  CHECK(assembler.held_bytes() == 0); // the partial record was released
  // At the moment of the refusal storage was within its limit.
  RecordAssembler watched(ReaderLimits{limit, 0});
  const std::size_t before_third_mark = 2 * (4 + 400);
  watched.feed({input.data(), before_third_mark});
  CHECK(watched.held_bytes() <= watched.storage_limit());
  CHECK(watched.storage_limit() == 2 * limit + 8);
  CHECK_FALSE(watched.status());
  watched.feed({input.data() + before_third_mark, 4});
  CHECK(watched.status() == errc(EMSGSIZE));
}

TEST_CASE("a record exactly at the limit is accepted", "[xdr_glue][reader]") {
  const std::string payload(1000, 'y');
  const Outcome outcome = assemble(framed(payload, {600}), {}, ReaderLimits{1000, 0});
  CHECK(outcome.records == std::vector<std::string>{payload});
  CHECK(outcome.status == errc(ENODATA));
}

TEST_CASE("zero-length fragments are legal but their number per record is bounded",
          "[xdr_glue][reader][hostile]") {
  std::string legal;
  for (int i = 0; i < 5; ++i)
    legal += record_mark(0, false);
  legal += record_mark(0, true); // an empty record
  legal += framed("after");
  const Outcome fine = assemble(legal, {}, ReaderLimits{0, 8});
  CHECK(fine.records == std::vector<std::string>{"", "after"});
  CHECK(fine.status == errc(ENODATA));

  std::string endless;
  for (int i = 0; i < 20; ++i)
    endless += record_mark(0, false);
  const Outcome refused = assemble(endless, one_byte_pieces(endless.size()), ReaderLimits{0, 8});
  CHECK(refused.records.empty());
  CHECK(refused.status == errc(EPROTO));
}

TEST_CASE("the default bound on empty fragments admits 16 per record and refuses the 17th",
          "[xdr_glue][reader][hostile]") {
  const auto with_empty_fragments = [](std::size_t count) {
    std::string input;
    for (std::size_t i = 0; i < count; ++i)
      input += record_mark(0, false);
    return input + framed("end");
  };
  REQUIRE(xdr_glue::default_max_empty_fragments == 16);
  CHECK(assemble(with_empty_fragments(16), {}).records == std::vector<std::string>{"end"});
  const Outcome refused = assemble(with_empty_fragments(17), {});
  CHECK(refused.records.empty());
  CHECK(refused.status == errc(EPROTO));
}

TEST_CASE("a record is accepted however many fragments carry its bytes",
          "[xdr_glue][reader]") {
  SECTION("5,000 one-byte fragments at a 5,000-byte limit") {
    const std::string payload(5000, 'f');
    const std::string input = framed(payload, std::vector<std::size_t>(4999, 1));
    const Outcome outcome = assemble(input, one_byte_pieces(input.size()), ReaderLimits{5000, 0});
    CHECK(outcome.records == std::vector<std::string>{payload});
    CHECK(outcome.status == errc(ENODATA));
  }
  SECTION("500,000 bytes in 96-byte fragments, as xdrrec with a 100-byte buffer sends them") {
    std::string payload(500000, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>(i * 13);
    const std::string input = framed(payload, std::vector<std::size_t>(payload.size() / 96, 96));
    CHECK(xdr_test::parse_stream(input).fragments == 5209);
    const Outcome outcome = assemble(input, {});
    CHECK(outcome.records == std::vector<std::string>{payload});
    CHECK(outcome.status == errc(ENODATA));
  }
}

TEST_CASE("the C reader accepts a record in 5,000 one-byte fragments", "[xdr_glue][reader][c]") {
  auto pair = socket_pair();
  u_int value = 0xfeedf00d;
  const std::string payload = encode(xdrproc(xdr_u_int), &value) + std::string(4996, 'c');
  const std::string input = framed(payload, std::vector<std::size_t>(4999, 1));
  REQUIRE(::write(pair.remote.get(), input.data(), input.size()) ==
          static_cast<ssize_t>(input.size()));
  xdr_qio_reader* reader = xdr_qio_reader_create(pair.local.get(), 5000);
  REQUIRE(reader != nullptr);
  CHECK(xdr_qio_reader_fill(reader) == 0);
  u_int decoded = 0;
  CHECK(xdr_qio_reader_next(reader, xdrproc(xdr_u_int), &decoded) == 0);
  CHECK(decoded == value);
  xdr_qio_reader_destroy(reader);
}

TEST_CASE("end of input inside a record is EPIPE and the partial record is never handed out",
          "[xdr_glue][reader][hostile]") {
  const std::string whole = framed("complete");
  SECTION("inside a fragment") {
    const std::string input = whole + record_mark(10, true) + "abc";
    const Outcome outcome = assemble(input, {});
    CHECK(outcome.records == std::vector<std::string>{"complete"});
    CHECK(outcome.status == errc(EPIPE));
  }
  SECTION("inside a mark") {
    const std::string input = whole + record_mark(10, true).substr(0, 2);
    CHECK(assemble(input, {}).status == errc(EPIPE));
  }
  SECTION("after a fragment that was not the last") {
    const std::string input = whole + record_mark(3, false) + "abc";
    CHECK(assemble(input, {}).status == errc(EPIPE));
  }
  SECTION("between records the end is clean") {
    CHECK(assemble(whole, {}).status == errc(ENODATA));
  }
}

TEST_CASE("a record that does not decode is consumed with EBADMSG and the next one decodes",
          "[xdr_glue][reader]") {
  auto pair = socket_pair();
  XdrObject<sample> out(xdr_sample);
  fill_sample(out.value, 3, 10);
  const std::string good = encode(out.procedure(), &out.value);
  const std::string input = framed(good.substr(0, good.size() / 2)) + framed(good);
  REQUIRE(::write(pair.remote.get(), input.data(), input.size()) ==
          static_cast<ssize_t>(input.size()));
  RecordReader reader(pair.local.get());
  REQUIRE_FALSE(reader.fill());
  XdrObject<sample> in(xdr_sample);
  CHECK(reader.decode(in.procedure(), &in.value) == errc(EBADMSG));
  CHECK(in.value.label == nullptr); // released by the reader
  REQUIRE_FALSE(reader.decode(in.procedure(), &in.value));
  CHECK(encode(in.procedure(), &in.value) == good);
}

TEST_CASE("fill stops when waiting records reach the limit and resumes once they are taken",
          "[xdr_glue][reader]") {
  auto pair = socket_pair();
  // More than one read's worth (64 KiB) of 104-byte records.
  const int count = 700;
  const std::string record(100, 'r');
  std::string input;
  for (int i = 0; i < count; ++i)
    input += framed(record);
  REQUIRE(::write(pair.remote.get(), input.data(), input.size()) ==
          static_cast<ssize_t>(input.size()));
  RecordReader reader(pair.local.get(), ReaderLimits{1000, 0});
  REQUIRE_FALSE(reader.fill());
  CHECK(reader.assembler().ready_bytes() < input.size());
  std::size_t taken = 0;
  std::vector<char> out;
  for (int round = 0; round < count && taken < count; ++round) {
    REQUIRE_FALSE(reader.fill());
    while (!reader.next(out))
      ++taken;
  }
  CHECK(taken == count);
}

TEST_CASE("the C reader hands out records, then the stream's end", "[xdr_glue][reader][c]") {
  auto pair = socket_pair();
  xdr_qio_reader* reader = xdr_qio_reader_create(pair.local.get(), 0);
  REQUIRE(reader != nullptr);
  XdrObject<sample> out(xdr_sample);
  fill_sample(out.value, 2, 64);
  const std::string payload = encode(out.procedure(), &out.value);
  const std::string input = framed(payload, {20});
  XdrObject<sample> in(xdr_sample);
  REQUIRE(::write(pair.remote.get(), input.data(), 30) == 30);
  CHECK(xdr_qio_reader_fill(reader) == 0);
  CHECK(xdr_qio_reader_next(reader, in.procedure(), &in.value) == XDR_QIO_AGAIN);
  REQUIRE(::write(pair.remote.get(), input.data() + 30, input.size() - 30) ==
          static_cast<ssize_t>(input.size() - 30));
  CHECK(xdr_qio_reader_fill(reader) == 0);
  REQUIRE(xdr_qio_reader_next(reader, in.procedure(), &in.value) == 0);
  CHECK(encode(in.procedure(), &in.value) == payload);
  pair.remote.reset();
  CHECK(xdr_qio_reader_fill(reader) == XDR_QIO_END);
  CHECK(xdr_qio_reader_next(reader, in.procedure(), &in.value) == XDR_QIO_END);
  xdr_qio_reader_destroy(reader);
}

TEST_CASE("the C reader reports oversize records and bad arguments with documented errors",
          "[xdr_glue][reader][c][hostile]") {
  auto pair = socket_pair();
  xdr_qio_reader* reader = xdr_qio_reader_create(pair.local.get(), 16);
  REQUIRE(reader != nullptr);
  const std::string input = record_mark(17, true);
  REQUIRE(::write(pair.remote.get(), input.data(), input.size()) == 4);
  CHECK(xdr_qio_reader_fill(reader) == XDR_QIO_TOO_BIG);
  u_int value = 0;
  CHECK(xdr_qio_reader_next(reader, xdrproc(xdr_u_int), &value) == XDR_QIO_TOO_BIG);
  CHECK(xdr_qio_reader_next(reader, nullptr, &value) == EINVAL);
  CHECK(xdr_qio_reader_fill(nullptr) == EINVAL);
  xdr_qio_reader_destroy(reader);
  errno = 0;
  CHECK(xdr_qio_reader_create(-1, 0) == nullptr);
  CHECK(errno == EBADF);
}

TEST_CASE("the reader never blocks on a blocking pipe", "[xdr_glue][reader]") {
  auto pipe = qio_test::pipe_pair();
  RecordReader reader(pipe.remote.get()); // the read end, left blocking
  CHECK_FALSE(reader.fill());
  const std::string input = framed("piped");
  REQUIRE(::write(pipe.local.get(), input.data(), input.size()) ==
          static_cast<ssize_t>(input.size()));
  CHECK_FALSE(reader.fill());
  std::vector<char> record;
  REQUIRE_FALSE(reader.next(record));
  CHECK(std::string(record.begin(), record.end()) == "piped");
}
