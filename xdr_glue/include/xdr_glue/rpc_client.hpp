// SPDX-License-Identifier: MIT
// xdr_glue/rpc_client.hpp - an asynchronous ONC RPC (RFC 5531) client over
// a TCP connection whose calls are queued through qio (the C++ API;
// xdr_qio_clnt.h has the C form for qio's process-wide engine).
//
// call() encodes a call as one record, queues it on the engine's channel and
// returns at once; the engine's flush sends it. poll(), called from the
// program's loop when the socket is readable and on every tick, reads the
// replies that have arrived without blocking, matches each to its call by
// xid (replies may come in any order), decodes the results and runs the
// call's completion; it also expires timeouts. Every accepted call
// completes exactly once, only from poll() or the destructor, never from
// inside call(). A server that stops reading never blocks the client: its
// calls wait in qio. Like qio::Engine, a Client is used from one thread.
//
//   qio::Engine engine;
//   engine.configure(socket, {.buffered = false});
//   xdr_glue::rpc::Client client(engine, socket, CALENDAR_PROG, CALENDAR_V1);
//   day when{...};
//   entry found{};                           // results are decoded into it
//   client.call(LOOKUP, xdr_day, when, xdr_entry, found, 5000ms,
//               [&](std::error_code error, const rpc_err&) {
//                 if (!error) show(found);
//                 xdr_free((xdrproc_t)xdr_entry, &found);
//               });
//   for (;;) {                               // the program's loop
//     ... select: client.fd() readable, engine.fill_fdset(writable) ...
//     engine.flush();
//     client.poll();
//   }
#ifndef XDR_GLUE_RPC_CLIENT_HPP
#define XDR_GLUE_RPC_CLIENT_HPP

#include <rpc/rpc.h> // rpcprog_t, xdrproc_t, rpc_err, clnt_stat (libtirpc)

#include <chrono>       // std::chrono, timeouts and the clock
#include <cstddef>      // std::size_t, std::max_align_t
#include <cstdint>      // std::uint32_t, std::uint64_t
#include <functional>   // std::function, the clock seam
#include <memory>       // std::unique_ptr, the client's state
#include <new>          // ::operator new, handlers too large to store inline
#include <optional>     // std::optional, first xid and deadlines
#include <system_error> // std::error_code
#include <type_traits>  // std::decay_t, std::type_identity_t, ...
#include <utility>      // std::forward, std::move

#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports
#include "qio/engine.hpp"
#include "xdr_glue/record_assembler.hpp" // default_max_record

