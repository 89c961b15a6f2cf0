// SPDX-License-Identifier: MIT
// xdr_glue/rpc_server.hpp - an ONC RPC (RFC 5531) server over TCP whose
// replies are queued through qio, driven from the caller's select loop.
//
// The server decodes calls with libtirpc (xdr_callmsg), dispatches them to
// the (program, version, procedure) handlers registered on it, and queues
// each reply (xdr_replymsg) on the client's qio channel: a client that
// stops reading never blocks the server or its other clients. It answers
// SUCCESS, PROG_UNAVAIL, PROG_MISMATCH (with the lowest and highest
// registered versions), PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR, and
// MSG_DENIED with RPC_MISMATCH (2..2) for another RPC version, with
// AUTH_ERROR/AUTH_REJECTEDCRED for a credential flavor other than
// AUTH_NONE or AUTH_SYS, or with AUTH_ERROR/AUTH_BADCRED for an AUTH_SYS
// body that does not decode (AUTH_SYS is decoded, not verified). NULLPROC
// answers for every registered program version. A handler may answer at
// once or keep a DeferredReply and answer later. Idle clients, calls that
// never finish arriving and descriptor exhaustion are all bounded in time
// (ServerOptions). It does not register with rpcbind. Like qio::Engine, a
// Server is used from one thread at a time. docs/xdr.md has a complete
// example:
//
//   qio::Engine engine;
//   xdr_glue::rpc::Server server(engine);
//   server.add_procedure<char*, char*>(PROG, VERS, ECHO,
//       (xdrproc_t)xdr_wrapstring, (xdrproc_t)xdr_wrapstring,
//       [](const xdr_glue::rpc::CallInfo&, char* const& in, char*& out) {
//         out = strdup(in);       // results are released with xdr_free
//         return out != nullptr;
//       });
//   server.add_listener(listening_socket);
//   for (;;) {
//     fd_set readable, writable;
//     FD_ZERO(&readable);
//     FD_ZERO(&writable);
//     const int count = server.fill_fdsets(readable, writable);
//     const long wait = server.select_timeout(std::chrono::seconds(1)).count();
//     timeval timeout{wait / 1000, wait % 1000 * 1000};  // milliseconds
//     if (select(count, &readable, &writable, nullptr, &timeout) >= 0)
//       server.process(readable);
//     else
//       FD_ZERO(&readable);
//   }
#ifndef XDR_GLUE_RPC_SERVER_HPP
#define XDR_GLUE_RPC_SERVER_HPP

#include <rpc/rpc.h>    // rpcprog_t, xdrproc_t, ... (libtirpc)
#include <sys/select.h> // fd_set

#include <chrono>       // the clock and timeouts
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t
#include <functional>   // std::function, handlers
#include <map>          // std::map, the registry and connections
#include <memory>       // std::unique_ptr, std::shared_ptr
#include <optional>     // std::optional, closing reasons
#include <span>         // std::span, the credential
#include <string_view>  // std::string_view, the AUTH_SYS machine name
#include <system_error> // std::error_code
#include <type_traits>  // std::is_trivially_default_constructible_v
#include <vector>       // std::vector, listening descriptors

#include "qio/engine.hpp"
#include "xdr_glue/export.h"           // XDR_GLUE_EXPORT, what libxdr_glue exports
#include "xdr_glue/record_assembler.hpp" // default_max_record

