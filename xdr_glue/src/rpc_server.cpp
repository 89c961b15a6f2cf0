// SPDX-License-Identifier: MIT
// rpc_server.cpp - connections, call dispatch and replies of rpc::Server.
//
// Each client is a RecordReader for its calls and a RecordWriter whose
// replies are queued on the client's qio channel. process() flushes, reads
// and answers, flushes again, then closes what is finished or timed out;
// nothing in it waits for a client. Time comes from the options' clock,
// read once per process().
#include "xdr_glue/rpc_server.hpp"
#include "error.hpp"

#include <fcntl.h>      // fcntl, O_NONBLOCK
#include <sys/socket.h> // accept4
#include <unistd.h>     // close

#include <algorithm> // std::max, std::min
#include <cerrno>    // errno values
#include <cstddef>   // std::max_align_t
#include <cstring>   // std::memset
#include <new>       // std::bad_alloc
#include <utility>   // std::move, std::exchange

#include "reply_order.hpp"
#include "rpc_messages.hpp"
#include "sys_credential.hpp"
#include "xdr_glue/record_reader.hpp"
#include "xdr_glue/record_writer.hpp"

namespace xdr_glue::rpc {
namespace {

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

// accept() failures that another try cannot fix until something is freed.
bool out_of_resources(int error) noexcept {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

bool expired(std::chrono::steady_clock::time_point since, std::chrono::milliseconds timeout,
             std::chrono::steady_clock::time_point now) noexcept {
  return timeout.count() > 0 && now - since >= timeout;
}

} // namespace

struct Server::Connection {
  Connection(qio::Engine& engine, int fd, const ServerOptions& options, TimePoint now)
      : fd(fd), reader(fd, ReaderLimits{options.max_call_size, 0}),
        writer(engine, fd, options.reply_fragment_size), last_active(now) {}

