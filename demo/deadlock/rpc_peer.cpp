// SPDX-License-Identifier: MIT
// rpc_peer.cpp - the --rpc peers: libtirpc's clnt_call and svc_getreqset,
// or xdr_glue's rpc::Client and rpc::Server on one qio::Engine.
#include "rpc_peer.hpp"

#include <sys/select.h> // select, fd_set
#include <sys/socket.h> // getpeername

#include <algorithm>    // std::max, std::min
#include <cerrno>       // errno, EINTR
#include <cstring>      // std::strerror
#include <deque>        // std::deque, results that outlive their calls
#include <string>       // std::string, reasons to give up
#include <system_error> // std::system_error
#include <vector>       // std::vector, bursts

#include <fmt/core.h>

#include "common/report.hpp"
#include "common/xdr_procedure.hpp"
#include "packets.hpp"
#include "qio/engine.hpp"
#include "xdr_glue/rpc_client.hpp"
#include "xdr_glue/rpc_server.hpp"

namespace deadlock {
namespace {

// Both programs have version 1 (packet.x).
constexpr rpcvers_t program_version = 1;

// What a peer serves and what it calls.
struct Roles {
  rpcprog_t serves;
  rpcproc_t serves_procedure;
  packet_kind receives;
  rpcprog_t calls;
  rpcproc_t calls_procedure;
  packet_kind sends;
};

Roles roles_of(PeerIndex peer) {
  if (peer == display)
    return {DEADLOCK_DISPLAY_CALLBACK, DATA, DATA_PACKET, DEADLOCK_DATA_SERVER, ADD, ADD_REQUEST};
  return {DEADLOCK_DATA_SERVER, ADD, ADD_REQUEST, DEADLOCK_DISPLAY_CALLBACK, DATA, DATA_PACKET};
}

const xdrproc_t burst_procedure = demo::xdr_procedure(&xdr_packet_burst);
const xdrproc_t count_procedure = demo::xdr_procedure(&xdr_u_int);

// The records of the peer's calls, one burst per call.
class Bursts {
public:
  Bursts(const RpcPeerPlan& plan, packet_kind kind) : plan_(plan), kind_(kind) {}
  bool more() const noexcept { return made_ < plan_.records; }
  // The next burst, valid until the next call of next().
  packet_burst next() {
    const std::uint32_t count = std::min(plan_.burst, plan_.records - made_);
    packets_.clear();
    for (std::uint32_t index = 0; index < count; ++index)
      packets_.push_back(make_packet(kind_, made_ + index));
    made_ += count;
    return {count, packets_.data()};
  }

private:
  const RpcPeerPlan& plan_;
  packet_kind kind_;
  std::uint32_t made_ = 0;
  std::vector<demo_packet> packets_;
};

// The serving side's check of every record of every call, the same in
// both runs; a call is answered with the count received so far.
class BurstInbox {
public:
  BurstInbox(packet_kind expected, PeerStatus& status) : expected_(expected), status_(status) {}
  u_int take(const packet_burst& burst) {
    for (u_int index = 0; index < burst.packet_burst_len; ++index)
      note_received(&burst.packet_burst_val[index], expected_, next_sequence_, status_);
    return next_sequence_;
  }
  std::uint32_t received() const noexcept { return next_sequence_; }

private:
  packet_kind expected_;
  PeerStatus& status_;
  std::uint32_t next_sequence_ = 0;
};

int give_up(PeerStatus& status, PeerIndex peer, const std::string& why) {
  status.set(Activity::failed);
  fmt::print(stderr, "{}: {}\n", peer_names[peer], why);
  return 1;
}

// ---- libtirpc: clnt_call and svc_getreqset ----------------------------------------------

class TirpcRpcPeer {
public:
  TirpcRpcPeer(const RpcPeerPlan& plan, RpcConnections connections, PeerStatus& status);
  ~TirpcRpcPeer();
  TirpcRpcPeer(const TirpcRpcPeer&) = delete;
  TirpcRpcPeer& operator=(const TirpcRpcPeer&) = delete;
  int run();

private:
  static void dispatch(svc_req* request, SVCXPRT* transport);
  bool call_next();
  bool serve_arrived(bool may_wait);

  // svc_register's dispatch function gets no argument of ours: the one
  // peer of this process is found here.
  static TirpcRpcPeer* serving_;

