// SPDX-License-Identifier: MIT
// rpc_client_core.cpp - calls out, replies in, and the rules that make
// every call complete exactly once.
//
// A call leaves the pending table before its handler runs, so a handler
// may make new calls and nothing it does can complete a call twice; no
// iterator into the table is held across a handler.
#include "rpc_client_core.hpp"
#include "error.hpp"

#include <unistd.h> // getpid, for a fresh first xid

#include <algorithm> // std::push_heap, std::pop_heap, std::sort
#include <atomic>    // std::atomic, clients made by this process
#include <cerrno>    // errno values
#include <new>       // std::bad_alloc

namespace xdr_glue::rpc::detail {
namespace {

using namespace std::chrono_literals;


// Reading stops after this many rounds of (fill, take every record) in
// one poll, so a server that never stops sending cannot hold the caller's
// loop; the socket stays readable and the next poll goes on.
constexpr int read_rounds_per_poll = 64;

// Longer timeouts are cut to this, so a deadline never overflows the
// clock's nanoseconds (good for about 292 years).
constexpr std::chrono::milliseconds longest_timeout = std::chrono::hours(24 * 365 * 100);

// The deadline heap is rebuilt from the pending calls when it holds this
// many times more entries than there are calls (calls answered before
// their deadline leave their entry behind).
constexpr std::size_t stale_deadline_factor = 2;
constexpr std::size_t stale_deadline_slack = 64;

// As libtirpc's clients do, the first xid mixes the time and the process
// id; a per-process count keeps two clients made in the same instant
// apart. SplitMix64's finaliser spreads the bits.
std::uint32_t fresh_first_xid() noexcept {
  static std::atomic<std::uint64_t> clients_made{0};
  std::uint64_t mixed =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) ^
      (static_cast<std::uint64_t>(::getpid()) << 32) ^
      (clients_made.fetch_add(1) * 0x9e3779b97f4a7c15u);
  mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9u;
  mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebu;
  return static_cast<std::uint32_t>(mixed ^ (mixed >> 31));
}

AUTH* make_credentials(ClientOptions::Credentials kind) {
  if (kind == ClientOptions::Credentials::none) {
    AUTH* none = authnone_create();
    if (none == nullptr)
      throw std::bad_alloc();
    return none;
  }
  errno = 0;
  AUTH* unix_user = authunix_create_default();
  if (unix_user == nullptr)
    throw std::system_error(errno != 0 ? errno : ENOMEM, std::generic_category(),
                            "AUTH_SYS credentials");
  return unix_user;
}

rpc_err status_of(clnt_stat status) noexcept {
  rpc_err error{};
  error.re_status = status;
  return error;
}

rpc_err status_with_errno(clnt_stat status, int value) noexcept {
  rpc_err error = status_of(status);
  error.re_errno = value;
  return error;
}

} // namespace

ClientCore::ClientCore(std::unique_ptr<xdr_glue::detail::Transport> transport, int fd,
                       rpcprog_t program, rpcvers_t version, const ClientOptions& options)
    : program_(program), version_(version),
      queue_(std::make_shared<xdr_glue::detail::RecordQueue>(std::move(transport), fd)),
      reader_(fd, ReaderLimits{options.max_reply, 0}),
      credentials_(make_credentials(options.credentials)),
      clock_(options.clock ? options.clock : [] { return std::chrono::steady_clock::now(); }),
      first_xid_(options.first_xid ? *options.first_xid : fresh_first_xid()) {}

ClientCore::~ClientCore() { cancel_all(); }

// ---- calls out ----------------------------------------------------------------

// Skips the xids of calls still pending, which only a client that has made
// 2^32 calls while one stayed unanswered could meet.
std::uint64_t ClientCore::fresh_sequence() const noexcept {
  std::uint64_t sequence = next_sequence_;
  while (calls_.contains(xid_of(sequence)))
    ++sequence;
  return sequence;
}