namespace xdr_glue::rpc {

namespace detail {
struct DeferredCall;
} // namespace detail

// An AUTH_SYS credential body (RFC 5531 appendix A), decoded: what the
// client says about itself, not verified.
struct SysCredential {
  std::uint32_t stamp = 0;
  std::string_view machine_name; // at most 255 bytes
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::span<const std::uint32_t> groups; // at most 16
};

// What a handler learns about the call it answers. Valid during the call:
// a handler that defers its reply copies what it needs.
struct CallInfo {
  std::uint32_t xid = 0;
  rpcprog_t program = 0;
  rpcvers_t version = 0;
  rpcproc_t procedure = 0;
  // AUTH_NONE or AUTH_SYS, as the client sent it: not verified.
  enum_t credential_flavor = AUTH_NONE;
  std::span<const char> credential; // the credential's body
  int connection = -1;              // the client's descriptor
  // For AUTH_SYS, the decoded body (a body that does not decode is
  // answered AUTH_BADCRED before any handler runs); else nullptr.
  const SysCredential* sys_credential = nullptr;
};

// Fills `result` from `arguments` (both typed as the procedure's
// registration says, both zeroed before decoding) and returns true to
// answer SUCCESS, or false (or throws) to answer SYSTEM_ERR. After the
// reply is encoded, both are released with xdr_free: give the result
// memory that xdr_free may free (malloc/strdup), never memory of the
// arguments.
using Handler = std::function<bool(const CallInfo& call, void* arguments, void* result)>;

// One procedure, for the untyped add_procedure.
struct Procedure {
  xdrproc_t decode_arguments = nullptr;
  std::size_t arguments_size = 0; // bytes of the arguments object
  xdrproc_t encode_result = nullptr;
  std::size_t result_size = 0; // bytes of the result object
  Handler handler;
};

// The argument or result type of a procedure that takes or returns
// nothing; pair it with void_xdrproc().
struct Void {};

// xdr_void as an xdrproc_t. libtirpc declares xdr_void without
// parameters, so the usual (xdrproc_t)xdr_void draws -Wcast-function-type
// in C++; a detour through void (*)() is the conversion GCC accepts.
inline xdrproc_t void_xdrproc() noexcept {
  return reinterpret_cast<xdrproc_t>(reinterpret_cast<void (*)()>(&xdr_void));
}

// The server's time, for its timeouts; Server reads steady_clock
// (CLOCK_MONOTONIC) unless given another (tests give a fake one).
using Clock = std::function<std::chrono::steady_clock::time_point()>;

// How long accepting stays paused after accept() found no descriptor or
// memory left (EMFILE, ENFILE, ENOBUFS, ENOMEM), unless a client leaves
// first: the listener stays readable meanwhile, and watching it would spin.
inline constexpr std::chrono::milliseconds accept_retry_delay{500};

// What the server does with a client whose unsent replies pass
// ServerOptions::max_queued_reply_bytes.
enum class BacklogPolicy {
  // Stop reading its calls until its replies drain below the bound: TCP
  // then pushes back on the client. Ended by stall_timeout if they never do.
  pause,
  // Close it at once (ENOBUFS), as Redis does past a client's hard output
  // limit: nothing is held for a client that does not keep up.
  close,
};

struct ServerOptions {
  // Largest call record accepted; a larger one closes the connection
  // (EMSGSIZE) before its bytes are stored.
  std::size_t max_call_size = default_max_record;
  // Most clients at once. A newcomer beyond it takes the place of the
  // least recently active idle client (closed with ECONNABORTED); with no
  // idle client it is closed at once (ECONNREFUSED). Idle: no call partly
  // received, waiting or deferred, and no reply queued.
  std::size_t max_connections = 256;
  // An idle client is closed (ETIMEDOUT) after this long; 0: never.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // A call that started arriving this long ago and is still incomplete
  // closes its connection (ETIMEDOUT); 0: never. Time during which the
  // server is not reading the client (its replies backlogged) does not
  // count.
  std::chrono::milliseconds call_timeout = std::chrono::seconds(30);
  // Most deferred calls of one client not answered yet; at the bound the
  // server reads no more of its calls until one is answered.
  std::size_t max_deferred_calls = 64;
  // Memory a client's unsent replies may hold (their bytes and the
  // bookkeeping of each, RecordWriter::queued_memory) before
  // backlog_policy applies, so a client that sends calls but never reads
  // replies cannot make the server queue without bound, however small the
  // replies. Generous, so a client that writes all its calls before
  // reading any reply (24 calls of 1 MiB, say) is served whole. A single
  // larger reply is still queued whole.
  std::size_t max_queued_reply_bytes = 64 * 1024 * 1024;
  // What happens to a client past max_queued_reply_bytes.
  BacklogPolicy backlog_policy = BacklogPolicy::pause;
  // Under BacklogPolicy::pause, a client whose replies stay past the bound
  // with not one byte of them sent for this long is closed (ETIMEDOUT),
  // so a paused client never waits forever; 0: never.
  std::chrono::milliseconds stall_timeout = std::chrono::seconds(60);
  // Memory all clients' unsent replies may hold together. Past it, the
  // clients holding the most are closed (ENOBUFS), largest first, until
  // the rest fit. unlimited (qio::unlimited): no bound.
  std::size_t max_total_reply_bytes = std::size_t{1024} * 1024 * 1024;
  // Largest fragment of a reply (xdrrec's buffer size).
  unsigned reply_fragment_size = 64 * 1024;
  // Where the server's time comes from; empty: steady_clock.
  Clock clock;
  // Called when the server closes a client's connection, with the reason:
  // {} when the client ended its stream between calls and every reply was
  // sent; EMSGSIZE, EPROTO, EPIPE (stream ended inside a call) or EBADMSG
  // (a record that is not an RPC call) for bad input; ETIMEDOUT when idle
  // too long, inside a call too long or stalled past its backlog bound too
  // long; ENOBUFS past max_queued_reply_bytes under BacklogPolicy::close,
  // or when closed to bring all clients under max_total_reply_bytes;
  // ECONNABORTED when closed, idle, to
  // admit a newcomer; ECONNREFUSED or EINVAL when an accepted client could
  // not be taken on (max_connections with no idle client, a descriptor
  // select cannot watch); the write or read error (EPIPE, ECONNRESET...)
  // when the client went away. Not called by ~Server.
  std::function<void(int connection, std::error_code reason)> on_close;
  // Called when accept() starts failing for want of descriptors or memory
  // (EMFILE, ENFILE, ENOBUFS, ENOMEM), with that error, once: not again
  // until a client has been accepted since.
  std::function<void(std::error_code error)> on_accept_error;
};

// What the server has done about connections, counted since it started.
struct ServerStatistics {
  std::uint64_t accept_calls = 0;  // accept() system calls, successful or not
  std::uint64_t accept_pauses = 0; // times accepting paused (see accept_retry_delay)
  std::uint64_t refused = 0;       // newcomers closed at once (ECONNREFUSED)
  std::uint64_t reaped = 0;        // idle clients closed for a newcomer (ECONNABORTED)
  std::uint64_t idle_timeouts = 0; // idle clients closed (ETIMEDOUT)
  std::uint64_t call_timeouts = 0; // clients closed inside a call (ETIMEDOUT)
  std::uint64_t stall_timeouts = 0; // paused clients whose replies never moved (ETIMEDOUT)
  std::uint64_t backlog_closes = 0; // clients closed past their bound (ENOBUFS)
  std::uint64_t evictions = 0;      // clients closed for the total bound (ENOBUFS)
};

class Server;

// A call a handler answers later: Server::defer() gives one from inside
// the handler, and the handler returns. Answer it with reply() or fail()
// on the server's thread, from anywhere (another tick, after the
// program's own I/O): the reply is queued at once and leaves with the next
// process() or engine flush. Replies still reach each client in call
// order: replies to its later calls wait for this one. A token destroyed
// unanswered answers SYSTEM_ERR, so no client waits forever; a client that
// closes first cancels its tokens (reply() then says ECANCELED), and so
// does ~Server. Movable, not copyable.
class DeferredReply {
public:
  DeferredReply() noexcept = default;
  XDR_GLUE_EXPORT ~DeferredReply();
  XDR_GLUE_EXPORT DeferredReply(DeferredReply&& other) noexcept;
  XDR_GLUE_EXPORT DeferredReply& operator=(DeferredReply&& other) noexcept;
  DeferredReply(const DeferredReply&) = delete;
  DeferredReply& operator=(const DeferredReply&) = delete;

