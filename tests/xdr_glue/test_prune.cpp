// SPDX-License-Identifier: MIT
// test_prune.cpp - record-aware pruning (xdr_qio_prune, RecordWriter::prune):
// a stalled peer resumes on a record boundary with only the newest
// records, through both the C and the C++ writer.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../support.hpp"
#include "qio/engine.hpp"
#include "qio/qio.h"
#include "xdr_support.hpp"
#include "xdr_glue/record_writer.hpp"
#include "xdr_glue/xdr_qio.h"

using qio_test::drain_available;
using qio_test::FdPair;
using qio_test::socket_pair;
using xdr_test::parse_stream;

namespace {

constexpr std::size_t record_size = 3000; // about six fragments of 512 bytes

// Either writer, behind one face so each test runs against both.
class Writer {
public:
  virtual ~Writer() = default;
  virtual XDR& stream() = 0;
  virtual int prune(unsigned& dropped) = 0;
  virtual void flush() = 0;
  virtual bool pending() = 0;
  virtual void end_record() = 0;
};

// The C writer starts the process-wide engine afresh itself, as CppWriter
// makes its own Engine, rather than through a CApiEngine fixture: each test
// takes either writer through the one face.
class CWriter final : public Writer {
public:
  explicit CWriter(int fd) : fd_(fd) {
    qio_init();
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
    REQUIRE(xdr_qio_create(&stream_, fd, 512, 0) == 0);
  }
  ~CWriter() override {
    xdr_destroy(&stream_);
    qio_termc(fd_);
  }
  XDR& stream() override { return stream_; }
  int prune(unsigned& dropped) override { return xdr_qio_prune(fd_, &dropped); }
  void flush() override { qio_flushc(fd_); }
  bool pending() override { return qio_pendc(fd_) > 0; }
  void end_record() override { REQUIRE(xdrrec_endofrecord(&stream_, TRUE)); }

private:
  int fd_;
  XDR stream_;
};

class CppWriter final : public Writer {
public:
  explicit CppWriter(int fd) : fd_(fd) {
    REQUIRE_FALSE(engine_.configure(fd, {}));
    writer_ = std::make_unique<xdr_glue::RecordWriter>(engine_, fd, 512);
  }
  XDR& stream() override { return *writer_->xdr(); }
  int prune(unsigned& dropped) override {
    std::size_t count = 0;
    const std::error_code error = writer_->prune(&count);
    dropped = static_cast<unsigned>(count);
    return error.value();
  }
  void flush() override { engine_.flush(fd_); }
  bool pending() override { return engine_.pending(fd_) > 0; }
  void end_record() override { REQUIRE_FALSE(writer_->end_record()); }

private:
  int fd_;
  qio::Engine engine_;
  std::unique_ptr<xdr_glue::RecordWriter> writer_;
};

std::unique_ptr<Writer> make_writer(bool c_api, int fd) {
  if (c_api)
    return std::make_unique<CWriter>(fd);
  return std::make_unique<CppWriter>(fd);
}

// Record `sequence`: an opaque blob whose text names it, padded to `size`.
std::string record_body(unsigned sequence, std::size_t size) {
  std::string body = "record " + std::to_string(sequence) + " ";
  body.resize(size, static_cast<char>('a' + sequence % 26));
  return body;
}

// Encodes the blob piece by piece: the length, then the bytes in two
// halves, so a test can act between the halves. Sizes are multiples of 4.
void encode_length(XDR& stream, std::size_t size) {
  u_int length = static_cast<u_int>(size);
  REQUIRE(xdr_u_int(&stream, &length));
}
void encode_bytes(XDR& stream, const std::string& bytes) {
  REQUIRE(xdr_opaque(&stream, const_cast<char*>(bytes.data()), static_cast<u_int>(bytes.size())));
}
void write_record(Writer& writer, unsigned sequence, std::size_t size) {
  encode_length(writer.stream(), size);
  encode_bytes(writer.stream(), record_body(sequence, size));
  writer.end_record();
}

// The sequence number each whole record on the wire names; fails the test
// on a record that is not exactly what was written.
std::vector<unsigned> sequences_of(const std::string& wire, std::size_t size) {
  const auto parsed = parse_stream(wire);
  CHECK(parsed.leftover == 0); // nothing cut: every record is whole
  std::vector<unsigned> sequences;
  for (const std::string& record : parsed.records) {
    unsigned sequence = 0;
    REQUIRE(std::sscanf(record.c_str() + 4, "record %u", &sequence) == 1);
    CHECK(record.substr(4) == record_body(sequence, size));
    sequences.push_back(sequence);
  }
  return sequences;
}

// A socket pair with small buffers, so the peer stalls after a few records.
FdPair stalled_pair() {
  auto pair = socket_pair();
  const int small = 4096;
  REQUIRE(::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  REQUIRE(::setsockopt(pair.remote.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
  return pair;
}

// Queues records 0..count-1, then flushes once: the socket takes a few
// kilobytes, which end inside some record (the test requires it, since
// that is the case pruning must respect). Returns what the peer received.
std::string stall_inside_a_record(Writer& writer, int peer, unsigned count) {
  for (unsigned sequence = 0; sequence < count; ++sequence)
    write_record(writer, sequence, record_size);
  writer.flush();
  std::string received;
  drain_available(peer, received);
  REQUIRE(writer.pending());
  REQUIRE(parse_stream(received).leftover > 0);
  return received;
}

// The stalled peer starts reading: flush and read until nothing is pending.
std::string drain(Writer& writer, int peer) {
  std::string wire;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    writer.flush();
    drain_available(peer, wire);
  } while (writer.pending() && std::chrono::steady_clock::now() < deadline);
  drain_available(peer, wire);
  CHECK_FALSE(writer.pending());
  return wire;
}

} // namespace

TEST_CASE("pruning drops whole unstarted records and a stalled peer resumes with the newest",
          "[xdr_glue][prune]") {
  const bool c_api = GENERATE(true, false);
  CAPTURE(c_api);
  auto pair = stalled_pair();
  auto writer = make_writer(c_api, pair.local.get());
  const unsigned old_records = 40;
  const std::string early = stall_inside_a_record(*writer, pair.remote.get(), old_records);
  unsigned dropped = 0;
  REQUIRE(writer->prune(dropped) == 0);
  CHECK(dropped > 0);
  for (unsigned sequence = 100; sequence < 105; ++sequence)
    write_record(*writer, sequence, record_size);

  const std::vector<unsigned> received =
      sequences_of(early + drain(*writer, pair.remote.get()), record_size);
  // A contiguous run of the old records (those that had started), then
  // exactly the new ones.
  REQUIRE(received.size() == old_records - dropped + 5);
  for (unsigned i = 0; i < old_records - dropped; ++i)
    CHECK(received[i] == i);
  for (unsigned i = 0; i < 5; ++i)
    CHECK(received[old_records - dropped + i] == 100 + i);
}

TEST_CASE("a record the writer has not ended when the prune comes is kept whole",
          "[xdr_glue][prune]") {
  const bool c_api = GENERATE(true, false);
  CAPTURE(c_api);
  auto pair = stalled_pair();
  auto writer = make_writer(c_api, pair.local.get());
  const std::string early = stall_inside_a_record(*writer, pair.remote.get(), 20);
  // Half of record 50: several fragments are queued, its end is not.
  const std::string body = record_body(50, record_size);
  encode_length(writer->stream(), record_size);
  encode_bytes(writer->stream(), body.substr(0, record_size / 2));
  unsigned dropped = 0;
  REQUIRE(writer->prune(dropped) == 0);
  CHECK(dropped > 0);
  encode_bytes(writer->stream(), body.substr(record_size / 2));
  writer->end_record();
  write_record(*writer, 51, record_size);

  const std::vector<unsigned> received =
      sequences_of(early + drain(*writer, pair.remote.get()), record_size);
  REQUIRE(received.size() == 20 - dropped + 2);
  for (unsigned i = 0; i < 20 - dropped; ++i)
    CHECK(received[i] == i);
  CHECK(received[20 - dropped] == 50);
  CHECK(received[20 - dropped + 1] == 51);
}

TEST_CASE("pruning a channel whose records have all gone out drops nothing",
          "[xdr_glue][prune]") {
  const bool c_api = GENERATE(true, false);
  CAPTURE(c_api);
  auto pair = socket_pair();
  auto writer = make_writer(c_api, pair.local.get());
  write_record(*writer, 1, 100);
  writer->flush();
  REQUIRE_FALSE(writer->pending());
  unsigned dropped = 99;
  CHECK(writer->prune(dropped) == 0);
  CHECK(dropped == 0);
  write_record(*writer, 2, 100);
  const std::vector<unsigned> received = sequences_of(drain(*writer, pair.remote.get()), 100);
  CHECK(received == std::vector<unsigned>{1, 2});
}

TEST_CASE_METHOD(qio_test::CApiEngine, "xdr_qio_prune on a descriptor that is not a qio channel "
                 "fails with EBADF",
                 "[xdr_glue][prune][errors]") {
  auto pair = socket_pair();
  unsigned dropped = 99;
  CHECK(xdr_qio_prune(pair.local.get(), &dropped) == EBADF);
  CHECK(dropped == 0);
  CHECK(xdr_qio_prune(-1, nullptr) == EBADF);
}
