// SPDX-License-Identifier: MIT
// callback.hpp - a completion callback as the engine stores it.
//
// Two machine words and no allocation: the function and its argument. The
// same storage carries a C++ Callback::Handler or a C qio_ast_fn; which one
// is recorded beside it (a flag bit in the request), so the C API can sit on
// the engine without a per-request adapter object.
#ifndef QIO_SRC_CALLBACK_HPP
#define QIO_SRC_CALLBACK_HPP

#include "qio/engine.hpp"
#include "qio/qio.h"

namespace qio::detail {

enum class CallbackAbi : bool { cpp, c };

struct StoredCallback {
  void (*function)() = nullptr;
  void* argument = nullptr;

  explicit operator bool() const noexcept { return function != nullptr; }

  static StoredCallback from(Callback callback) noexcept {
    return {reinterpret_cast<void (*)()>(callback.handler), callback.argument};
  }
  static StoredCallback from(qio_ast_fn ast, void* ast_arg) noexcept {
    return {reinterpret_cast<void (*)()>(ast), ast_arg};
  }

  void invoke(CallbackAbi abi, const Completion& completion) const {
    if (abi == CallbackAbi::c)
      reinterpret_cast<qio_ast_fn>(function)(
          completion.error.value(), completion.channel,
          static_cast<int>(completion.operation), completion.buffer,
          static_cast<int>(completion.length), argument);
    else
      reinterpret_cast<Callback::Handler>(function)(completion, argument);
  }
  // The same storage for a watermark callback (qio_water_fn or
  // WaterCallback::Handler) and an interest one (qio_interest_fn or
  // InterestHandler).
  static StoredCallback from(WaterCallback callback) noexcept {
    return {reinterpret_cast<void (*)()>(callback.handler), callback.argument};
  }
  void invoke_water(CallbackAbi abi, int channel, bool above_high, std::size_t queued) const {
    if (abi == CallbackAbi::c)
      reinterpret_cast<qio_water_fn>(function)(channel, above_high ? 1 : 0, queued, argument);
    else
      reinterpret_cast<WaterCallback::Handler>(function)(channel, above_high, queued, argument);
  }
  void invoke_interest(CallbackAbi abi, int channel, bool want_write) const {
    if (abi == CallbackAbi::c)
      reinterpret_cast<qio_interest_fn>(function)(channel, want_write ? 1 : 0, argument);
    else
      reinterpret_cast<InterestHandler>(function)(channel, want_write, argument);
  }
};

} // namespace qio::detail

#endif // QIO_SRC_CALLBACK_HPP