namespace xdr_glue::rpc {

// The category of RPC statuses: an error_code's value is a clnt_stat and
// its message is libtirpc's clnt_sperrno text. RPC_SUCCESS (0) is no error.
XDR_GLUE_EXPORT const std::error_category& rpc_category() noexcept;
inline std::error_code rpc_error(clnt_stat status) noexcept {
  return {static_cast<int>(status), rpc_category()};
}

// A call's completion: error is rpc_error(status.re_status); status is
// libtirpc's form with its details (re_errno for RPC_CANTSEND and
// RPC_CANTRECV, re_vers for the mismatches, re_why for RPC_AUTHERROR), so
// clnt_sperrno and clnt_sperror work on it.
//
// A ReplyHandler holds any callable of that signature. One that fits in
// four pointers and moves without throwing (a lambda capturing a few
// references or pointers, a function pointer) is stored inside the call's
// own bookkeeping, with no allocation of its own; larger ones are
// allocated once when the call is made.
class ReplyHandler {
public:
  ReplyHandler() noexcept = default;
  template <class Function, class = std::enable_if_t<
                                !std::is_same_v<std::decay_t<Function>, ReplyHandler>>>
  ReplyHandler(Function&& function) { // implicit, as std::function's
    emplace<std::decay_t<Function>>(std::forward<Function>(function));
  }
  ReplyHandler(ReplyHandler&& other) noexcept { take(other); }
  ReplyHandler& operator=(ReplyHandler&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~ReplyHandler() { reset(); }

  explicit operator bool() const noexcept { return operations_ != nullptr; }
  void operator()(std::error_code error, const rpc_err& status) {
    operations_->invoke(storage_, error, status);
  }

private:
  static constexpr std::size_t inline_size = 4 * sizeof(void*);
  struct Operations {
    void (*invoke)(void* storage, std::error_code error, const rpc_err& status);
    void (*move)(void* from, void* to) noexcept; // and destroys `from`
    void (*destroy)(void* storage) noexcept;
  };
  template <class Function>
  static constexpr bool stored_inline = sizeof(Function) <= inline_size &&
                                        alignof(Function) <= alignof(std::max_align_t) &&
                                        std::is_nothrow_move_constructible_v<Function>;

  template <class Function, class Argument> void emplace(Argument&& function);
  void take(ReplyHandler& other) noexcept {
    operations_ = other.operations_;
    if (operations_ != nullptr)
      operations_->move(other.storage_, storage_);
    other.operations_ = nullptr;
  }
  void reset() noexcept {
    if (operations_ != nullptr)
      operations_->destroy(storage_);
    operations_ = nullptr;
  }

  const Operations* operations_ = nullptr;
  alignas(std::max_align_t) unsigned char storage_[inline_size];
};

// A timeout meaning "wait for the reply as long as the connection lasts".
inline constexpr std::chrono::milliseconds no_timeout{-1};

struct ClientOptions {
  // The largest reply record accepted, in record bytes (fragments summed,
  // marks not counted; exactly max_reply is accepted; 0: 1 MiB). Checked
  // from each record mark before the fragment's bytes are stored, so a
  // hostile server makes the client hold at most this much per reply.
  std::size_t max_reply = default_max_record;
  // The credentials every call carries: AUTH_NONE, or AUTH_SYS with the
  // process's user, groups and host name (libtirpc's
  // authunix_create_default), as servers that check the caller expect.
  enum class Credentials { none, unix_user };
  Credentials credentials = Credentials::none;
  // The clock timeouts are measured on; empty: std::chrono::steady_clock
  // (CLOCK_MONOTONIC). Tests pass a fake one and move it themselves.
  std::function<std::chrono::steady_clock::time_point()> clock;
  // The first call's xid (later calls count up from it); empty: one drawn
  // from the time, the process id and a counter, so that a new client on
  // the same server does not reuse the xids of the last one.
  std::optional<std::uint32_t> first_xid;
};

// What one poll() did.
struct PollResult {
  std::size_t completed = 0; // calls it completed
  // {} while the connection works; once it has failed, why: EPIPE (the
  // server ended it), EPROTO or EMSGSIZE (a malformed or oversize reply),
  // the read error (ECONNRESET...), or ECANCELED (the client is being
  // destroyed). Every pending call has then completed.
  std::error_code failure;
};

namespace detail {
class ClientCore;
} // namespace detail

class Client {
public:
  // A client of (program, version) over `fd`, a connected stream socket
  // that is a channel of `engine`; the engine must outlive the client.
  // Configure the channel without a limit on outstanding requests, or
  // expect EAGAIN from call() when a limit is reached. The client neither
  // owns nor closes the descriptor. Throws std::system_error with EBADF
  // (not a channel of `engine`) or std::bad_alloc.
  XDR_GLUE_EXPORT Client(qio::Engine& engine, int fd, rpcprog_t program, rpcvers_t version,
                         ClientOptions options = {});
  // Completes every pending call with RPC_CANTRECV and re_errno ECANCELED,
  // replies already received but not yet taken by poll() included. Calls
  // already queued on the channel stay there (the engine still sends them;
  // remove the channel to drop them). Handlers run from here must not
  // throw.
  XDR_GLUE_EXPORT ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Encodes a call of `procedure` with a fresh xid as one record and
  // queues it; never blocks and never runs `done`. `result` (typed as
  // `decode_result` expects, and best zeroed) must stay valid until `done`
  // runs: the reply's results are decoded into it, and after RPC_SUCCESS
  // the caller releases them with xdr_free. `timeout` no_timeout: none;
  // otherwise measured from now on the client's clock (longer than 100
  // years counts as 100 years). Errors: EINVAL (a
  // null procedure or handler, a negative timeout other than no_timeout,
  // or arguments that do not encode or exceed 2 GiB), EAGAIN (a limit of
  // the channel refused the record: nothing was queued), ENOMEM, EBADF
  // (the channel was removed), the channel's sticky write error, EPIPE
  // (the connection has failed).
  XDR_GLUE_EXPORT std::error_code call(rpcproc_t procedure, xdrproc_t encode_arguments,
                                       const void* arguments, xdrproc_t decode_result,
                                       void* result, std::chrono::milliseconds timeout,
                                       ReplyHandler done);

