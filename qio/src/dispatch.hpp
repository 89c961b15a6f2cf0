// SPDX-License-Identifier: MIT
// dispatch.hpp - the scopes every call that may run callbacks opens: the
// engine's dispatch depth (retired channels live until it returns to zero)
// and the delivery of the completions one step collected.
#ifndef QIO_SRC_DISPATCH_HPP
#define QIO_SRC_DISPATCH_HPP

#include "engine_state.hpp"

namespace qio::detail {

class EngineState::DispatchScope {
public:
  explicit DispatchScope(EngineState& engine) : engine_(engine) {
    ++engine_.dispatch_depth_;
  }
  ~DispatchScope() {
    if (--engine_.dispatch_depth_ == 0) {
      engine_.retired_.clear();
      engine_.released_storage_.clear();
      // A flush that completed a great many requests at once leaves the
      // notices' storage at that size: given back, as the channels' rings
      // are, so an idle engine holds little whatever its busiest flush.
      if (engine_.notices_.empty() && engine_.notices_.capacity() > kept_notices)
        std::vector<Notice>().swap(engine_.notices_);
    }
  }
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;

private:
  static constexpr std::size_t kept_notices = 1024;
  EngineState& engine_;
};

// Collects the notices of one step and delivers them, in order, when the
// step ends. A callback that flushes collects and delivers its own after
// the ones before it; a callback that throws leaves none behind.
class EngineState::Delivery {
public:
  explicit Delivery(EngineState& engine) noexcept
      : engine_(engine), first_(engine.notices_.size()) {}
  ~Delivery() { engine_.notices_.resize(first_); }
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  void run() {
    // By index, and copied out: a callback's own flush may grow the vector.
    for (std::size_t i = first_; i < engine_.notices_.size(); ++i) {
      const Notice notice = engine_.notices_[i];
      engine_.deliver(notice);
    }
    engine_.notices_.resize(first_);
  }

private:
  EngineState& engine_;
  std::size_t first_;
};

} // namespace qio::detail

#endif // QIO_SRC_DISPATCH_HPP