  int fd;
  RecordReader reader;
  RecordWriter writer;
  detail::ReplyOrder replies; // in call order while some are deferred
  bool peer_finished = false; // the client ended its stream between calls
  bool broken = false;        // bad input or a failed reply: close now
  std::error_code broken_reason;
  std::uint64_t calls_taken = 0;
  TimePoint last_active;               // when it was last seen busy
  std::optional<TimePoint> call_began; // when the call now arriving began
  // While its replies are past the bound: since when none of them moved,
  // and how many bytes the engine had written for it then.
  std::optional<TimePoint> stalled_since;
  std::uint64_t bytes_written_then = 0;
};

// The call whose handler is running, so that defer() can find it.
struct Server::CallInProgress {
  const CallInfo& call;
  Connection& connection;
  xdrproc_t encode_result;
  bool deferred = false;
};

namespace {

// A century: longer timeouts are as good as none, and adding them to a
// steady_clock time (nanoseconds) would overflow.
constexpr std::chrono::milliseconds longest_timeout = std::chrono::hours(24 * 365 * 100);

ServerOptions with_timeouts_clamped(ServerOptions options) {
  for (std::chrono::milliseconds* timeout :
       {&options.idle_timeout, &options.call_timeout, &options.stall_timeout})
    *timeout = std::clamp(*timeout, std::chrono::milliseconds(0), longest_timeout);
  return options;
}

} // namespace

Server::Server(qio::Engine& engine, ServerOptions options)
    : engine_(engine), options_(with_timeouts_clamped(std::move(options))) {}

Server::~Server() {
  for (auto& [fd, connection] : connections_) {
    engine_.terminate(fd);
    connection.reset();
    ::close(fd);
  }
}

Server::TimePoint Server::now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
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
  if (connections_.size() >= options_.max_connections && !reap_idle_connection())
    return error_of(ECONNREFUSED);
  qio::ChannelOptions channel;
  channel.buffered = false; // replies are already copies owned by the writer
  if (const std::error_code error = engine_.configure(connected_fd, channel))
    return error;
  try {
    connections_.emplace(connected_fd,
                         std::make_unique<Connection>(engine_, connected_fd, options_, now()));
  } catch (const std::bad_alloc&) {
    engine_.terminate(connected_fd);
    return error_of(ENOMEM);
  }
  return {};
}

// Closes the idle client that has been quiet longest, to make room; never
// the one whose handler is running (it looks idle while its call is
// answered, and is still in use on the stack).
bool Server::reap_idle_connection() {
  const Connection* quietest = nullptr;
  const Connection* answering = call_in_progress_ ? &call_in_progress_->connection : nullptr;
  for (const auto& entry : connections_)
    if (entry.second.get() != answering && idle(*entry.second) &&
        (quietest == nullptr || entry.second->last_active < quietest->last_active))
      quietest = entry.second.get();
  if (quietest == nullptr)
    return false;
  ++statistics_.reaped;
  close_connection(quietest->fd, error_of(ECONNABORTED));
  return true;
}

void Server::accept_clients(int listening_fd) {
  for (int turn = 0; turn < accepts_per_turn && !accepting_paused_until_; ++turn) {
    ++statistics_.accept_calls;
    const int client = ::accept4(listening_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      // Linux looks for a free descriptor before a waiting client, so only
      // the first accept of a turn, made because the listener was readable,
      // says that a newcomer is waiting.
      if (out_of_resources(errno))
        pause_accepting(errno, turn == 0);
      return; // none left (EAGAIN), or a transient failure: next turn
    }
    admit(client);
  }
}

// Takes on an accepted client, or closes it at once saying why. Once the
// server holds fewer clients than when accepting last ran out, running
// out again is news worth reporting.
void Server::admit(int client) {
  if (exhausted_with_ && connections_.size() + 1 < *exhausted_with_)
    exhausted_with_.reset();
  const std::error_code refused = add_connection(client);
  if (!refused)
    return;
  statistics_.refused += refused == std::errc::connection_refused;
  if (options_.on_close)
    options_.on_close(client, refused);
  ::close(client);
}

// Out of descriptors or memory: the listener stays readable, so stop
// watching it until a client leaves (an idle one is made to if a newcomer
// is waiting) or accept_retry_delay passes. Reported once for as long as
// the server keeps as many clients, however often newcomers displace idle
// ones.
void Server::pause_accepting(int error, bool newcomer_waiting) {
  ++statistics_.accept_pauses;
  accepting_paused_until_ = now() + accept_retry_delay;
  if (!exhausted_with_) {
    exhausted_with_ = connections_.size();
    if (options_.on_accept_error)
      options_.on_accept_error(error_of(error));
  }
  if (newcomer_waiting)
    reap_idle_connection();
}

void Server::close_connection(int fd, std::error_code reason) {
  engine_.terminate(fd); // cancels replies still queued
  connections_.erase(fd);
  accepting_paused_until_.reset(); // a descriptor is free again
  if (options_.on_close)
    options_.on_close(fd, reason);
  ::close(fd);
}

// ---- the select loop ----------------------------------------------------------------

std::size_t Server::reply_memory(const Connection& connection) const noexcept {
  return connection.writer.queued_memory() + connection.replies.held_memory();
}

bool Server::backlogged(const Connection& connection) const noexcept {
  return reply_memory(connection) >= options_.max_queued_reply_bytes;
}

// Calls already read are answered unless the client's replies are
// backlogged or it has as many calls deferred as allowed.
bool Server::answering_calls(const Connection& connection) const noexcept {
  return !connection.broken && !backlogged(connection) &&
         connection.replies.deferred_calls() < options_.max_deferred_calls;
}

bool Server::reading_calls(const Connection& connection) const noexcept {
  return !connection.peer_finished && answering_calls(connection);
}

// Nothing in progress either way: no call arriving, waiting or deferred,
// no reply queued.
bool Server::idle(const Connection& connection) const noexcept {
  const RecordAssembler& calls = connection.reader.assembler();
  return !calls.record_in_progress() && !calls.has_record() && connection.replies.empty() &&
         engine_.pending(connection.fd) == 0;
}

int Server::fill_fdsets(fd_set& readable, fd_set& writable) const {
  int highest = -1;
  if (!accepting_paused_until_) {
    for (const int listener : listeners_) { // beyond max_connections: reap or refuse
      FD_SET(listener, &readable);
      highest = std::max(highest, listener);
    }
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
  const TimePoint turn_time = now();
  if (accepting_paused_until_ && turn_time >= *accepting_paused_until_)
    accepting_paused_until_.reset();
  for (const int listener : listeners_)
    if (FD_ISSET(listener, &readable))
      accept_clients(listener);
  std::vector<int> clients;
  clients.reserve(connections_.size());
  for (const auto& entry : connections_)
    clients.push_back(entry.first);
  // Replies deferred calls were given between turns count from the start;
  // then the total is kept up to date client by client, so the bound holds
  // within the turn too, and eviction counts again exactly before it
  // closes anyone.
  std::size_t total_memory = evict_largest_until_within_total();
  for (const int fd : clients) {
    const auto found = connections_.find(fd);
    if (found == connections_.end())
      continue; // closed meanwhile: evicted, or a handler's add_connection reaped it
    Connection& connection = *found->second;
    const std::size_t memory_before = reply_memory(connection);
    engine_.flush(fd); // room in the queue may let more calls in
    serve(connection, FD_ISSET(fd, &readable), turn_time);
    engine_.flush(fd);
    const std::size_t memory_after = reply_memory(connection);
    total_memory = total_memory - std::min(total_memory, memory_before) + memory_after;
    if (const std::optional<std::error_code> reason = closing_reason(connection, turn_time)) {
      close_connection(fd, *reason);
      total_memory -= std::min(total_memory, memory_after);
    }
    if (total_memory > options_.max_total_reply_bytes)
      total_memory = evict_largest_until_within_total();
  }
  // A handler may have answered other clients' deferred calls.
  evict_largest_until_within_total();
}

// Closes the clients whose replies hold the most memory, largest first,
// until all of them fit within max_total_reply_bytes; returns the memory
// the rest hold.
std::size_t Server::evict_largest_until_within_total() {
  for (;;) {
    std::size_t total = 0;
    std::size_t largest_memory = 0;
    int largest = -1;
    for (const auto& [fd, connection] : connections_) {
      const std::size_t memory = reply_memory(*connection);
      total += memory;
      if (memory > largest_memory) {
        largest_memory = memory;
        largest = fd;
      }
    }
    if (total <= options_.max_total_reply_bytes || largest < 0)
      return total;
    ++statistics_.evictions;
    close_connection(largest, error_of(ENOBUFS));
  }
}

void Server::serve(Connection& connection, bool readable, TimePoint now) {
  const std::uint64_t calls_before = connection.calls_taken;
  answer_buffered_calls(connection);
  if (readable && reading_calls(connection)) {
    const std::error_code status = connection.reader.fill();
    answer_buffered_calls(connection);
    if (status == std::errc::no_message_available) {
      connection.peer_finished = true; // answer what was read, then close
    } else if (status) {
      connection.broken = true;
      connection.broken_reason = status;
    }
  }
  note_activity(connection, calls_before, now);
  note_backlog(connection, now);
}

// A client is active while anything is in progress for it; a call's clock
// runs from the turn its first bytes came, and only while its client is
// read.
void Server::note_activity(Connection& connection, std::uint64_t calls_before, TimePoint now) {
  if (!idle(connection))
    connection.last_active = now;
  const bool call_arriving = connection.reader.assembler().record_in_progress();
  if (!call_arriving)
    connection.call_began.reset();
  else if (!connection.call_began || connection.calls_taken != calls_before ||
           !reading_calls(connection))
    connection.call_began = now;
}

// A client past its bound is stalled from the turn its replies last
// moved; the engine's count of bytes written says whether they did. Only
// while some wait in the engine: replies held behind the server's own
// deferred call are not the client's doing.
void Server::note_backlog(Connection& connection, TimePoint now) {
  if (!backlogged(connection) || engine_.pending(connection.fd) == 0) {
    connection.stalled_since.reset();
    return;
  }
  qio::ChannelStats figures;
  if (engine_.stats(connection.fd, figures))
    return; // not a channel any more: its write error closes it
  if (!connection.stalled_since || figures.bytes_written != connection.bytes_written_then) {
    connection.stalled_since = now;
    connection.bytes_written_then = figures.bytes_written;
  }
}

void Server::answer_buffered_calls(Connection& connection) {
  std::vector<char> record;
  while (answering_calls(connection) && !connection.reader.next(record)) {
    ++connection.calls_taken;
    answer(connection, record);
  }
}

// Why the connection should close now, if it should: bad input, a failed
// reply, a client that has finished and has every reply that need not
// wait for a deferred call (those are cancelled), one past its backlog
// bound under BacklogPolicy::close or stalled there too long, or one idle
// or inside a call for too long.
std::optional<std::error_code> Server::closing_reason(const Connection& connection,
                                                      TimePoint now) {
  if (connection.broken)
    return connection.broken_reason;
  if (const std::error_code failed = connection.writer.error())
    return failed;
  if (connection.peer_finished && !connection.reader.assembler().has_record() &&
      engine_.pending(connection.fd) == 0)
    return std::error_code();
  if (options_.backlog_policy == BacklogPolicy::close && backlogged(connection)) {
    ++statistics_.backlog_closes;
    return error_of(ENOBUFS);
  }
  if (connection.stalled_since &&
      expired(*connection.stalled_since, options_.stall_timeout, now)) {
    ++statistics_.stall_timeouts;
    return error_of(ETIMEDOUT);
  }
  if (idle(connection) && expired(connection.last_active, options_.idle_timeout, now)) {
    ++statistics_.idle_timeouts;
    return error_of(ETIMEDOUT);
  }
  if (connection.call_began && expired(*connection.call_began, options_.call_timeout, now)) {
    ++statistics_.call_timeouts;
    return error_of(ETIMEDOUT);
  }
  return std::nullopt;
}

bool Server::has_pending_calls() const noexcept {
  for (const auto& [fd, connection] : connections_)
    if (answering_calls(*connection) && connection->reader.assembler().has_record())
      return true;
  return false;
}

// When the connection's next timeout falls, if one runs.
std::optional<Server::TimePoint> Server::deadline(const Connection& connection) const {
  std::optional<TimePoint> nearest;
  const auto consider = [&nearest](const std::optional<TimePoint>& since,
                                   std::chrono::milliseconds timeout) {
    if (since && timeout.count() > 0)
      nearest = nearest ? std::min(*nearest, *since + timeout) : *since + timeout;
  };
  if (idle(connection))
    consider(connection.last_active, options_.idle_timeout);
  consider(connection.call_began, options_.call_timeout);
  consider(connection.stalled_since, options_.stall_timeout);
  return nearest;
}

std::chrono::milliseconds Server::select_timeout(std::chrono::milliseconds longest) const {
  if (has_pending_calls())
    return std::chrono::milliseconds(0);
  std::optional<TimePoint> nearest = accepting_paused_until_;
  for (const auto& entry : connections_)
    if (const std::optional<TimePoint> due = deadline(*entry.second))
      nearest = nearest ? std::min(*nearest, *due) : *due;
  if (!nearest)
    return longest;
  // Rounded up: waking a little early would find nothing due and spin.
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*nearest - now());
  return std::clamp(left, std::chrono::milliseconds(0), longest);
}

std::size_t Server::queued_reply_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& entry : connections_)
    total += entry.second->writer.queued_bytes() + entry.second->replies.held_bytes();
  return total;
}

