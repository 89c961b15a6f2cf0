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
// MSG_DENIED with RPC_MISMATCH (2..2) for another RPC version or with
// AUTH_ERROR/AUTH_REJECTEDCRED for a credential flavor other than
// AUTH_NONE or AUTH_SYS (which are accepted unverified). NULLPROC answers
// for every registered program version. It does not register with
// rpcbind. Like qio::Engine, a Server is used from one thread at a time.
// docs/xdr.md has a complete example:
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
//     timeval timeout{server.has_pending_calls() ? 0 : 1, 0};
//     if (select(count, &readable, &writable, nullptr, &timeout) >= 0)
//       server.process(readable);
//     else
//       FD_ZERO(&readable);
//   }
#ifndef XDR_GLUE_RPC_SERVER_HPP
#define XDR_GLUE_RPC_SERVER_HPP

#include <rpc/rpc.h>    // rpcprog_t, xdrproc_t, ... (libtirpc)
#include <sys/select.h> // fd_set

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t
#include <functional>   // std::function, handlers
#include <map>          // std::map, the registry and connections
#include <memory>       // std::unique_ptr
#include <optional>     // std::optional, closing reasons
#include <span>         // std::span, the credential
#include <system_error> // std::error_code
#include <type_traits>  // std::is_trivially_default_constructible_v
#include <vector>       // std::vector, listening descriptors

#include "qio/engine.hpp"
#include "xdr_glue/export.h"           // XDR_GLUE_EXPORT, what libxdr_glue exports
#include "xdr_glue/record_assembler.hpp" // default_max_record

namespace xdr_glue::rpc {

// What a handler learns about the call it answers. Valid during the call.
struct CallInfo {
  std::uint32_t xid = 0;
  rpcprog_t program = 0;
  rpcvers_t version = 0;
  rpcproc_t procedure = 0;
  // AUTH_NONE or AUTH_SYS, as the client sent it: not verified.
  enum_t credential_flavor = AUTH_NONE;
  std::span<const char> credential; // the credential's body
  int connection = -1;              // the client's descriptor
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

struct ServerOptions {
  // Largest call record accepted; a larger one closes the connection
  // (EMSGSIZE) before its bytes are stored.
  std::size_t max_call_size = default_max_record;
  // Further clients are accepted and closed at once (ECONNREFUSED).
  std::size_t max_connections = 256;
  // While more reply bytes than this wait in a client's queue, the server
  // reads no more calls from that client, so a client that sends calls but
  // never reads replies cannot make the server queue without bound. A
  // single larger reply is still sent whole.
  std::size_t max_queued_reply_bytes = 4 * 1024 * 1024;
  // Largest fragment of a reply (xdrrec's buffer size).
  unsigned reply_fragment_size = 64 * 1024;
  // Called when the server closes a client's connection, with the reason:
  // {} when the client ended its stream between calls and every reply was
  // sent; EMSGSIZE, EPROTO, EPIPE (stream ended inside a call) or EBADMSG
  // (a record that is not an RPC call) for bad input; ECONNREFUSED or
  // EINVAL when an accepted client could not be taken on (max_connections,
  // a descriptor select cannot watch); the write or read error (EPIPE,
  // ECONNRESET...) when the client went away. Not called by ~Server.
  std::function<void(int connection, std::error_code reason)> on_close;
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

  // Adds to `readable` the listeners and the clients whose calls the
  // server will read now, and to `writable` every channel of the engine
  // with output pending. Returns the highest descriptor added + 1 (the
  // first argument of select), or 0.
  XDR_GLUE_EXPORT int fill_fdsets(fd_set& readable, fd_set& writable) const;

  // Accepts clients, reads and answers calls from the descriptors set in
  // `readable`, answers calls already read, sends queued replies, and
  // closes finished connections. Never blocks.
  XDR_GLUE_EXPORT void process(const fd_set& readable);

  // Calls already read and waiting to be answered: when true, the next
  // select should not wait (give it a zero timeout).
  XDR_GLUE_EXPORT bool has_pending_calls() const noexcept;
  std::size_t connection_count() const noexcept { return connections_.size(); }
  // Reply bytes queued for all clients and not yet sent.
  XDR_GLUE_EXPORT std::size_t queued_reply_bytes() const noexcept;

private:
  struct Connection;
  using Versions = std::map<rpcvers_t, std::map<rpcproc_t, Procedure>>;

  void accept_clients(int listening_fd);
  void serve(Connection& connection, bool readable);
  void answer_buffered_calls(Connection& connection);
  void answer(Connection& connection, std::vector<char>& record);
  void dispatch(Connection& connection, const CallInfo& call, XDR& arguments);
  void run(Connection& connection, const CallInfo& call, const Procedure& procedure,
           XDR& arguments);
  void reply(Connection& connection, const std::vector<char>& message);
  bool backlogged(const Connection& connection) const noexcept;
  bool reading_calls(const Connection& connection) const noexcept;
  std::optional<std::error_code> closing_reason(const Connection& connection) const;
  void close_connection(int fd, std::error_code reason);

  qio::Engine& engine_;
  ServerOptions options_;
  std::map<rpcprog_t, Versions> programs_;
  std::vector<int> listeners_;
  std::map<int, std::unique_ptr<Connection>> connections_;
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
