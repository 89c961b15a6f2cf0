// SPDX-License-Identifier: MIT
// rpc_server.cpp - connections, call dispatch and replies of rpc::Server.
//
// Each client is a RecordReader for its calls and a RecordWriter whose
// replies are queued on the client's qio channel. process() flushes, reads
// and answers, flushes again, then closes what is finished; nothing in it
// waits for a client.
#include "xdr_glue/rpc_server.hpp"

#include <fcntl.h>      // fcntl, O_NONBLOCK
#include <sys/socket.h> // accept4
#include <unistd.h>     // close

#include <algorithm> // std::max
#include <cerrno>  // errno values
#include <cstddef> // std::max_align_t
#include <cstring> // std::memset
#include <new>     // std::bad_alloc

#include "rpc_messages.hpp"
#include "xdr_glue/record_reader.hpp"
#include "xdr_glue/record_writer.hpp"

namespace xdr_glue::rpc {
namespace {

std::error_code error_of(int value) noexcept { return {value, std::generic_category()}; }

// Accepting is bounded per turn so a connection storm cannot starve the
// clients already connected.
constexpr int accepts_per_turn = 16;

// Zeroed, suitably aligned storage for a decoded argument or a result.
// memset, not value-initialization: that leaves the padding bytes of
// max_align_t's long double unset, those bytes may lie under a pointer of
// the rpcgen struct, and a decoder takes a pointer that is not null as
// memory to decode into.
class ZeroedObject {
public:
  explicit ZeroedObject(std::size_t size)
      : units_(std::make_unique_for_overwrite<std::max_align_t[]>(units_for(size))) {
    std::memset(units_.get(), 0, units_for(size) * sizeof(std::max_align_t));
  }
  void* get() noexcept { return units_.get(); }

private:
  static std::size_t units_for(std::size_t size) noexcept {
    return size / sizeof(std::max_align_t) + 1;
  }
  std::unique_ptr<std::max_align_t[]> units_;
};

bool accepted_flavor(enum_t flavor) noexcept { return flavor == AUTH_NONE || flavor == AUTH_SYS; }

bool invoke(const Handler& handler, const CallInfo& call, void* arguments, void* result) {
  try {
    return handler(call, arguments, result);
  } catch (...) {
    return false; // a handler's failure is the client's SYSTEM_ERR, not ours
  }
}

const Procedure& null_procedure() {
  static const Procedure answer_nothing{void_xdrproc(), sizeof(Void),
                                        void_xdrproc(), sizeof(Void),
                                        [](const CallInfo&, void*, void*) { return true; }};
  return answer_nothing;
}

} // namespace

struct Server::Connection {
  Connection(qio::Engine& engine, int fd, const ServerOptions& options)
      : fd(fd), reader(fd, ReaderLimits{options.max_call_size, 0}),
        writer(engine, fd, options.reply_fragment_size) {}