  // Answers SUCCESS with `result`, an object of the procedure's result
  // type (SYSTEM_ERR if it does not encode), then releases what it owns
  // with xdr_free, as after a handler. Errors: ECANCELED (the client has
  // gone; `result` is released all the same), EINVAL (an empty or already
  // answered token; `result` is left alone), ENOMEM, or the reply queue's
  // error (the client is then closed).
  XDR_GLUE_EXPORT std::error_code reply(void* result);
  // Answers SYSTEM_ERR. Errors as reply().
  XDR_GLUE_EXPORT std::error_code fail();
  // True until answered, while the client is still there.
  XDR_GLUE_EXPORT bool pending() const noexcept;

private:
  friend class Server;
  explicit DeferredReply(std::shared_ptr<detail::DeferredCall> call) noexcept;
  std::error_code answer(std::vector<char> message);
  void answer_if_pending() noexcept;

  std::shared_ptr<detail::DeferredCall> call_;
};

class Server {
public:
  // `engine` must outlive the server; the server configures its client
  // channels on it (non-blocking, unbuffered: replies are already copies).
  XDR_GLUE_EXPORT explicit Server(qio::Engine& engine, ServerOptions options = {});
  // Cancels queued replies and closes every client connection; listening
  // descriptors are left to the caller.
  XDR_GLUE_EXPORT ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a procedure. Errors: EINVAL (a null xdrproc_t or handler),
  // EEXIST (already registered).
  XDR_GLUE_EXPORT std::error_code add_procedure(rpcprog_t program, rpcvers_t version,
                                                rpcproc_t procedure, Procedure registration);

