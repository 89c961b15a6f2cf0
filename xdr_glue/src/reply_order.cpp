// SPDX-License-Identifier: MIT
// reply_order.cpp - places in line for a client's replies.
#include "reply_order.hpp"
#include "heap_footprint.hpp"

#include <utility> // std::move

namespace xdr_glue::rpc::detail {

using xdr_glue::detail::heap_footprint;

std::shared_ptr<DeferredCall> ReplyOrder::defer(Server& server, int connection,
                                                std::uint32_t xid, xdrproc_t encode_result) {
  auto call = std::make_shared<DeferredCall>();
  call->server = &server;
  call->connection = connection;
  call->place = first_place_ + places_.size();
  call->xid = xid;
  call->encode_result = encode_result;
  places_.push_back({call, {}});
  ++deferred_calls_;
  return call;
}

void ReplyOrder::hold(std::vector<char> message) {
  held_bytes_ += message.size();
  places_.push_back({nullptr, std::move(message)});
}

void ReplyOrder::give(DeferredCall& call, std::vector<char> message) {
  Place& place = places_[call.place - first_place_];
  place.deferred.reset();
  held_bytes_ += message.size();
  place.message = std::move(message);
  --deferred_calls_;
  call.server = nullptr;
}

bool ReplyOrder::next_due(std::vector<char>& message) {
  if (places_.empty() || places_.front().deferred)
    return false;
  message = std::move(places_.front().message);
  held_bytes_ -= message.size();
  places_.pop_front();
  ++first_place_;
  return true;
}

// A place is counted with a whole DeferredCall and its shared_ptr control
// block (two pointers and two counts) whether deferred or not, and each
// held reply at its allocation: a generous bound on the deque's blocks.
std::size_t ReplyOrder::held_memory() const noexcept {
  constexpr std::size_t per_place =
      sizeof(Place) + heap_footprint(sizeof(DeferredCall) + 2 * sizeof(void*) + 8);
  return held_bytes_ + places_.size() * (per_place + heap_footprint(0));
}

void ReplyOrder::cancel_all() noexcept {
  for (Place& place : places_) {
    if (place.deferred) {
      place.deferred->server = nullptr;
      place.deferred->cancelled = true;
    }
  }
  places_.clear();
  deferred_calls_ = 0;
  held_bytes_ = 0;
}

} // namespace xdr_glue::rpc::detail