  const RpcPeerPlan& plan_;
  Roles roles_;
  int calls_in_;
  PeerStatus& status_;
  Bursts bursts_;
  BurstInbox inbox_;
  SVCXPRT* server_ = nullptr;
  CLIENT* client_ = nullptr;
  std::string failure_;
};

TirpcRpcPeer* TirpcRpcPeer::serving_ = nullptr;

TirpcRpcPeer::TirpcRpcPeer(const RpcPeerPlan& plan, RpcConnections connections,
                           PeerStatus& status)
    : plan_(plan), roles_(roles_of(plan.peer)), calls_in_(connections.calls_in),
      status_(status), bursts_(plan, roles_.sends), inbox_(roles_.receives, status) {
  serving_ = this;
  // Protocol 0: served on this connection only, not registered with rpcbind.
  server_ = svc_fd_create(connections.calls_in, 0, 0);
  if (server_ == nullptr ||
      !svc_register(server_, roles_.serves, program_version, &dispatch, 0))
    throw std::runtime_error("libtirpc could not serve the calls-in connection");
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getpeername(connections.calls_out, reinterpret_cast<sockaddr*>(&address), &length);
  int calls_out = connections.calls_out;
  client_ = clnttcp_create(&address, roles_.calls, program_version, &calls_out, 0, 0);
  if (client_ == nullptr)
    throw std::runtime_error(clnt_spcreateerror("clnttcp_create"));
}

TirpcRpcPeer::~TirpcRpcPeer() {
  if (client_ != nullptr)
    clnt_destroy(client_); // leaves the descriptor open (no CLSET_FD_CLOSE)
  svc_unregister(roles_.serves, program_version);
  serving_ = nullptr;
}

void TirpcRpcPeer::dispatch(svc_req* request, SVCXPRT* transport) {
  TirpcRpcPeer& self = *serving_;
  if (request->rq_proc == NULLPROC) {
    svc_sendreply(transport, xdr_glue::rpc::void_xdrproc(), nullptr);
    return;
  }
  if (request->rq_proc != self.roles_.serves_procedure) {
    svcerr_noproc(transport);
    return;
  }
  packet_burst burst{};
  if (!svc_getargs(transport, burst_procedure, reinterpret_cast<caddr_t>(&burst))) {
    svcerr_decode(transport);
    return;
  }
  u_int received = self.inbox_.take(burst);
  svc_sendreply(transport, count_procedure, reinterpret_cast<caddr_t>(&received));
  svc_freeargs(transport, burst_procedure, reinterpret_cast<caddr_t>(&burst));
}

// clnt_call returns once the call is answered: until then this peer
// serves nothing. The timeout is long because the watchdog, not
// libtirpc, decides when the peers are stuck.
bool TirpcRpcPeer::call_next() {
  packet_burst burst = bursts_.next();
  u_int acknowledged = 0;
  const timeval wait_for_answer{3600, 0};
  status_.set(Activity::calling);
  const clnt_stat outcome =
      clnt_call(client_, roles_.calls_procedure, burst_procedure, reinterpret_cast<caddr_t>(&burst),
                count_procedure, reinterpret_cast<caddr_t>(&acknowledged), wait_for_answer);
  if (outcome != RPC_SUCCESS) {
    failure_ = clnt_sperror(client_, "clnt_call");
    return false;
  }
  status_.records_sent += burst.packet_burst_len;
  return true;
}

// Serves the calls that have arrived, waiting up to a second for one when
// `may_wait`. False once the calling peer has gone (libtirpc then drops
// the connection) or select failed.
bool TirpcRpcPeer::serve_arrived(bool may_wait) {
  if (!FD_ISSET(calls_in_, &svc_fdset)) {
    failure_ = fmt::format("the other peer ended its calls after {} records", inbox_.received());
    return false;
  }
  fd_set readable;
  FD_ZERO(&readable);
  FD_SET(calls_in_, &readable);
  timeval limit{may_wait ? 1 : 0, 0};
  status_.set(Activity::selecting);
  const int ready = ::select(calls_in_ + 1, &readable, nullptr, nullptr, &limit);
  if (ready < 0 && errno != EINTR) {
    failure_ = fmt::format("select: {}", std::strerror(errno));
    return false;
  }
  if (ready > 0) {
    status_.set(Activity::reading);
    svc_getreqset(&readable);
  }
  return true;
}

int TirpcRpcPeer::run() {
  const std::int64_t start = demo::monotonic_ns();
  while (bursts_.more() || inbox_.received() < plan_.records) {
    if (bursts_.more() && !call_next())
      return give_up(status_, plan_.peer, failure_);
    if (inbox_.received() < plan_.records && !serve_arrived(!bursts_.more()))
      return give_up(status_, plan_.peer, failure_);
  }
  status_.elapsed_ns = demo::monotonic_ns() - start;
  status_.set(Activity::finished);
  return status_.bad_records == 0 ? 0 : 1;
}

// ---- xdr_glue: rpc::Client and rpc::Server on one engine --------------------------------

int configured(qio::Engine& engine, int socket) {
  qio::ChannelOptions options;
  options.buffered = false; // the client and the server queue copies of their own
  if (const std::error_code error = engine.configure(socket, options))
    throw std::system_error(error, "qio configure");
  return socket;
}

class QioRpcPeer {
public:
  QioRpcPeer(const RpcPeerPlan& plan, RpcConnections connections, PeerStatus& status);
  int run();

private:
  xdr_glue::rpc::ServerOptions server_options();
  void call_next();
  void turn();
  bool finished() const;