  // The typed form: Arguments and Result are the rpcgen types the two
  // xdrproc_t handle (Void for none), and `handler` is callable as
  //   bool handler(const CallInfo&, const Arguments&, Result&).
  template <class Arguments, class Result, class Function>
  std::error_code add_procedure(rpcprog_t program, rpcvers_t version, rpcproc_t procedure,
                                xdrproc_t decode_arguments, xdrproc_t encode_result,
                                Function handler);

  // Accepts clients from `listening_fd` (a listening TCP or Unix stream
  // socket, made O_NONBLOCK here) whenever process() finds it readable.
  // The descriptor stays the caller's. Errors: EBADF, EINVAL (not below
  // FD_SETSIZE), EEXIST.
  XDR_GLUE_EXPORT std::error_code add_listener(int listening_fd);

  // Serves an already connected stream socket; the server owns it from
  // now on and closes it when done. Errors (the descriptor is then left
  // to the caller): EBADF, EINVAL (not below FD_SETSIZE), EEXIST,
  // ECONNREFUSED (max_connections reached), ENOMEM.
  XDR_GLUE_EXPORT std::error_code add_connection(int connected_fd);

  // Adds to `readable` the listeners (unless accepting is paused) and the
  // clients whose calls the server will read now, and to `writable` every
  // channel of the engine with output pending. Returns the highest
  // descriptor added + 1 (the first argument of select), or 0.
  XDR_GLUE_EXPORT int fill_fdsets(fd_set& readable, fd_set& writable) const;

  // Accepts clients, reads and answers calls from the descriptors set in
  // `readable`, answers calls already read, sends queued replies, closes
  // finished, idle and timed-out connections, and ends a pause in
  // accepting that is due. Never blocks. Call it at least every
  // select_timeout(), readable descriptors or not.
  XDR_GLUE_EXPORT void process(const fd_set& readable);

  // From a handler, with the CallInfo it was given: the call is answered
  // through the returned token instead of by the handler, whose result is
  // then ignored (and the arguments are still released when it returns:
  // copy what the answer needs). Returns an empty token (pending() false)
  // outside a handler or when the call was already deferred.
  XDR_GLUE_EXPORT DeferredReply defer(const CallInfo& call);