std::error_code ClientCore::call(rpcproc_t procedure, xdrproc_t encode_arguments,
                                 const void* arguments, xdrproc_t decode_result, void* result,
                                 std::chrono::milliseconds timeout, ReplyHandler done) {
  if (encode_arguments == nullptr || decode_result == nullptr || !done ||
      (timeout < 0ms && timeout != no_timeout))
    return error_of(EINVAL);
  if (failure_)
    return error_of(EPIPE);
  try {
    const std::uint64_t sequence = fresh_sequence();
    const std::vector<char> message = call_message(
        {xid_of(sequence), program_, version_, procedure, credentials_.get()}, encode_arguments,
        arguments);
    if (message.empty())
      return error_of(EINVAL);
    PendingCall pending{sequence, decode_result, result, std::nullopt, std::move(done)};
    if (timeout != no_timeout)
      pending.deadline = clock_() + std::min(timeout, longest_timeout);
    return queue_call(sequence, message, std::move(pending));
  } catch (const std::bad_alloc&) {
    return error_of(ENOMEM);
  }
}

// Everything that allocates comes before the record is queued, so a call
// is either queued and pending, or neither. Throws std::bad_alloc.
std::error_code ClientCore::queue_call(std::uint64_t sequence, std::span<const char> message,
                                       PendingCall pending) {
  const std::optional<TimePoint> deadline = pending.deadline;
  if (deadline && deadlines_.size() == deadlines_.capacity())
    deadlines_.reserve(std::max<std::size_t>(16, 2 * deadlines_.capacity()));
  const auto entry = calls_.try_emplace(xid_of(sequence), std::move(pending)).first;
  if (const std::error_code refused = queue_->accept_record(message, sequence)) {
    calls_.erase(entry);
    return refused;
  }
  next_sequence_ = sequence + 1;
  if (deadline)
    push_deadline({*deadline, sequence});
  return {};
}

// ---- completing calls ------------------------------------------------------------

ClientCore::Calls::iterator ClientCore::find_sequence(std::uint64_t sequence) {
  const auto found = calls_.find(xid_of(sequence));
  return found != calls_.end() && found->second.sequence == sequence ? found : calls_.end();
}

ClientCore::PendingCall ClientCore::take(Calls::iterator call) {
  PendingCall taken = std::move(call->second);
  calls_.erase(call);
  return taken;
}

void ClientCore::finish(PendingCall call, const rpc_err& status) {
  call.done(rpc_error(status.re_status), status);
}

PollResult ClientCore::poll() {
  if (polling_)
    return {0, failure_};
  polling_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{polling_};
  std::size_t completed = complete_unsent();
  completed += read_replies();
  completed += expire_timeouts();
  return {completed, failure_};
}

// Records that were never written: qio failed them (a write error) or
// cancelled them (the channel was removed or pruned under the client).
std::size_t ClientCore::complete_unsent() {
  std::size_t completed = 0;
  xdr_glue::detail::UnsentRecord unsent;
  while (queue_->take_unsent(unsent)) {
    const auto found = find_sequence(unsent.tag);
    if (found == calls_.end())
      continue; // timed out or failed already
    finish(take(found), status_with_errno(RPC_CANTSEND, unsent.error.value()));
    ++completed;
  }
  return completed;
}

// Fails the connection: every pending call completes, oldest first, with
// RPC_CANTRECV and `reported_errno`; later calls get EPIPE.
std::size_t ClientCore::fail(std::error_code why, int reported_errno) {
  if (!failure_)
    failure_ = why;
  std::vector<std::uint64_t> sequences;
  sequences.reserve(calls_.size());
  for (const auto& entry : calls_)
    sequences.push_back(entry.second.sequence);
  std::sort(sequences.begin(), sequences.end());
  deadlines_.clear();
  std::size_t completed = 0;
  for (const std::uint64_t sequence : sequences) {
    const auto found = find_sequence(sequence);
    if (found == calls_.end())
      continue;
    finish(take(found), status_with_errno(RPC_CANTRECV, reported_errno));
    ++completed;
  }
  return completed;
}

void ClientCore::cancel_all() { fail(error_of(ECANCELED), ECANCELED); }

// ---- replies in -----------------------------------------------------------------

