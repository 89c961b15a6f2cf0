// SPDX-License-Identifier: MIT
// ledger.cpp - request bookkeeping and the final check of one connection.
#include "ledger.hpp"

#include <algorithm> // std::max
#include <cerrno>    // ECANCELED
#include <cstdint>   // std::uintptr_t

#include "qio/qio.h" // QIO_WRITE

namespace soak {

void* make_tag(std::uint32_t session, std::uint32_t request) noexcept {
  return reinterpret_cast<void*>((std::uintptr_t{session} << 32) | request);
}
std::uint32_t tag_session(void* tag) noexcept {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(tag) >> 32);
}
std::uint32_t tag_request(void* tag) noexcept {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(tag));
}

void SenderLedger::queued(std::size_t size, bool with_ast, std::unique_ptr<char[]> caller_bytes) {
  Request request;
  request.size = static_cast<std::uint32_t>(size);
  request.with_ast = with_ast;
  request.caller_bytes = std::move(caller_bytes);
  outstanding_.push_back(next_request());
  outstanding_bytes_ += size;
  requests_.push_back(std::move(request));
  if (size > 0) {
    ++figures_.messages_queued;
    figures_.bytes_queued += size;
  }
}

void SenderLedger::on_completion(std::uint32_t request, const Completed& done, int channel) {
  if (request >= requests_.size() || !requests_[request].with_ast) {
    ++figures_.asts_misreported; // an AST for a request that asked for none
    return;
  }
  Request& entry = requests_[request];
  if (entry.ast_calls++ > 0) {
    ++figures_.asts_doubled;
    return;
  }
  ++figures_.asts_received;
  if (static_cast<std::int64_t>(request) <= last_ast_)
    ++figures_.asts_out_of_order;
  else
    last_ast_ = request;
  check_completion(request, done, channel);
  entry.reported = static_cast<std::uint32_t>(done.length);
  if (done.error == 0) {
    entry.outcome = Outcome::ok;
    last_ok_ = std::max<std::int64_t>(last_ok_, request);
  } else if (done.error == ECANCELED) {
    entry.outcome = Outcome::cancelled;
  } else {
    entry.outcome = Outcome::failed;
    if (write_error_ == 0)
      write_error_ = done.error;
  }
}

// What an AST says must fit the request: its channel, its operation, no
// more bytes than it had (all of them on success), and its data: the
// caller's own buffer when unbuffered, else a copy starting with its header.
void SenderLedger::check_completion(std::uint32_t request, const Completed& done, int channel) {
  const Request& entry = requests_[request];
  bool fits = done.channel == channel && done.operation == QIO_WRITE &&
              done.length <= entry.size && (done.error != 0 || done.length == entry.size);
  if (entry.caller_bytes)
    fits = fits && done.buffer == entry.caller_bytes.get();
  else if (entry.size > 0) {
    const auto header = done.buffer ? decode_header(done.buffer) : std::nullopt;
    fits = fits && header && header->session == session_ && header->sequence == request;
  }
  if (!fits)
    ++figures_.asts_misreported;
}

// The front request is complete; one without an AST takes `silent_outcome`.
void SenderLedger::retire_front(Outcome silent_outcome) {
  Request& entry = requests_[outstanding_.front()];
  outstanding_.pop_front();
  outstanding_bytes_ -= entry.size;
  if (!entry.with_ast)
    entry.outcome = silent_outcome;
  entry.caller_bytes.reset();
}

void SenderLedger::settle(std::size_t pending) {
  while (outstanding_.size() > pending)
    retire_front(Outcome::completed_silently);
}

void SenderLedger::complete_through(std::uint32_t request) {
  while (!outstanding_.empty() && outstanding_.front() <= request)
    retire_front(Outcome::completed_silently);
}