  // Calls already read and waiting to be answered: when true, the next
  // select should not wait (give it a zero timeout).
  XDR_GLUE_EXPORT bool has_pending_calls() const noexcept;
  // How long the next select may wait for the server's sake: 0 with calls
  // waiting to be answered, else until the nearest timeout or the end of a
  // pause in accepting, at most `longest`.
  XDR_GLUE_EXPORT std::chrono::milliseconds select_timeout(std::chrono::milliseconds longest) const;
  std::size_t connection_count() const noexcept { return connections_.size(); }
  // Reply bytes queued for all clients and not yet sent.
  XDR_GLUE_EXPORT std::size_t queued_reply_bytes() const noexcept;
  // The memory those replies hold, bookkeeping included: what
  // max_total_reply_bytes bounds.
  XDR_GLUE_EXPORT std::size_t queued_reply_memory() const noexcept;
  const ServerStatistics& statistics() const noexcept { return statistics_; }

private:
  friend class DeferredReply;
  struct Connection;
  struct CallInProgress;
  using Versions = std::map<rpcvers_t, std::map<rpcproc_t, Procedure>>;
  using TimePoint = std::chrono::steady_clock::time_point;

  TimePoint now() const;
  void accept_clients(int listening_fd);
  void admit(int client);
  void pause_accepting(int error, bool newcomer_waiting);
  bool reap_idle_connection();
  void serve(Connection& connection, bool readable, TimePoint now);
  void note_activity(Connection& connection, std::uint64_t calls_before, TimePoint now);
  void answer_buffered_calls(Connection& connection);
  void answer(Connection& connection, std::vector<char>& record);
  void dispatch(Connection& connection, CallInfo& call, XDR& arguments);
  void run(Connection& connection, const CallInfo& call, const Procedure& procedure,
           XDR& arguments);
  void reply(Connection& connection, std::vector<char> message);
  std::error_code answer_deferred(detail::DeferredCall& call, std::vector<char> message);
  void abandon_deferred(const detail::DeferredCall& call) noexcept;
  void send(Connection& connection, const std::vector<char>& message);
  std::size_t reply_memory(const Connection& connection) const noexcept;
  bool backlogged(const Connection& connection) const noexcept;
  void note_backlog(Connection& connection, TimePoint now);
  std::size_t evict_largest_until_within_total();
  bool answering_calls(const Connection& connection) const noexcept;
  bool reading_calls(const Connection& connection) const noexcept;
  bool idle(const Connection& connection) const noexcept;
  std::optional<TimePoint> deadline(const Connection& connection) const;
  std::optional<std::error_code> closing_reason(const Connection& connection, TimePoint now);
  void close_connection(int fd, std::error_code reason);

  qio::Engine& engine_;
  ServerOptions options_;
  std::map<rpcprog_t, Versions> programs_;
  std::vector<int> listeners_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  CallInProgress* call_in_progress_ = nullptr; // while a handler runs
  std::optional<TimePoint> accepting_paused_until_;
  // Clients held when accept() last ran out of resources, once reported.
  std::optional<std::size_t> exhausted_with_;
  ServerStatistics statistics_;
};

template <class Arguments, class Result, class Function>
std::error_code Server::add_procedure(rpcprog_t program, rpcvers_t version,
                                      rpcproc_t procedure, xdrproc_t decode_arguments,
                                      xdrproc_t encode_result, Function handler) {
  // The server zeroes the objects itself and releases them with xdr_free:
  // only plain C types, as rpcgen generates, survive that.
  static_assert(std::is_trivially_default_constructible_v<Arguments> &&
                    std::is_trivially_default_constructible_v<Result>,
                "Arguments and Result must be plain rpcgen (C) types");
  Procedure registration{
      decode_arguments, sizeof(Arguments), encode_result, sizeof(Result),
      [handler = std::move(handler)](const CallInfo& call, void* arguments, void* result) {
        return handler(call, *static_cast<const Arguments*>(arguments),
                       *static_cast<Result*>(result));
      }};
  return add_procedure(program, version, procedure, std::move(registration));
}

} // namespace xdr_glue::rpc

#endif // XDR_GLUE_RPC_SERVER_HPP