std::size_t ClientCore::read_replies() {
  std::size_t completed = 0;
  std::vector<char> record;
  for (int round = 0; round < read_rounds_per_poll && !failure_; ++round) {
    std::error_code status;
    try {
      status = reader_.fill();
    } catch (const std::bad_alloc&) {
      return completed + fail(error_of(ENOMEM), ENOMEM);
    }
    std::size_t records = 0;
    while (!failure_ && !reader_.next(record)) {
      ++records;
      completed += take_reply(record);
    }
    if (failure_)
      break;
    if (status) {
      // The end of the stream, between records or inside one, is end of
      // file to the calls (re_errno 0) and EPIPE to later ones.
      const bool ended = status == std::errc::no_message_available ||
                         status == std::errc::broken_pipe;
      completed += fail(ended ? error_of(EPIPE) : status, ended ? 0 : status.value());
    } else if (records == 0) {
      break;
    }
  }
  return completed;
}

// A record that is not a reply, or a reply to a pending call whose header
// does not decode, fails the connection with EPROTO: nothing after it can
// be trusted. A reply to no pending call is dropped without a look inside.
std::size_t ClientCore::take_reply(std::vector<char>& record) {
  MessagePrefix prefix;
  if (!read_message_prefix(record, prefix) || prefix.direction != REPLY)
    return fail(error_of(EPROTO), EPROTO);
  const auto found = calls_.find(prefix.xid);
  if (found == calls_.end()) {
    ++unknown_replies_;
    return 0;
  }
  XDR stream;
  xdrmem_create(&stream, record.data(), static_cast<u_int>(record.size()), XDR_DECODE);
  DecodedReply reply;
  std::size_t completed = 1;
  if (!decode_reply_header(stream, reply)) {
    completed = fail(error_of(EPROTO), EPROTO);
  } else {
    PendingCall call = take(found);
    rpc_err status = reply_status(reply);
    if (status.re_status == RPC_SUCCESS)
      status = decode_results(stream, reply, call);
    finish(std::move(call), status);
  }
  XDR_DESTROY(&stream);
  return completed;
}

// The verifier is checked as libtirpc's clients check it; results that do
// not decode are released and reported, and the connection goes on.
rpc_err ClientCore::decode_results(XDR& stream, DecodedReply& reply, PendingCall& call) {
  if (!AUTH_VALIDATE(credentials_.get(), &reply.message.acpted_rply.ar_verf)) {
    rpc_err status = status_of(RPC_AUTHERROR);
    status.re_why = AUTH_INVALIDRESP;
    return status;
  }
  if (call.decode_result(&stream, call.result))
    return status_of(RPC_SUCCESS);
  xdr_free(call.decode_result, call.result);
  return status_of(RPC_CANTDECODERES);
}

// ---- timeouts -------------------------------------------------------------------

void ClientCore::push_deadline(const Deadline& deadline) noexcept {
  deadlines_.push_back(deadline); // capacity reserved by queue_call
  std::push_heap(deadlines_.begin(), deadlines_.end(), &Deadline::later);
  if (deadlines_.size() > stale_deadline_factor * calls_.size() + stale_deadline_slack)
    rebuild_deadlines();
}

void ClientCore::rebuild_deadlines() noexcept {
  deadlines_.clear(); // keeps its capacity, which held more than this
  for (const auto& [xid, call] : calls_)
    if (call.deadline)
      deadlines_.push_back({*call.deadline, call.sequence});
  std::make_heap(deadlines_.begin(), deadlines_.end(), &Deadline::later);
}

bool ClientCore::deadline_passed_or_stale(const Deadline& deadline, TimePoint now) {
  return deadline.when <= now || find_sequence(deadline.sequence) == calls_.end();
}

// Also drops entries of calls already completed from the top of the heap,
// so next_deadline() is exact right after a poll.
std::size_t ClientCore::expire_timeouts() {
  const TimePoint now = clock_();
  std::size_t completed = 0;
  while (!deadlines_.empty() && deadline_passed_or_stale(deadlines_.front(), now)) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), &Deadline::later);
    const Deadline expired = deadlines_.back();
    deadlines_.pop_back();
    const auto found = find_sequence(expired.sequence);
    if (found == calls_.end())
      continue;
    finish(take(found), status_of(RPC_TIMEDOUT));
    ++completed;
  }
  return completed;
}

std::optional<ClientCore::TimePoint> ClientCore::next_deadline() const noexcept {
  if (deadlines_.empty())
    return std::nullopt;
  return deadlines_.front().when;
}

} // namespace xdr_glue::rpc::detail
