// SPDX-License-Identifier: MIT
// test_writer.cpp - XDR records queued through qio (xdr_qio_create,
// xdr_qio_writeit, RecordWriter) and read back by libtirpc's own xdrrec
// reader on a blocking socket.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "qio/engine.hpp"
#include "qio/qio.h"
#include "xdr_support.hpp"
#include "xdr_glue/record_writer.hpp"
#include "xdr_glue/xdr_qio.h"

using qio_test::CApiChannel;
using qio_test::CApiEngine;
using qio_test::drain_available;
using qio_test::socket_pair;
using xdr_test::encode;
using xdr_test::fill_sample;
using xdr_test::parse_stream;
using xdr_test::TirpcPeer;
using xdr_test::xdrproc;
using xdr_test::XdrObject;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

// Encodes sample `sequence` on `stream` as one record; returns its XDR
// bytes for comparison with what the peer decodes.
std::string write_sample(XDR& stream, unsigned sequence, std::size_t payload_size) {
  XdrObject<sample> out(xdr_sample);
  fill_sample(out.value, sequence, payload_size);
  REQUIRE(xdr_sample(&stream, &out.value));
  REQUIRE(xdrrec_endofrecord(&stream, TRUE));
  return encode(out.procedure(), &out.value);
}

// Reads `expected.size()` records with libtirpc and compares each.
void read_back(TirpcPeer& peer, const std::vector<std::string>& expected) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    XdrObject<sample> in(xdr_sample);
    REQUIRE(peer.read_record(in.procedure(), &in.value));
    CHECK(encode(in.procedure(), &in.value) == expected[i]);
  }
}

int refuse_to_read(void*, void*, int) { return -1; }

} // namespace

TEST_CASE_METHOD(CApiChannel, "records written through xdr_qio_create are read back by libtirpc's "
                 "xdrrec reader",
                 "[xdr_glue][writer]") {
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, fd, 0, 0) == 0);
  std::vector<std::string> expected;
  for (unsigned sequence = 0; sequence < 12; ++sequence)
    expected.push_back(write_sample(stream, sequence, sequence * 100));
  xdr_destroy(&stream);
  REQUIRE(qio_wait(fd, 5000) == 0);
  TirpcPeer peer(pair.remote.get());
  read_back(peer, expected);
}

TEST_CASE_METHOD(CApiChannel, "a record longer than sendsize goes out as several fragments",
                 "[xdr_glue][writer]") {
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, fd, 128, 0) == 0);
  const std::string expected = write_sample(stream, 5, 2000);
  xdr_destroy(&stream);
  REQUIRE(qio_wait(fd, 5000) == 0);
  std::string wire;
  drain_available(pair.remote.get(), wire);
  const auto parsed = parse_stream(wire);
  REQUIRE(parsed.records.size() == 1);
  CHECK(parsed.leftover == 0);
  CHECK(parsed.fragments >= expected.size() / 128);
  CHECK(parsed.records[0] == expected);
}

TEST_CASE_METHOD(CApiChannel, "the drop-in xdr_qio_writeit serves a program's own xdrrec_create",
                 "[xdr_glue][writer]") {
  XDR stream;
  xdrrec_create(&stream, 200, 0, xdr_qio_handle(fd), &refuse_to_read, &xdr_qio_writeit);
  stream.x_op = XDR_ENCODE;
  std::vector<std::string> expected;
  for (unsigned sequence = 0; sequence < 6; ++sequence)
    expected.push_back(write_sample(stream, sequence, 700));
  xdr_destroy(&stream);
  REQUIRE(qio_wait(fd, 5000) == 0);
  TirpcPeer peer(pair.remote.get());
  read_back(peer, expected);
}

TEST_CASE_METHOD(CApiEngine, "an unbuffered channel still sends what was encoded although xdrrec "
                 "reuses its buffer",
                 "[xdr_glue][writer]") {
  qio_test::FdPair& pair = open_channel(socket_pair(), {.buffered = 0});
  const int channel = pair.local.get();
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, channel, 100, 0) == 0);
  std::vector<std::string> expected;
  for (unsigned sequence = 0; sequence < 8; ++sequence)
    expected.push_back(write_sample(stream, sequence, 300 + sequence));
  xdr_destroy(&stream); // frees xdrrec's buffer: queued bytes must not live there
  REQUIRE(qio_wait(channel, 5000) == 0);
  TirpcPeer peer(pair.remote.get());
  read_back(peer, expected);
}

TEST_CASE_METHOD(CApiChannel, "encoding never blocks while the peer reads nothing, and every "
                 "record arrives later",
                 "[xdr_glue][writer]") {
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, fd, 4096, 0) == 0);
  const unsigned count = 200;
  const std::size_t payload = 40000; // 8 MB in all, far beyond the socket buffers
  std::vector<std::string> expected;
  for (unsigned sequence = 0; sequence < count; ++sequence) {
    expected.push_back(write_sample(stream, sequence, payload));
    qio_flush();
  }
  xdr_destroy(&stream);
  REQUIRE(qio_pendc(fd) > 0); // the peer has not read: the rest is queued

  bool peer_ok = true;
  std::thread reader([&] {
    TirpcPeer peer(pair.remote.get());
    for (unsigned sequence = 0; sequence < count && peer_ok; ++sequence) {
      XdrObject<sample> in(xdr_sample);
      peer_ok = peer.read_record(in.procedure(), &in.value) &&
                encode(in.procedure(), &in.value) == expected[sequence];
    }
  });
  const int waited = qio_wait(fd, 20000);
  reader.join();
  CHECK(waited == 0);
  CHECK(peer_ok);
}

