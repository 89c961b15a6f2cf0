// SPDX-License-Identifier: MIT
// rpc_client_core.hpp - the asynchronous RPC client itself, behind both
// xdr_glue::rpc::Client (a qio::Engine of the program's) and the C API's
// xdr_qio_clnt (qio's process-wide engine): they differ only in the
// transport their record queue writes through.
//
// Calls go out through a RecordQueue, one chunk per call, tagged with the
// call's sequence number so a record that was never written can be traced
// back to its call; replies come in through a RecordReader. Pending calls
// are found by xid; their nodes come from a pool, so a steady stream of
// calls reuses the same memory.
#ifndef XDR_GLUE_SRC_RPC_CLIENT_CORE_HPP
#define XDR_GLUE_SRC_RPC_CLIENT_CORE_HPP

#include <rpc/rpc.h> // AUTH, rpc_err (libtirpc)

#include <chrono>          // std::chrono::steady_clock
#include <cstdint>         // std::uint32_t, std::uint64_t
#include <functional>      // std::function, the clock
#include <memory>          // std::shared_ptr, std::unique_ptr
#include <memory_resource> // std::pmr, pooled call nodes
#include <optional>        // std::optional, deadlines
#include <span>            // std::span, records
#include <system_error>    // std::error_code
#include <unordered_map>   // calls by xid
#include <vector>          // the deadline heap

#include "record_queue.hpp"
#include "rpc_messages.hpp"
#include "xdr_glue/record_reader.hpp"
#include "xdr_glue/rpc_client.hpp"

namespace xdr_glue::rpc::detail {

class ClientCore {
public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Throws std::bad_alloc, or std::system_error when libtirpc cannot make
  // AUTH_SYS credentials.
  ClientCore(std::unique_ptr<xdr_glue::detail::Transport> transport, int fd, rpcprog_t program,
             rpcvers_t version, const ClientOptions& options);
  // Cancels what is still pending (see cancel_all).
  ~ClientCore();
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;

  // As Client::call and Client::poll.
  std::error_code call(rpcproc_t procedure, xdrproc_t encode_arguments, const void* arguments,
                       xdrproc_t decode_result, void* result, std::chrono::milliseconds timeout,
                       ReplyHandler done);
  PollResult poll();
  // Completes every pending call with RPC_CANTRECV / ECANCELED; the client
  // counts as failed (ECANCELED) from then on.
  void cancel_all();

  std::size_t pending() const noexcept { return calls_.size(); }
  std::size_t queued_bytes() const noexcept { return queue_->queued_bytes(); }
  int fd() const noexcept { return reader_.fd(); }
  std::uint64_t unknown_replies() const noexcept { return unknown_replies_; }
  std::error_code failure() const noexcept { return failure_; }
  std::optional<TimePoint> next_deadline() const noexcept;

private:
  struct PendingCall {
    std::uint64_t sequence = 0; // tags its record and its deadline
    xdrproc_t decode_result = nullptr;
    void* result = nullptr;
    std::optional<TimePoint> deadline;
    ReplyHandler done;
  };
  struct Deadline {
    TimePoint when;
    std::uint64_t sequence = 0;
    // The heap's order: the earliest deadline on top.
    static bool later(const Deadline& left, const Deadline& right) noexcept {
      return left.when > right.when;
    }
  };
  using Calls = std::pmr::unordered_map<std::uint32_t, PendingCall>;
  struct AuthDestroyer {
    void operator()(AUTH* credentials) const noexcept { AUTH_DESTROY(credentials); }
  };

  std::uint32_t xid_of(std::uint64_t sequence) const noexcept {
    return static_cast<std::uint32_t>(first_xid_ + sequence - 1);
  }
  std::uint64_t fresh_sequence() const noexcept;
  Calls::iterator find_sequence(std::uint64_t sequence);
  PendingCall take(Calls::iterator call);
  void finish(PendingCall call, const rpc_err& status);
  std::error_code queue_call(std::uint64_t sequence, std::span<const char> message,
                             PendingCall pending);

  std::size_t complete_unsent();
  std::size_t read_replies();
  std::size_t take_reply(std::vector<char>& record);
  rpc_err decode_results(XDR& stream, DecodedReply& reply, PendingCall& call);
  std::size_t expire_timeouts();
  bool deadline_passed_or_stale(const Deadline& deadline, TimePoint now);
  void push_deadline(const Deadline& deadline) noexcept;
  void rebuild_deadlines() noexcept;
  std::size_t fail(std::error_code why, int reported_errno);

  rpcprog_t program_;
  rpcvers_t version_;
  std::shared_ptr<xdr_glue::detail::RecordQueue> queue_;
  RecordReader reader_;
  std::unique_ptr<AUTH, AuthDestroyer> credentials_;
  std::function<TimePoint()> clock_;
  std::uint64_t first_xid_;
  std::uint64_t next_sequence_ = 1; // 0 tags nothing in the record queue
  std::pmr::unsynchronized_pool_resource call_nodes_;
  Calls calls_{&call_nodes_};
  std::vector<Deadline> deadlines_; // a min-heap; entries of finished calls linger
  std::uint64_t unknown_replies_ = 0;
  std::error_code failure_;
  bool polling_ = false;
};

} // namespace xdr_glue::rpc::detail

#endif // XDR_GLUE_SRC_RPC_CLIENT_CORE_HPP
