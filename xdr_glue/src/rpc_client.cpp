// SPDX-License-Identifier: MIT
// rpc_client.cpp - xdr_glue::rpc::Client: the client core on a qio::Engine
// channel, and the category of RPC statuses.
#include "xdr_glue/rpc_client.hpp"

#include <cerrno> // EBADF
#include <string> // std::string, messages

#include "rpc_client_core.hpp"
#include "transports.hpp"

namespace xdr_glue::rpc {
namespace {

class RpcCategory final : public std::error_category {
public:
  const char* name() const noexcept override { return "onc_rpc"; }
  std::string message(int status) const override {
    return clnt_sperrno(static_cast<clnt_stat>(status));
  }
};

} // namespace

const std::error_category& rpc_category() noexcept {
  static const RpcCategory category;
  return category;
}

Client::Client(qio::Engine& engine, int fd, rpcprog_t program, rpcvers_t version,
               ClientOptions options) {
  if (!engine.is_channel(fd))
    throw std::system_error(EBADF, std::generic_category(), "xdr_glue::rpc::Client");
  core_ = std::make_unique<detail::ClientCore>(xdr_glue::detail::engine_transport(engine), fd,
                                               program, version, options);
}

Client::~Client() = default; // the core cancels what is pending

std::error_code Client::call(rpcproc_t procedure, xdrproc_t encode_arguments,
                             const void* arguments, xdrproc_t decode_result, void* result,
                             std::chrono::milliseconds timeout, ReplyHandler done) {
  return core_->call(procedure, encode_arguments, arguments, decode_result, result, timeout,
                     std::move(done));
}

PollResult Client::poll() { return core_->poll(); }
std::size_t Client::pending() const noexcept { return core_->pending(); }
std::size_t Client::queued_bytes() const noexcept { return core_->queued_bytes(); }
int Client::fd() const noexcept { return core_->fd(); }
std::uint64_t Client::unknown_replies() const noexcept { return core_->unknown_replies(); }
std::error_code Client::failure() const noexcept { return core_->failure(); }

std::optional<std::chrono::steady_clock::time_point> Client::next_deadline() const noexcept {
  return core_->next_deadline();
}

} // namespace xdr_glue::rpc