TEST_CASE_METHOD(CApiEngine, "a record queued on a descriptor that is not a qio channel fails "
                 "with EBADF",
                 "[xdr_glue][writer][errors]") {
  auto pair = socket_pair();
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, pair.local.get(), 0, 0) == 0);
  unsigned value = 7;
  REQUIRE(xdr_u_int(&stream, &value)); // still in xdrrec's buffer
  errno = 0;
  CHECK_FALSE(xdrrec_endofrecord(&stream, TRUE));
  CHECK(errno == EBADF);
  xdr_destroy(&stream);
}

TEST_CASE("xdr_qio_create and xdr_qio_writeit reject bad arguments with documented errors",
          "[xdr_glue][writer][errors]") {
  XDR stream;
  CHECK(xdr_qio_create(nullptr, 3, 0, 0) == EINVAL);
  CHECK(xdr_qio_create(&stream, -1, 0, 0) == EBADF);
  CHECK(xdr_qio_create(&stream, 1000000, 0, 0) == EBADF); // not an open descriptor
  char byte = 0;
  errno = 0;
  CHECK(xdr_qio_writeit(xdr_qio_handle(-1), &byte, 1) == -1);
  CHECK(errno == EBADF);
  errno = 0;
  CHECK(xdr_qio_writeit(xdr_qio_handle(3), &byte, -1) == -1);
  CHECK(errno == EINVAL);
}

TEST_CASE_METHOD(CApiEngine, "a stream made by xdr_qio_create decodes from a blocking descriptor "
                 "with read(2)",
                 "[xdr_glue][writer]") {
  auto pair = socket_pair();
  TirpcPeer peer(pair.remote.get());
  XdrObject<sample> out(xdr_sample);
  fill_sample(out.value, 4, 900);
  REQUIRE(peer.write_record(out.procedure(), &out.value));
  XDR stream;
  REQUIRE(xdr_qio_create(&stream, pair.local.get(), 0, 0) == 0);
  stream.x_op = XDR_DECODE;
  XdrObject<sample> in(xdr_sample);
  REQUIRE(xdrrec_skiprecord(&stream));
  REQUIRE(xdr_sample(&stream, &in.value));
  CHECK(encode(in.procedure(), &in.value) == encode(out.procedure(), &out.value));
  xdr_destroy(&stream);
}

TEST_CASE("RecordWriter queues records on an engine channel, several fragments each",
          "[xdr_glue][writer][cpp]") {
  qio::Engine engine;
  auto pair = socket_pair();
  qio::ChannelOptions options;
  options.buffered = GENERATE(false, true);
  CAPTURE(options.buffered);
  REQUIRE_FALSE(engine.configure(pair.local.get(), options));
  std::vector<std::string> expected;
  {
    xdr_glue::RecordWriter writer(engine, pair.local.get(), 256);
    for (unsigned sequence = 0; sequence < 5; ++sequence) {
      XdrObject<sample> out(xdr_sample);
      fill_sample(out.value, sequence, 1500);
      REQUIRE_FALSE(writer.write_record(out.procedure(), &out.value));
      expected.push_back(encode(out.procedure(), &out.value));
    }
    CHECK(writer.queued_bytes() > 0);
  } // the writer may go: what it queued still goes out
  REQUIRE_FALSE(engine.wait(pair.local.get(), 5000));
  std::string wire;
  drain_available(pair.remote.get(), wire);
  const auto parsed = parse_stream(wire);
  CHECK(parsed.records == expected);
  CHECK(parsed.fragments > 5 * 4);
  CHECK(parsed.leftover == 0);
}

TEST_CASE("a failing encoder makes RecordWriter queue nothing and report EINVAL",
          "[xdr_glue][writer][cpp][errors]") {
  qio::Engine engine;
  auto pair = socket_pair();
  REQUIRE_FALSE(engine.configure(pair.local.get(), {}));
  xdr_glue::RecordWriter writer(engine, pair.local.get());
  XdrObject<tag> too_long(xdr_tag);
  too_long.value.name = xdr_test::copy_of(std::string(LABEL_LIMIT + 1, 'x'));
  CHECK(writer.write_record(too_long.procedure(), &too_long.value) == errc(EINVAL));
  CHECK(engine.pending(pair.local.get()) == 0);
  // libtirpc's xdr_free checks the bound before freeing, so it would leave
  // a string longer than its bound: free it here.
  std::free(too_long.value.name);
  too_long.value.name = nullptr;
  XdrObject<tag> fine(xdr_tag);
  fine.value.name = xdr_test::copy_of("fine");
  CHECK_FALSE(writer.write_record(fine.procedure(), &fine.value));
  REQUIRE_FALSE(engine.wait(pair.local.get(), 5000));
  std::string wire;
  drain_available(pair.remote.get(), wire);
  const auto parsed = parse_stream(wire);
  REQUIRE(parsed.records.size() == 1);
  CHECK(parsed.records[0] == encode(fine.procedure(), &fine.value));
}

TEST_CASE("a peer that has gone away makes RecordWriter report EPIPE without raising SIGPIPE",
          "[xdr_glue][writer][cpp][errors]") {
  qio::Engine engine;
  auto pair = socket_pair();
  REQUIRE_FALSE(engine.configure(pair.local.get(), {}));
  xdr_glue::RecordWriter writer(engine, pair.local.get());
  pair.remote.reset();
  unsigned value = 1;
  REQUIRE_FALSE(writer.write_record(xdrproc(xdr_u_int), &value));
  engine.flush();
  CHECK(writer.error() == errc(EPIPE));
  CHECK(writer.queued_bytes() == 0);
  CHECK(writer.write_record(xdrproc(xdr_u_int), &value) == errc(EPIPE)); // sticky
}