  // The typed form, for rpcgen's functions: the argument and result types
  // are deduced from them, so a mismatch does not compile.
  //   client.call(ECHO, xdr_wrapstring, text, xdr_wrapstring, echoed, no_timeout, done);
  template <class Arguments, class Result>
  std::error_code call(rpcproc_t procedure, bool_t (*encode_arguments)(XDR*, Arguments*),
                       const Arguments& arguments, bool_t (*decode_result)(XDR*, Result*),
                       Result& result, std::chrono::milliseconds timeout, ReplyHandler done) {
    return call(procedure, reinterpret_cast<xdrproc_t>(encode_arguments), &arguments,
                reinterpret_cast<xdrproc_t>(decode_result), &result, timeout, std::move(done));
  }

  // The typed form with the xdrproc_t given, for libtirpc's own routines
  // and hand-written ones; the types are named, never deduced:
  //   client.call<rpcb, char*>(RPCBPROC_GETADDR, (xdrproc_t)xdr_rpcb, query,
  //                            (xdrproc_t)xdr_wrapstring, address, 5000ms, done);
  template <class Arguments, class Result>
  std::error_code call(rpcproc_t procedure, xdrproc_t encode_arguments,
                       const std::type_identity_t<Arguments>& arguments,
                       xdrproc_t decode_result, std::type_identity_t<Result>& result,
                       std::chrono::milliseconds timeout, ReplyHandler done) {
    return call(procedure, encode_arguments, static_cast<const void*>(&arguments), decode_result,
                static_cast<void*>(&result), timeout, std::move(done));
  }

  // Reads what the socket holds without blocking, completes the calls whose
  // replies are whole, completes calls whose records could not be written
  // (RPC_CANTSEND), and expires timeouts. Call it when fd() is readable
  // and on every tick. A reply whose xid matches no pending call (a late
  // answer to a timed-out call, say) is dropped and counted. Once the
  // connection fails (end of file, a read error, a malformed or oversize
  // reply) every pending call completes with RPC_CANTRECV and every later
  // poll reports the failure. Called from a completion it does nothing.
  XDR_GLUE_EXPORT PollResult poll();

  // Calls accepted and not yet completed.
  XDR_GLUE_EXPORT std::size_t pending() const noexcept;
  // Bytes of calls queued on the channel and not yet written.
  XDR_GLUE_EXPORT std::size_t queued_bytes() const noexcept;
  // The connection's descriptor, to watch for readability.
  XDR_GLUE_EXPORT int fd() const noexcept;
  // Replies dropped because their xid matched no pending call.
  XDR_GLUE_EXPORT std::uint64_t unknown_replies() const noexcept;
  // {} while the connection works, else why it failed (see PollResult).
  XDR_GLUE_EXPORT std::error_code failure() const noexcept;
  // The earliest time at which a pending call may time out, or nothing:
  // a select loop's timeout need not be longer. It may be earlier than any
  // pending call's deadline (a call that has completed since), never later.
  XDR_GLUE_EXPORT std::optional<std::chrono::steady_clock::time_point> next_deadline() const noexcept;

private:
  std::unique_ptr<detail::ClientCore> core_;
};

// ---- ReplyHandler's storage ----------------------------------------------------

template <class Function, class Argument> void ReplyHandler::emplace(Argument&& function) {
  if constexpr (stored_inline<Function>) {
    static constexpr Operations operations{
        [](void* storage, std::error_code error, const rpc_err& status) {
          (*static_cast<Function*>(storage))(error, status);
        },
        [](void* from, void* to) noexcept {
          ::new (to) Function(std::move(*static_cast<Function*>(from)));
          static_cast<Function*>(from)->~Function();
        },
        [](void* storage) noexcept { static_cast<Function*>(storage)->~Function(); }};
    ::new (static_cast<void*>(storage_)) Function(std::forward<Argument>(function));
    operations_ = &operations;
  } else {
    static constexpr Operations operations{
        [](void* storage, std::error_code error, const rpc_err& status) {
          (**static_cast<Function**>(storage))(error, status);
        },
        [](void* from, void* to) noexcept {
          ::new (to) Function*(*static_cast<Function**>(from));
        },
        [](void* storage) noexcept { delete *static_cast<Function**>(storage); }};
    ::new (static_cast<void*>(storage_)) Function*(new Function(std::forward<Argument>(function)));
    operations_ = &operations;
  }
}

} // namespace xdr_glue::rpc

#endif // XDR_GLUE_RPC_CLIENT_HPP
