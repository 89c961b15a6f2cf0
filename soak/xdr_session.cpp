// SPDX-License-Identifier: MIT
// xdr_session.cpp - XDR records through xdr_glue, checked record by record.
#include "xdr_session.hpp"

#include <algorithm> // std::max

#include "qio/qio.h"
#include "wire.hpp"

namespace soak {

// One record: who sent it, its number, a checksum and the payload.
struct SoakRecord {
  u_int session = 0;
  u_int sequence = 0;
  u_int checksum_high = 0;
  u_int checksum_low = 0;
  u_int length = 0;
  char* payload = nullptr; // allocated by xdr_bytes when decoding
};

namespace {

constexpr int most_chunks_queued = 32; // a sender's backlog, in xdrrec buffers

bool_t xdr_soak_record(XDR* xdrs, SoakRecord* record) {
  return xdr_u_int(xdrs, &record->session) && xdr_u_int(xdrs, &record->sequence) &&
         xdr_u_int(xdrs, &record->checksum_high) && xdr_u_int(xdrs, &record->checksum_low) &&
         xdr_bytes(xdrs, &record->payload, &record->length, static_cast<u_int>(max_payload));
}

xdrproc_t record_proc() { return reinterpret_cast<xdrproc_t>(&xdr_soak_record); }

} // namespace

XdrSession::XdrSession(std::uint32_t id, World& world, int sender_fd, int receiver_fd,
                       const XdrPlan& plan, Clock::time_point end_at)
    : Session(id, world, sender_fd, receiver_fd, plan.ending, end_at),
      next_prune_(Clock::now() + world.random.exponential_ms(1500.0)) {
  Figures& figures = world.figures;
  figures.unexpected_errors += qio_configure(sender_fd, 1, plan.buffered, -1) != 0;
  stream_open_ = xdr_qio_create(&stream_, sender_fd, plan.send_size, 0) == 0;
  figures.unexpected_errors += !stream_open_;
  broken_ = !stream_open_;
  reader_ = xdr_qio_reader_create(receiver_fd, 2 * max_message);
  figures.unexpected_errors += reader_ == nullptr;
}

XdrSession::~XdrSession() {
  if (reader_ != nullptr)
    xdr_qio_reader_destroy(reader_);
}

void XdrSession::service(Clock::time_point now) {
  serve_receiver(now);
  serve_sender(now);
}

void XdrSession::begin_drain() {
  pauses_.stop();
  receiver_wants_input_ = true;
  draining_ = true;
}

void XdrSession::abandon() {
  if (sender_fd_ >= 0)
    end_sender();
  if (receiver_fd_ >= 0) {
    xdr_qio_reader_destroy(reader_);
    reader_ = nullptr;
    close_receiver(true);
  }
}

// ---- sending ---------------------------------------------------------------------

void XdrSession::serve_sender(Clock::time_point now) {
  if (sender_fd_ < 0)
    return;
  // Once nothing is pending, qio_wait(fd, 0) returns the sticky error: a
  // write failed, so the peer hung up.
  const bool idle = qio_pendc(sender_fd_) == 0;
  if (idle && qio_wait(sender_fd_, 0) != 0)
    broken_ = true;
  if (broken_) {
    disconnected_ = true;
    end_sender();
    return;
  }
  if (!draining_ && now >= end_at_ && ending_ == Ending::graceful)
    draining_ = true;
  if (!draining_) {
    maybe_prune(now);
    produce();
  } else if (idle) {
    clean_end_ = true;
    ++world_.figures.graceful_ends;
    end_sender();
  }
}

void XdrSession::produce() {
  for (int count = 0; count < 4 && qio_pendc(sender_fd_) < most_chunks_queued; ++count) {
    const std::size_t size = world_.random.payload_size();
    SoakRecord record;
    record.session = id_;
    record.sequence = static_cast<u_int>(dropped_.size());
    fill_payload(id_, record.sequence, world_.scratch.data(), size);
    const std::uint64_t sum = checksum(world_.scratch.data(), size);
    record.checksum_high = static_cast<u_int>(sum >> 32);
    record.checksum_low = static_cast<u_int>(sum);
    record.length = static_cast<u_int>(size);
    record.payload = world_.scratch.data();
    if (!xdr_soak_record(&stream_, &record) || !xdrrec_endofrecord(&stream_, TRUE)) {
      broken_ = true; // qio refused a buffer: its sticky write error
      return;
    }
    dropped_.push_back(false);
    ++world_.figures.records_sent;
  }
}

// While the reader is paused, now and then: drop whole records not begun.
// Those are always the newest ones queued.
void XdrSession::maybe_prune(Clock::time_point now) {
  if (now < next_prune_)
    return;
  next_prune_ = now + world_.random.exponential_ms(1500.0);
  if (receiver_wants_input_ || qio_pendc(sender_fd_) < 2)
    return;
  unsigned dropped = 0;
  world_.figures.unexpected_errors += xdr_qio_prune(sender_fd_, &dropped) != 0;
  ++world_.figures.prunes;
  world_.figures.records_pruned += dropped;
  for (std::size_t sequence = dropped_.size(); sequence > 0 && dropped > 0; --sequence) {
    if (!dropped_[sequence - 1]) {
      dropped_[sequence - 1] = true;
      --dropped;
    }
  }
}

void XdrSession::end_sender() {
  if (stream_open_)
    xdr_destroy(&stream_);
  stream_open_ = false;
  world_.figures.unexpected_errors += qio_termc(sender_fd_) != 0;
  close_sender();
}

// ---- receiving -------------------------------------------------------------------

void XdrSession::serve_receiver(Clock::time_point now) {
  if (receiver_fd_ < 0)
    return;
  if (ending_ == Ending::receiver_hangs_up && now >= end_at_ && !world_.draining) {
    disconnected_ = true;
    xdr_qio_reader_destroy(reader_);
    reader_ = nullptr;
    close_receiver(world_.random.chance(0.5));
    return;
  }
  if (receiver_paused(now))
    return;
  // fill() stops at max_record bytes of whole records: take them, go on.
  for (int round = 0; round < 16; ++round) {
    const int status = xdr_qio_reader_fill(reader_);
    const std::size_t taken = take_records();
    if (status != 0)
      return end_receiver(status);
    if (taken == 0)
      return;
  }
}

std::size_t XdrSession::take_records() {
  std::size_t taken = 0;
  for (;;) {
    SoakRecord record;
    const int status = xdr_qio_reader_next(reader_, record_proc(), &record);
    if (status == XDR_QIO_DECODE) {
      ++world_.figures.corrupted;
      continue;
    }
    if (status != 0)
      return taken;
    check_record(record);
    xdr_free(record_proc(), &record);
    ++taken;
  }
}

void XdrSession::check_record(const SoakRecord& record) {
  const std::uint64_t sum = (std::uint64_t{record.checksum_high} << 32) | record.checksum_low;
  if (record.session != id_ || record.length == 0 || record.payload == nullptr ||
      checksum(record.payload, record.length) != sum) {
    ++world_.figures.corrupted;
    return;
  }
  const std::uint32_t sequence = record.sequence;
  if (sequence < received_.size() && received_[sequence])
    ++world_.figures.duplicated;
  else if (static_cast<std::int64_t>(sequence) < last_received_)
    ++world_.figures.reordered;
  if (sequence >= received_.size())
    received_.resize(std::size_t{sequence} + 1, false);
  received_[sequence] = true;
  last_received_ = std::max<std::int64_t>(last_received_, sequence);
  ++world_.figures.records_received;
}

// The stream's final status: its end, between records or inside one; any
// other status means the record marks were broken.
void XdrSession::end_receiver(int status) {
  if (status == XDR_QIO_END || status == XDR_QIO_TRUNCATED) {
    saw_end_ = true;
    truncated_ = status == XDR_QIO_TRUNCATED;
  } else {
    ++world_.figures.corrupted;
  }
  xdr_qio_reader_destroy(reader_);
  reader_ = nullptr;
  close_receiver(false);
}

// A record is lost if it was not pruned and did not arrive, though the
// reader went on to a later record, or the sender ended cleanly and the
// reader read to the end.
void XdrSession::reconcile() {
  Figures& figures = world_.figures;
  const bool everything_went = clean_end_ && saw_end_;
  figures.lost += everything_went && truncated_;
  if (last_received_ >= static_cast<std::int64_t>(dropped_.size()))
    ++figures.corrupted; // a record this sender never queued
  for (std::size_t sequence = 0; sequence < dropped_.size(); ++sequence) {
    const bool arrived = sequence < received_.size() && received_[sequence];
    if (arrived)
      figures.asts_misreported += dropped_[sequence]; // pruned, yet it went
    else if (!dropped_[sequence])
      figures.lost += everything_went || static_cast<std::int64_t>(sequence) < last_received_;
  }
  figures.disconnects_survived += disconnected_;
}

} // namespace soak