  const RpcPeerPlan& plan_;
  Roles roles_;
  PeerStatus& status_;
  Bursts bursts_;
  BurstInbox inbox_;
  std::string failure_;
  qio::Engine engine_;
  xdr_glue::rpc::Server server_;
  xdr_glue::rpc::Client client_;
  std::deque<u_int> acknowledgements_; // each call's result, kept until it completes
  std::uint64_t call_bytes_queued_ = 0;
};

QioRpcPeer::QioRpcPeer(const RpcPeerPlan& plan, RpcConnections connections, PeerStatus& status)
    : plan_(plan), roles_(roles_of(plan.peer)), status_(status), bursts_(plan, roles_.sends),
      inbox_(roles_.receives, status), server_(engine_, server_options()),
      client_(engine_, configured(engine_, connections.calls_out), roles_.calls,
              program_version) {
  const auto answer = [this](const xdr_glue::rpc::CallInfo&, const packet_burst& burst,
                             u_int& received) {
    received = inbox_.take(burst);
    return true;
  };
  if (server_.add_procedure<packet_burst, u_int>(roles_.serves, program_version,
                                                 roles_.serves_procedure, burst_procedure,
                                                 count_procedure, answer) ||
      server_.add_connection(connections.calls_in))
    throw std::runtime_error("the RPC server could not take the calls-in connection");
}

// A whole burst in one call, whatever --burst says.
xdr_glue::rpc::ServerOptions QioRpcPeer::server_options() {
  xdr_glue::rpc::ServerOptions options;
  options.max_call_size = std::max<std::size_t>(options.max_call_size,
                                                std::size_t{plan_.burst} * 1024 + 4096);
  options.on_close = [this](int, std::error_code reason) {
    if (reason)
      failure_ = fmt::format("serving: the calls-in connection failed: {}", reason.message());
  };
  return options;
}

// Queued, never waited for: the reply completes the call later.
void QioRpcPeer::call_next() {
  packet_burst burst = bursts_.next();
  const u_int count = burst.packet_burst_len;
  status_.set(Activity::queueing);
  const std::error_code refused = client_.call(
      roles_.calls_procedure, burst_procedure, &burst, count_procedure,
      &acknowledgements_.emplace_back(), xdr_glue::rpc::no_timeout,
      [this, count](std::error_code error, const rpc_err& outcome) {
        if (!error)
          status_.records_sent += count;
        else if (failure_.empty())
          failure_ = fmt::format("a call failed: {} (errno {})", error.message(),
                                 outcome.re_errno);
      });
  if (refused)
    failure_ = fmt::format("call: {}", refused.message());
  call_bytes_queued_ += std::uint64_t{count} * packet_wire_bytes;
}

// One turn of the loop: select, serve, take replies, send.
void QioRpcPeer::turn() {
  fd_set readable;
  fd_set writable;
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  const int count = std::max(server_.fill_fdsets(readable, writable), client_.fd() + 1);
  FD_SET(client_.fd(), &readable);
  const bool busy = bursts_.more() || server_.has_pending_calls();
  timeval limit{busy ? 0 : 1, 0};
  status_.set(Activity::selecting);
  if (::select(count, &readable, &writable, nullptr, &limit) < 0)
    FD_ZERO(&readable); // EINTR: go round again
  status_.set(Activity::reading);
  server_.process(readable);
  client_.poll();
  engine_.flush();
  const std::size_t waiting = client_.queued_bytes() + server_.queued_reply_bytes();
  status_.peak_queued_bytes = std::max<std::uint64_t>(status_.peak_queued_bytes, waiting);
  status_.bytes_sent = call_bytes_queued_ - client_.queued_bytes();
}

bool QioRpcPeer::finished() const {
  return !bursts_.more() && client_.pending() == 0 && inbox_.received() >= plan_.records &&
         server_.queued_reply_bytes() == 0;
}

int QioRpcPeer::run() {
  const std::int64_t start = demo::monotonic_ns();
  while (!finished() && failure_.empty()) {
    if (bursts_.more())
      call_next();
    turn();
    if (server_.connection_count() == 0 && inbox_.received() < plan_.records)
      failure_ = fmt::format("the other peer ended its calls after {} records", inbox_.received());
  }
  if (!failure_.empty())
    return give_up(status_, plan_.peer, failure_);
  status_.elapsed_ns = demo::monotonic_ns() - start;
  status_.set(Activity::finished);
  return status_.bad_records == 0 ? 0 : 1;
}

} // namespace

int run_rpc_peer(const RpcPeerPlan& plan, RpcConnections connections, PeerStatus& status) {
  if (plan.mode == OutputMode::blocking)
    return TirpcRpcPeer(plan, connections, status).run();
  return QioRpcPeer(plan, connections, status).run();
}

} // namespace deadlock