// The first `pending` outstanding requests stay (a partly written write);
// prune cancelled the rest, whose ASTs have run already, out of order with
// the kept write's.
void SenderLedger::end_prune(std::size_t pending) {
  std::deque<std::uint32_t> kept;
  while (!outstanding_.empty() && kept.size() < pending) {
    kept.push_back(outstanding_.front());
    outstanding_.pop_front();
  }
  while (!outstanding_.empty()) {
    const Request& entry = requests_[outstanding_.front()];
    if (entry.with_ast && entry.ast_calls > 0 && entry.outcome != Outcome::cancelled)
      ++figures_.asts_misreported;
    retire_front(Outcome::cancelled);
  }
  outstanding_ = std::move(kept);
  last_ast_ = prune_watermark_;
}

void SenderLedger::end_terminate() {
  while (!outstanding_.empty())
    retire_front(Outcome::cancelled);
}

bool SenderLedger::reported_sent(std::uint32_t request, std::int64_t frontier) const noexcept {
  const Outcome outcome = requests_[request].outcome;
  return outcome == Outcome::ok ||
         (outcome == Outcome::completed_silently && static_cast<std::int64_t>(request) < frontier);
}

void SenderLedger::count_outcome(const Request& request) {
  switch (request.outcome) {
  case Outcome::ok:
    ++figures_.messages_ok;
    break;
  case Outcome::failed:
    ++figures_.messages_failed;
    break;
  case Outcome::cancelled:
    ++figures_.messages_cancelled;
    break;
  case Outcome::completed_silently:
    ++figures_.messages_silent;
    break;
  case Outcome::pending:
    break; // an AST that never came: counted as missing
  }
}

// The message whose first bytes end the stream, cut short: named by its
// header if that arrived, else the first one after the last whole message
// that can have had any byte written.
std::int64_t SenderLedger::cut_message(const FrameReceiver& receiver) const noexcept {
  if (receiver.partial_bytes() == 0)
    return -1;
  if (const auto sequence = receiver.partial_sequence())
    return *sequence;
  for (std::size_t id = static_cast<std::size_t>(receiver.last_sequence() + 1);
       id < requests_.size(); ++id) {
    const Request& entry = requests_[id];
    const bool nothing_written = entry.with_ast && entry.reported == 0 &&
                                 (entry.outcome == Outcome::cancelled ||
                                  entry.outcome == Outcome::failed);
    if (entry.size > 0 && !nothing_written)
      return static_cast<std::int64_t>(id);
  }
  return static_cast<std::int64_t>(requests_.size());
}

void SenderLedger::reconcile(const FrameReceiver& receiver, bool saw_end) {
  saw_end = saw_end && !receiver.lost_track();
  const std::int64_t frontier =
      clean_end_ ? static_cast<std::int64_t>(requests_.size()) : last_ok_;
  const std::int64_t cut = saw_end ? cut_message(receiver) : -1;
  if (receiver.last_sequence() >= static_cast<std::int64_t>(requests_.size()))
    ++figures_.corrupted; // a message this sender never queued
  for (std::uint32_t id = 0; id < requests_.size(); ++id) {
    const Request& entry = requests_[id];
    if (entry.with_ast) {
      ++figures_.asts_expected;
      figures_.asts_missing += entry.ast_calls == 0;
    }
    if (entry.size == 0)
      continue; // an empty probe write puts nothing on the wire
    count_outcome(entry);
    const bool sent = reported_sent(id, frontier);
    const bool reports_part = entry.with_ast && (entry.outcome == Outcome::failed ||
                                                 entry.outcome == Outcome::cancelled);
    if (receiver.complete(id)) {
      ++figures_.messages_received;
      figures_.bytes_received += entry.size;
      figures_.asts_misreported += reports_part && entry.reported != entry.size;
    } else if (id == cut) {
      if (reports_part)
        figures_.asts_misreported += entry.reported != receiver.partial_bytes();
      else
        figures_.lost += sent;
    } else if (saw_end || static_cast<std::int64_t>(id) < receiver.last_sequence()) {
      figures_.lost += sent || (reports_part && entry.reported > 0);
    }
  }
  if (cut >= static_cast<std::int64_t>(requests_.size()))
    ++figures_.corrupted; // bytes at the end that no request accounts for
}

} // namespace soak
