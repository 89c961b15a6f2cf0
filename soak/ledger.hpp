// SPDX-License-Identifier: MIT
// ledger.hpp - what a sender queued, what its ASTs said, and the check
// against what the receiving end saw.
//
// Every write request gets a number, its message's sequence number. The
// ledger keeps the requests not yet known to be complete in queue order
// ("outstanding"). Requests with an AST learn their outcome from it; those
// without one are known complete when the engine's pending count for the
// channel drops below the number outstanding (completions come in request
// order), and cancelled when a prune or terminate removes them.
//
// What "lost" means (docs/reliability.md): a message is reported sent if
// its AST said so (error 0, full length), or if it had no AST, completed,
// and a later message's AST reported success or the sender ended cleanly
// (nothing pending, no write error): bytes go out in order, so those went
// too. A message cancelled or failed, with an AST saying so, is never lost:
// its AST reported the bytes that went (the receiver must have exactly
// those). Lost = reported sent but not received whole, where the receiving
// end kept reading: to the end of the stream, or to a later message. A
// receiver that hangs up gives up what was in flight; that is not loss.
#ifndef QIO_SOAK_LEDGER_HPP
#define QIO_SOAK_LEDGER_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t, std::int64_t
#include <deque>   // std::deque, the outstanding requests
#include <memory>  // std::unique_ptr, an unbuffered write's bytes
#include <vector>  // std::vector, every request

#include "figures.hpp"
#include "wire.hpp"

namespace soak {

// An AST argument: a session number and a request number in one pointer,
// so an AST that arrives late or twice is recognised without touching
// freed memory.
void* make_tag(std::uint32_t session, std::uint32_t request) noexcept;
std::uint32_t tag_session(void* tag) noexcept;
std::uint32_t tag_request(void* tag) noexcept;

enum class Outcome : std::uint8_t { pending, ok, failed, cancelled, completed_silently };

// One completion as either API reports it.
struct Completed {
  int error = 0;
  int channel = -1;
  int operation = 0; // QIO_READ / QIO_WRITE values
  const char* buffer = nullptr;
  std::size_t length = 0;
};

class SenderLedger {
public:
  SenderLedger(std::uint32_t session, Figures& figures) : session_(session), figures_(figures) {}

  // The number the next request will get.
  std::uint32_t next_request() const noexcept {
    return static_cast<std::uint32_t>(requests_.size());
  }
  // A request was accepted: `size` bytes (0 for an empty probe write).
  // `caller_bytes` is an unbuffered write's buffer, kept until it is done.
  void queued(std::size_t size, bool with_ast, std::unique_ptr<char[]> caller_bytes);
  // Its AST. `channel` is the descriptor it was queued on.
  void on_completion(std::uint32_t request, const Completed& done, int channel);

  // After a flush, with the engine's pending count for the channel.
  void settle(std::size_t pending);
  // In an AST for `request`: everything queued before it is complete.
  void complete_through(std::uint32_t request);
  // Bracket a prune (after a settle); `pending` is the count after it.
  void begin_prune() noexcept { prune_watermark_ = last_ast_; }
  void end_prune(std::size_t pending);
  // After terminate: everything outstanding was cancelled.
  void end_terminate();
  // The sender stopped with nothing pending and no write error.
  void ended_cleanly() noexcept { clean_end_ = true; }

  std::size_t outstanding() const noexcept { return outstanding_.size(); }
  std::size_t outstanding_bytes() const noexcept { return outstanding_bytes_; }
  // The first hard write error an AST reported (not ECANCELED), or 0.
  int write_error() const noexcept { return write_error_; }

  // Once the sender is done and the receiver has stopped: counts loss and
  // ASTs that never came. `saw_end`: the receiver read to end of stream.
  void reconcile(const FrameReceiver& receiver, bool saw_end);

private:
  struct Request {
    std::uint32_t size = 0;
    std::uint32_t reported = 0; // the length its AST reported
    bool with_ast = false;
    std::uint8_t ast_calls = 0;
    Outcome outcome = Outcome::pending;
    std::unique_ptr<char[]> caller_bytes;
  };

  void check_completion(std::uint32_t request, const Completed& done, int channel);
  void retire_front(Outcome silent_outcome);
  bool reported_sent(std::uint32_t request, std::int64_t frontier) const noexcept;
  void count_outcome(const Request& request);
  std::int64_t cut_message(const FrameReceiver& receiver) const noexcept;

  std::uint32_t session_;
  Figures& figures_;
  std::vector<Request> requests_;
  std::deque<std::uint32_t> outstanding_;
  std::size_t outstanding_bytes_ = 0;
  std::int64_t last_ast_ = -1;        // ASTs come in request order...
  std::int64_t prune_watermark_ = -1; // ...but a kept write's after a prune's
  std::int64_t last_ok_ = -1;         // the latest request its AST said was sent
  int write_error_ = 0;
  bool clean_end_ = false;
};

} // namespace soak

#endif // QIO_SOAK_LEDGER_HPP