  int fd;
  RecordReader reader;
  RecordWriter writer;
  bool peer_finished = false; // the client ended its stream between calls
  bool broken = false;        // bad input or a failed reply: close now
  std::error_code broken_reason;
};

Server::Server(qio::Engine& engine, ServerOptions options)
    : engine_(engine), options_(std::move(options)) {}

Server::~Server() {
  for (auto& [fd, connection] : connections_) {
    engine_.terminate(fd);
    connection.reset();
    ::close(fd);
  }
}

// ---- registration and connections ----------------------------------------------

std::error_code Server::add_procedure(rpcprog_t program, rpcvers_t version,
                                      rpcproc_t procedure, Procedure registration) {
  if (!registration.decode_arguments || !registration.encode_result || !registration.handler)
    return error_of(EINVAL);
  auto& procedures = programs_[program][version];
  if (procedures.contains(procedure))
    return error_of(EEXIST);
  procedures.emplace(procedure, std::move(registration));
  return {};
}

std::error_code Server::add_listener(int listening_fd) {
  if (listening_fd >= FD_SETSIZE)
    return error_of(EINVAL);
  const int flags = ::fcntl(listening_fd, F_GETFL);
  if (flags < 0 || ::fcntl(listening_fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return error_of(EBADF);
  for (const int listener : listeners_)
    if (listener == listening_fd)
      return error_of(EEXIST);
  listeners_.push_back(listening_fd);
  return {};
}

std::error_code Server::add_connection(int connected_fd) {
  if (connected_fd < 0)
    return error_of(EBADF);
  if (connected_fd >= FD_SETSIZE)
    return error_of(EINVAL); // select could never tell us it is readable
  if (connections_.contains(connected_fd))
    return error_of(EEXIST);
  if (connections_.size() >= options_.max_connections)
    return error_of(ECONNREFUSED);
  qio::ChannelOptions channel;
  channel.buffered = false; // replies are already copies owned by the writer
  if (const std::error_code error = engine_.configure(connected_fd, channel))
    return error;
  try {
    connections_.emplace(connected_fd,
                         std::make_unique<Connection>(engine_, connected_fd, options_));
  } catch (const std::bad_alloc&) {
    engine_.terminate(connected_fd);
    return error_of(ENOMEM);
  }
  return {};
}

void Server::accept_clients(int listening_fd) {
  for (int turn = 0; turn < accepts_per_turn; ++turn) {
    const int client = ::accept4(listening_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0)
      return; // none left (EAGAIN), or a transient failure: next turn
    if (const std::error_code refused = add_connection(client)) {
      if (options_.on_close)
        options_.on_close(client, refused);
      ::close(client);
    }
  }
}

void Server::close_connection(int fd, std::error_code reason) {
  engine_.terminate(fd); // cancels replies still queued
  connections_.erase(fd);
  if (options_.on_close)
    options_.on_close(fd, reason);
  ::close(fd);
}

// ---- the select loop ----------------------------------------------------------------

bool Server::backlogged(const Connection& connection) const noexcept {
  return connection.writer.queued_bytes() >= options_.max_queued_reply_bytes;
}

bool Server::reading_calls(const Connection& connection) const noexcept {
  return !connection.peer_finished && !connection.broken && !backlogged(connection);
}

int Server::fill_fdsets(fd_set& readable, fd_set& writable) const {
  int highest = -1;
  for (const int listener : listeners_) { // beyond max_connections: accepted and closed
    FD_SET(listener, &readable);
    highest = std::max(highest, listener);
  }
  for (const auto& [fd, connection] : connections_) {
    if (reading_calls(*connection)) {
      FD_SET(fd, &readable);
      highest = std::max(highest, fd);
    }
  }
  return std::max(highest + 1, engine_.fill_fdset(writable));
}

void Server::process(const fd_set& readable) {
  for (const int listener : listeners_)
    if (FD_ISSET(listener, &readable))
      accept_clients(listener);
  std::vector<int> clients;
  clients.reserve(connections_.size());
  for (const auto& entry : connections_)
    clients.push_back(entry.first);
  for (const int fd : clients) {
    Connection& connection = *connections_.at(fd);
    engine_.flush(fd); // room in the queue may let more calls in
    serve(connection, FD_ISSET(fd, &readable));
    engine_.flush(fd);
    if (const std::optional<std::error_code> reason = closing_reason(connection))
      close_connection(fd, *reason);
  }
}

void Server::serve(Connection& connection, bool readable) {
  answer_buffered_calls(connection);
  if (!readable || !reading_calls(connection))
    return;
  const std::error_code status = connection.reader.fill();
  answer_buffered_calls(connection);
  if (status == std::errc::no_message_available) {
    connection.peer_finished = true; // answer what was read, then close
  } else if (status) {
    connection.broken = true;
    connection.broken_reason = status;
  }
}

void Server::answer_buffered_calls(Connection& connection) {
  std::vector<char> record;
  while (!connection.broken && !backlogged(connection) && !connection.reader.next(record))
    answer(connection, record);
}

// Why the connection should close now, if it should: bad input, a failed
// reply, or a client that has finished and has all its replies.
std::optional<std::error_code> Server::closing_reason(const Connection& connection) const {
  if (connection.broken)
    return connection.broken_reason;
  if (const std::error_code failed = connection.writer.error())
    return failed;
  if (connection.peer_finished && !connection.reader.assembler().has_record() &&
      engine_.pending(connection.fd) == 0)
    return std::error_code();
  return std::nullopt;
}

bool Server::has_pending_calls() const noexcept {
  for (const auto& [fd, connection] : connections_)
    if (!connection->broken && !backlogged(*connection) &&
        connection->reader.assembler().has_record())
      return true;
  return false;
}

std::size_t Server::queued_reply_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& entry : connections_)
    total += entry.second->writer.queued_bytes();
  return total;
}

// ---- answering calls --------------------------------------------------------------

void Server::answer(Connection& connection, std::vector<char>& record) {
  detail::CallPrefix prefix;
  if (!detail::read_call_prefix(record, prefix) || prefix.direction != CALL) {
    connection.broken = true; // not a call at all: libtirpc drops such clients too
    connection.broken_reason = error_of(EBADMSG);
    return;
  }
  if (prefix.rpc_version != RPC_MSG_VERSION)
    return reply(connection, detail::rpc_mismatch_reply(prefix.xid));
  XDR stream;
  xdrmem_create(&stream, record.data(), static_cast<u_int>(record.size()), XDR_DECODE);
  detail::DecodedCall call;
  if (detail::decode_call(stream, call)) {
    const call_body& body = call.message.rm_call;
    const CallInfo info{call.message.rm_xid,
                        body.cb_prog,
                        body.cb_vers,
                        body.cb_proc,
                        body.cb_cred.oa_flavor,
                        {body.cb_cred.oa_base, body.cb_cred.oa_length},
                        connection.fd};
    dispatch(connection, info, stream);
  } else {
    connection.broken = true; // a call header we cannot read (bad lengths)
    connection.broken_reason = error_of(EBADMSG);
  }
  XDR_DESTROY(&stream);
}

void Server::dispatch(Connection& connection, const CallInfo& call, XDR& arguments) {
  if (!accepted_flavor(call.credential_flavor))
    return reply(connection, detail::auth_error_reply(call.xid, AUTH_REJECTEDCRED));
  const auto program = programs_.find(call.program);
  if (program == programs_.end())
    return reply(connection, detail::accept_error_reply(call.xid, PROG_UNAVAIL));
  const Versions& versions = program->second;
  const auto version = versions.find(call.version);
  if (version == versions.end())
    return reply(connection, detail::program_mismatch_reply(call.xid, versions.begin()->first,
                                                             versions.rbegin()->first));
  const auto procedure = version->second.find(call.procedure);
  if (procedure != version->second.end())
    return run(connection, call, procedure->second, arguments);
  if (call.procedure == NULLPROC)
    return run(connection, call, null_procedure(), arguments);
  reply(connection, detail::accept_error_reply(call.xid, PROC_UNAVAIL));
}

// Decodes the arguments, calls the handler and answers; both objects are
// released with xdr_free whatever happens.
void Server::run(Connection& connection, const CallInfo& call, const Procedure& procedure,
                 XDR& arguments_stream) {
  ZeroedObject arguments(procedure.arguments_size);
  ZeroedObject result(procedure.result_size);
  if (!procedure.decode_arguments(&arguments_stream, arguments.get())) {
    xdr_free(procedure.decode_arguments, arguments.get());
    return reply(connection, detail::accept_error_reply(call.xid, GARBAGE_ARGS));
  }
  std::vector<char> message;
  if (invoke(procedure.handler, call, arguments.get(), result.get()))
    message = detail::success_reply(call.xid, procedure.encode_result, result.get());
  xdr_free(procedure.encode_result, result.get());
  xdr_free(procedure.decode_arguments, arguments.get());
  if (message.empty()) // the handler failed, or its result would not encode
    message = detail::accept_error_reply(call.xid, SYSTEM_ERR);
  reply(connection, message);
}

void Server::reply(Connection& connection, const std::vector<char>& message) {
  std::error_code error = message.empty() ? error_of(ENOMEM) : std::error_code();
  if (!error)
    error = connection.writer.write_record(message);
  if (error) {
    connection.broken = true;
    connection.broken_reason = error;
  }
}

} // namespace xdr_glue::rpc
