// SPDX-License-Identifier: MIT
// reply_order.hpp - a client's replies kept in call order while some of
// them are deferred.
//
// Nothing is kept while no call is deferred: replies go straight to the
// client's queue. From the first deferred call on, every reply takes a
// place in line; a reply given while an earlier one is still deferred is
// held until everything before it has been given.
#ifndef XDR_GLUE_SRC_REPLY_ORDER_HPP
#define XDR_GLUE_SRC_REPLY_ORDER_HPP

#include <rpc/rpc.h> // xdrproc_t (libtirpc)

#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t, std::uint64_t
#include <deque>   // std::deque, the places in line
#include <memory>  // std::shared_ptr, shared with the tokens
#include <vector>  // std::vector, encoded replies

namespace xdr_glue::rpc {
class Server;
} // namespace xdr_glue::rpc

namespace xdr_glue::rpc::detail {

// A deferred call, shared by its place in line and its DeferredReply.
struct DeferredCall {
  Server* server = nullptr; // null once answered or cancelled
  bool cancelled = false;   // the client went before the answer
  int connection = -1;
  std::uint64_t place = 0;  // its place among the client's replies
  std::uint32_t xid = 0;
  xdrproc_t encode_result = nullptr;
};

class ReplyOrder {
public:
  ReplyOrder() = default;
  ~ReplyOrder() { cancel_all(); }
  ReplyOrder(const ReplyOrder&) = delete;
  ReplyOrder& operator=(const ReplyOrder&) = delete;

  // Nothing deferred and nothing held: a reply may go out at once.
  bool empty() const noexcept { return places_.empty(); }
  // Keeps a place for a call answered later.
  std::shared_ptr<DeferredCall> defer(Server& server, int connection, std::uint32_t xid,
                                      xdrproc_t encode_result);
  // A reply given while earlier ones are deferred: held in its place.
  void hold(std::vector<char> message);
  // The deferred call's reply, given: it takes its place.
  void give(DeferredCall& call, std::vector<char> message);
  // Moves the oldest reply into `message` if it is given and so due;
  // false when the line is empty or starts with a deferred call.
  bool next_due(std::vector<char>& message);
  // The client has gone: every deferred call is cancelled.
  void cancel_all() noexcept;

  std::size_t deferred_calls() const noexcept { return deferred_calls_; }
  std::size_t held_bytes() const noexcept { return held_bytes_; }
  // The heap the line takes: its places, the deferred calls' shared
  // state and the held replies, as malloc rounds them.
  std::size_t held_memory() const noexcept;

private:
  struct Place {
    std::shared_ptr<DeferredCall> deferred; // until given
    std::vector<char> message;
  };

  std::deque<Place> places_;
  std::uint64_t first_place_ = 0; // the number of places_.front()
  std::size_t deferred_calls_ = 0;
  std::size_t held_bytes_ = 0;
};

} // namespace xdr_glue::rpc::detail

#endif // XDR_GLUE_SRC_REPLY_ORDER_HPP