std::size_t Server::queued_reply_memory() const noexcept {
  std::size_t total = 0;
  for (const auto& entry : connections_)
    total += reply_memory(*entry.second);
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
    CallInfo info{call.message.rm_xid,
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

void Server::dispatch(Connection& connection, CallInfo& call, XDR& arguments) {
  if (!accepted_flavor(call.credential_flavor))
    return reply(connection, detail::auth_error_reply(call.xid, AUTH_REJECTEDCRED));
  detail::DecodedSysCredential credential;
  if (call.credential_flavor == AUTH_SYS) {
    std::span<char> body(const_cast<char*>(call.credential.data()), call.credential.size());
    if (!detail::decode_sys_credential(body, credential))
      return reply(connection, detail::auth_error_reply(call.xid, AUTH_BADCRED));
    call.sys_credential = &credential.view;
  }
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

// Decodes the arguments, calls the handler and answers, unless the
// handler deferred its answer; both objects are released with xdr_free
// whatever happens.
void Server::run(Connection& connection, const CallInfo& call, const Procedure& procedure,
                 XDR& arguments_stream) {
  ZeroedObject arguments(procedure.arguments_size);
  ZeroedObject result(procedure.result_size);
  if (!procedure.decode_arguments(&arguments_stream, arguments.get())) {
    xdr_free(procedure.decode_arguments, arguments.get());
    return reply(connection, detail::accept_error_reply(call.xid, GARBAGE_ARGS));
  }
  CallInProgress in_progress{call, connection, procedure.encode_result};
  call_in_progress_ = &in_progress;
  const bool succeeded = invoke(procedure.handler, call, arguments.get(), result.get());
  call_in_progress_ = nullptr;
  std::vector<char> message;
  if (succeeded && !in_progress.deferred)
    message = detail::success_reply(call.xid, procedure.encode_result, result.get());
  xdr_free(procedure.encode_result, result.get());
  xdr_free(procedure.decode_arguments, arguments.get());
  if (in_progress.deferred)
    return; // the token answers
  if (message.empty()) // the handler failed, or its result would not encode
    message = detail::accept_error_reply(call.xid, SYSTEM_ERR);
  reply(connection, std::move(message));
}

// Replies go out in call order: straight to the queue unless an earlier
// call's answer is still deferred.
void Server::reply(Connection& connection, std::vector<char> message) {
  if (connection.replies.empty())
    send(connection, message);
  else
    connection.replies.hold(std::move(message));
}

// An empty message is a reply that could not be encoded (out of memory).
void Server::send(Connection& connection, const std::vector<char>& message) {
  if (connection.broken)
    return;
  const std::error_code error =
      message.empty() ? error_of(ENOMEM) : connection.writer.write_record(message);
  if (error) {
    connection.broken = true;
    connection.broken_reason = error;
  }
}

// ---- deferred replies -------------------------------------------------------------

DeferredReply Server::defer(const CallInfo& call) {
  if (call_in_progress_ == nullptr || &call_in_progress_->call != &call ||
      call_in_progress_->deferred)
    return {};
  call_in_progress_->deferred = true;
  Connection& connection = call_in_progress_->connection;
  return DeferredReply(connection.replies.defer(*this, connection.fd, call.xid,
                                                call_in_progress_->encode_result));
}

// The deferred call's reply takes its place; it and the replies held
// behind it go out as far as the next call still deferred.
std::error_code Server::answer_deferred(detail::DeferredCall& call, std::vector<char> message) {
  Connection& connection = *connections_.at(call.connection);
  connection.replies.give(call, std::move(message));
  std::vector<char> due;
  while (connection.replies.next_due(due))
    send(connection, due);
  // Answers do not wait for a bound to be checked: under the close policy
  // a client they take past it is closed at the next process().
  if (!connection.broken && options_.backlog_policy == BacklogPolicy::close &&
      backlogged(connection)) {
    ++statistics_.backlog_closes;
    connection.broken = true;
    connection.broken_reason = error_of(ENOBUFS);
  }
  return connection.broken ? connection.broken_reason : std::error_code();
}

// No memory even to say SYSTEM_ERR: the client is closed instead, which
// cancels the call, so it is still not left waiting.
void Server::abandon_deferred(const detail::DeferredCall& call) noexcept {
  Connection& connection = *connections_.at(call.connection);
  connection.broken = true;
  connection.broken_reason = error_of(ENOMEM);
}

DeferredReply::DeferredReply(std::shared_ptr<detail::DeferredCall> call) noexcept
    : call_(std::move(call)) {}

DeferredReply::~DeferredReply() { answer_if_pending(); }

void DeferredReply::answer_if_pending() noexcept {
  if (!pending())
    return;
  try {
    fail();
  } catch (const std::bad_alloc&) {
    call_->server->abandon_deferred(*call_);
  }
}

DeferredReply::DeferredReply(DeferredReply&& other) noexcept : call_(std::move(other.call_)) {}

DeferredReply& DeferredReply::operator=(DeferredReply&& other) noexcept {
  if (this != &other) {
    answer_if_pending();
    call_ = std::move(other.call_);
  }
  return *this;
}

bool DeferredReply::pending() const noexcept { return call_ && call_->server != nullptr; }

std::error_code DeferredReply::reply(void* result) {
  if (!call_ || (call_->server == nullptr && !call_->cancelled))
    return error_of(EINVAL);
  std::vector<char> message;
  if (!call_->cancelled)
    message = detail::success_reply(call_->xid, call_->encode_result, result);
  xdr_free(call_->encode_result, result);
  if (call_->cancelled)
    return error_of(ECANCELED);
  if (message.empty())
    message = detail::accept_error_reply(call_->xid, SYSTEM_ERR);
  return answer(std::move(message));
}

std::error_code DeferredReply::fail() {
  if (!call_ || (call_->server == nullptr && !call_->cancelled))
    return error_of(EINVAL);
  if (call_->cancelled)
    return error_of(ECANCELED);
  return answer(detail::accept_error_reply(call_->xid, SYSTEM_ERR));
}

std::error_code DeferredReply::answer(std::vector<char> message) {
  return call_->server->answer_deferred(*call_, std::move(message));
}

} // namespace xdr_glue::rpc
