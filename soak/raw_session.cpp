// SPDX-License-Identifier: MIT
// raw_session.cpp - framed messages through qio, checked at the far end.
#include "raw_session.hpp"

#include <sys/socket.h> // recv

#include <cerrno>        // errno values
#include <unordered_map> // the live sessions, by number

#include "qio/qio.h"

namespace soak {
namespace {

constexpr std::size_t backlog_limit = 1 << 20;     // bytes a sender keeps queued
constexpr std::size_t plain_read_budget = 4 << 20; // bytes read per session per tick
constexpr std::size_t largest_read = 64 * 1024;

// ASTs find their session by the number in their tag. A tag whose session
// has ended is an AST after the last one its requests were owed.
struct Registry {
  std::unordered_map<std::uint32_t, RawSession*> sessions;
  Figures* figures = nullptr;
};

Registry& registry() {
  static Registry live;
  return live;
}

RawSession* session_of(void* tag) {
  Registry& live = registry();
  const auto found = live.sessions.find(tag_session(tag));
  if (found != live.sessions.end())
    return found->second;
  ++live.figures->asts_doubled;
  return nullptr;
}

Completed from_c(int error, int channel, int operation, char* buffer, int length) {
  return {error, channel, operation, buffer, static_cast<std::size_t>(length)};
}

Completed from_engine(const qio::Completion& completion) {
  return {completion.error.value(), completion.channel, static_cast<int>(completion.operation),
          completion.buffer, completion.length};
}

void c_write_done(int error, int channel, int operation, char* buffer, int length, void* tag) {
  if (RawSession* session = session_of(tag))
    session->on_write_done(tag_request(tag), from_c(error, channel, operation, buffer, length));
}

void c_read_done(int error, int channel, int operation, char* buffer, int length, void* tag) {
  if (RawSession* session = session_of(tag))
    session->on_read_done(tag_request(tag), from_c(error, channel, operation, buffer, length));
}

void engine_write_done(const qio::Completion& completion, void* tag) {
  if (RawSession* session = session_of(tag))
    session->on_write_done(tag_request(tag), from_engine(completion));
}

void engine_read_done(const qio::Completion& completion, void* tag) {
  if (RawSession* session = session_of(tag))
    session->on_read_done(tag_request(tag), from_engine(completion));
}

class CApiQueue final : public Queue {
public:
  int configure(int fd, bool buffered, std::size_t max_outstanding, std::size_t) override {
    return qio_configure(fd, 1, buffered, max_outstanding == 0 ? -1 : static_cast<int>(max_outstanding));
  }
  int write(int fd, const char* data, std::size_t size, void* tag) override {
    return qio_write(fd, data, static_cast<int>(size), tag ? c_write_done : nullptr, tag);
  }
  int read(int fd, char* buffer, std::size_t size, void* tag) override {
    return qio_read(fd, buffer, static_cast<int>(size), c_read_done, tag);
  }
  std::size_t pending(int fd) override { return static_cast<std::size_t>(qio_pendc(fd)); }
  int prune(int fd) override { return qio_prune(fd); }
  int terminate(int fd) override { return qio_termc(fd); }
  int idle_error(int fd) override { return qio_wait(fd, 0); }
};

class EngineQueue final : public Queue {
public:
  explicit EngineQueue(qio::Engine& engine) : engine_(engine) {}
  int configure(int fd, bool buffered, std::size_t max_outstanding,
                std::size_t max_queued_bytes) override {
    qio::ChannelOptions options;
    options.buffered = buffered;
    options.max_outstanding = max_outstanding == 0 ? qio::unlimited : max_outstanding;
    options.max_queued_bytes = max_queued_bytes;
    return engine_.configure(fd, options).value();
  }
  int write(int fd, const char* data, std::size_t size, void* tag) override {
    const qio::Callback callback = tag ? qio::Callback{engine_write_done, tag} : qio::Callback{};
    return engine_.write(fd, {data, size}, callback).value();
  }
  int read(int fd, char* buffer, std::size_t size, void* tag) override {
    return engine_.read(fd, {buffer, size}, qio::Callback{engine_read_done, tag}).value();
  }
  std::size_t pending(int fd) override { return engine_.pending(fd); }
  int prune(int fd) override { return engine_.prune(fd).value(); }
  int terminate(int fd) override { return engine_.terminate(fd).value(); }
  int idle_error(int fd) override { return engine_.wait(fd, 0).value(); }

private:
  qio::Engine& engine_;
};

} // namespace

std::unique_ptr<Queue> make_c_api_queue() { return std::make_unique<CApiQueue>(); }
std::unique_ptr<Queue> make_engine_queue(qio::Engine& engine) {
  return std::make_unique<EngineQueue>(engine);
}

RawSession::RawSession(std::uint32_t id, World& world, Queue& queue, int sender_fd,
                       int receiver_fd, const RawPlan& plan, Clock::time_point end_at)
    : Session(id, world, sender_fd, receiver_fd, plan.ending, end_at), queue_(queue),
      plan_(plan), ledger_(id, world.figures), frames_(id), buffered_(plan.buffered) {
  registry().sessions[id] = this;
  registry().figures = &world.figures;
  const Clock::time_point now = Clock::now();
  next_prune_ = now + world.random.exponential_ms(1500.0);
  next_reconfigure_ = now + world.random.exponential_ms(2000.0);
  configure_sender();
  if (plan_.qio_reads) {
    read_buffer_.resize(largest_read);
    expect_success(queue_.configure(receiver_fd_, true, 0, qio::unlimited));
  }
}

RawSession::~RawSession() { registry().sessions.erase(id_); }

void RawSession::expect_success(int error) {
  world_.figures.unexpected_errors += error != 0;
}

// Limits low enough that a paused reader makes writes meet EAGAIN.
void RawSession::configure_sender() {
  static constexpr std::size_t outstanding_limits[] = {0, 4, 32, 256};
  static constexpr std::size_t byte_limits[] = {qio::unlimited, 300 * 1024, 2 << 20};
  expect_success(queue_.configure(sender_fd_, buffered_,
                                  outstanding_limits[world_.random.between(0, 3)],
                                  byte_limits[world_.random.between(0, 2)]));
}

// The loop has just flushed: the pending count now tells which writes
// without an AST completed.
void RawSession::service(Clock::time_point now) {
  if (sender_ != Sender::closed)
    ledger_.settle(queue_.pending(sender_fd_));
  serve_receiver(now);
  serve_sender(now);
}

void RawSession::begin_drain() {
  pauses_.stop();
  receiver_wants_input_ = true;
  if (sender_ == Sender::open)
    sender_ = Sender::draining;
}

void RawSession::abandon() {
  if (sender_ != Sender::closed)
    terminate_sender();
  if (receiver_fd_ >= 0)
    end_receiver(true);
}

// ---- sending ---------------------------------------------------------------------

void RawSession::serve_sender(Clock::time_point now) {
  if (sender_ == Sender::closed)
    return;
  if (ledger_.write_error() != 0 || refused_with_ != 0) {
    disconnected_ = true; // the peer hung up, or a reset (maybe injected)
    terminate_sender();
    return;
  }
  if (sender_ == Sender::open) {
    const bool due = now >= end_at_;
    if (due && ending_ == Ending::graceful) {
      sender_ = Sender::draining;
    } else if (due && ending_ == Ending::sender_terminates &&
               (!plan_.terminate_from_ast || now >= end_at_ + std::chrono::seconds(1))) {
      ++world_.figures.terminations; // mid-stream, whatever is pending
      terminate_sender();
      return;
    } else {
      maybe_prune(now);
      maybe_reconfigure(now);
      produce();
    }
  }
  if (sender_ == Sender::draining)
    finish_draining();
}

// Queues messages until the backlog is 1 MiB or a limit refuses one.
void RawSession::produce() {
  for (int count = 0; count < 8 && ledger_.outstanding_bytes() < backlog_limit; ++count) {
    const std::uint32_t request = ledger_.next_request();
    const std::size_t size = header_size + world_.random.payload_size();
    std::unique_ptr<char[]> caller_bytes;
    char* bytes = world_.scratch.data();
    if (!buffered_) {
      caller_bytes = std::make_unique_for_overwrite<char[]>(size);
      bytes = caller_bytes.get();
    }
    build_message(id_, request, size - header_size, bytes);
    if (!queue_write(bytes, size, std::move(caller_bytes)))
      return;
  }
}

// Queues one write, with an AST or not as the plan's share says, and
// enters it in the ledger. A refusal is counted (EAGAIN: a limit) or kept
// (anything else: the sticky error of a broken connection).
bool RawSession::queue_write(const char* bytes, std::size_t size,
                             std::unique_ptr<char[]> caller_bytes) {
  const bool with_ast = world_.random.chance(plan_.ast_share);
  void* const tag = with_ast ? make_tag(id_, ledger_.next_request()) : nullptr;
  const int error = queue_.write(sender_fd_, bytes, size, tag);
  if (error == EAGAIN)
    ++world_.figures.refusals;
  else if (error != 0)
    refused_with_ = error;
  else
    ledger_.queued(size, with_ast, std::move(caller_bytes));
  return error == 0;
}

// While the reader is paused, now and then: drop what has not started.
void RawSession::maybe_prune(Clock::time_point now) {
  if (now < next_prune_)
    return;
  next_prune_ = now + world_.random.exponential_ms(1500.0);
  if (receiver_wants_input_ || ledger_.outstanding() < 2)
    return;
  ledger_.settle(queue_.pending(sender_fd_));
  ledger_.begin_prune();
  expect_success(queue_.prune(sender_fd_));
  ledger_.end_prune(queue_.pending(sender_fd_));
  ++world_.figures.prunes;
}

// Now and then, with requests pending: switch buffering and limits. An
// empty write first asks for the sticky error (configure would clear it,
// and the ledger could not tell which silent writes it had failed).
void RawSession::maybe_reconfigure(Clock::time_point now) {
  if (now < next_reconfigure_)
    return;
  next_reconfigure_ = now + world_.random.exponential_ms(2000.0);
  if (ledger_.outstanding() == 0)
    return;
  static const char nothing[1] = {};
  if (!queue_write(nothing, 0, nullptr))
    return;
  buffered_ = world_.random.chance(0.5);
  configure_sender();
  ++world_.figures.reconfigures;
}

void RawSession::terminate_sender() {
  ledger_.settle(queue_.pending(sender_fd_));
  expect_success(queue_.terminate(sender_fd_));
  ledger_.end_terminate();
  close_sender();
  sender_ = Sender::closed;
}

// Draining ends once nothing is pending: cleanly if no write failed.
void RawSession::finish_draining() {
  if (ledger_.outstanding() > 0)
    return;
  if (queue_.idle_error(sender_fd_) == 0) {
    ledger_.ended_cleanly();
    ++world_.figures.graceful_ends;
  } else {
    disconnected_ = true;
  }
  terminate_sender();
}

void RawSession::on_write_done(std::uint32_t request, const Completed& done) {
  ledger_.on_completion(request, done, sender_fd_);
  // sender_terminates from an AST: qio_termc / terminate on the channel
  // whose flush is running, as soon as a write succeeds after the due time.
  if (ending_ != Ending::sender_terminates || !plan_.terminate_from_ast ||
      sender_ != Sender::open || done.error != 0 || world_.draining || Clock::now() < end_at_)
    return;
  ledger_.complete_through(request); // all before it completed first
  expect_success(queue_.terminate(sender_fd_));
  ledger_.end_terminate();
  close_sender();
  sender_ = Sender::closed;
  ++world_.figures.terminations;
  ++world_.figures.terminations_in_ast;
}

// ---- receiving -------------------------------------------------------------------

void RawSession::serve_receiver(Clock::time_point now) {
  if (receiver_fd_ < 0)
    return;
  if (read_end_) {
    saw_end_ = true;
    end_receiver(false);
  } else if (read_failed_) {
    disconnected_ = true;
    end_receiver(false);
  } else if (ending_ == Ending::receiver_hangs_up && now >= end_at_ && !world_.draining) {
    disconnected_ = true;
    end_receiver(world_.random.chance(0.5));
  } else if (!receiver_paused(now)) {
    if (!plan_.qio_reads)
      read_plain();
    else if (!read_queued_)
      queue_read();
  }
}

void RawSession::read_plain() {
  for (std::size_t total = 0; total < plain_read_budget;) {
    const ssize_t count =
        ::recv(receiver_fd_, world_.inbox.data(), world_.inbox.size(), MSG_DONTWAIT);
    if (count > 0) {
      frames_.consume(world_.inbox.data(), static_cast<std::size_t>(count));
      total += static_cast<std::size_t>(count);
    } else if (count == 0) {
      saw_end_ = true;
      end_receiver(false);
      return;
    } else if (errno == EAGAIN) {
      return;
    } else if (errno != EINTR) {
      ++world_.figures.unexpected_errors;
      end_receiver(false);
      return;
    }
  }
}

void RawSession::queue_read() {
  const std::size_t size = world_.random.between(1, largest_read);
  const int error = queue_.read(receiver_fd_, read_buffer_.data(), size,
                                make_tag(id_, ++read_serial_));
  expect_success(error);
  if (error == 0) {
    read_queued_ = true;
    read_size_ = size;
    ++reads_queued_;
  }
}

void RawSession::on_read_done(std::uint32_t serial, const Completed& done) {
  if (!read_queued_ || serial != read_serial_) {
    ++world_.figures.asts_doubled;
    return;
  }
  read_queued_ = false;
  ++world_.figures.asts_received;
  if (done.channel != receiver_fd_ || done.operation != QIO_READ ||
      done.buffer != read_buffer_.data() || done.length > read_size_)
    ++world_.figures.asts_misreported;
  if (done.error == 0 && done.length > 0) {
    ++world_.figures.reads_completed;
    frames_.consume(done.buffer, done.length);
  } else if (done.error == 0) {
    read_end_ = true;
  } else if (done.error != ECANCELED) {
    read_failed_ = true; // an (injected) reset: this reader hangs up
  }
}

// A receiver that read through qio removes its channel first: a pending
// read is cancelled, and the number is free for the next connection.
void RawSession::end_receiver(bool abort) {
  if (plan_.qio_reads)
    expect_success(queue_.terminate(receiver_fd_));
  close_receiver(abort);
}

void RawSession::reconcile() {
  Figures& figures = world_.figures;
  ledger_.reconcile(frames_, saw_end_);
  figures.duplicated += frames_.duplicated;
  figures.reordered += frames_.reordered;
  figures.corrupted += frames_.corrupted;
  figures.asts_expected += reads_queued_;
  figures.asts_missing += read_queued_;
  figures.disconnects_survived += disconnected_;
}

} // namespace soak
