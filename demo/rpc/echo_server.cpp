// SPDX-License-Identifier: MIT
// echo_server.cpp - the echo program's handlers and the server's loop.
#include "echo_server.hpp"

#include <signal.h>     // sigaction, sigprocmask, SIGINT, SIGTERM
#include <sys/select.h> // pselect

#include <algorithm>    // std::max
#include <chrono>       // std::chrono::seconds, the longest wait
#include <cstdio>       // stderr
#include <cstdlib>      // std::malloc
#include <cstring>      // std::memcpy
#include <system_error> // std::system_error
#include <utility>      // std::move

#include <fmt/core.h>

#include "common/xdr_procedure.hpp"
#include "echo.h" // rpcgen: ECHO_PROGRAM, ECHO_VERSION, ECHO, STATS, echo_data, echo_stats

namespace rpc_demo {
namespace {

volatile sig_atomic_t received_stop_signal = 0;

void note_stop_signal(int signal) { received_stop_signal = signal; }

// Installs the handlers with the signals blocked; returns the mask to
// wait with (the same, with them unblocked).
sigset_t catch_stop_signals() {
  sigset_t stop_signals, waiting_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &stop_signals, &waiting_mask);
  struct sigaction action {};
  action.sa_handler = &note_stop_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  sigdelset(&waiting_mask, SIGINT);
  sigdelset(&waiting_mask, SIGTERM);
  return waiting_mask;
}

xdr_glue::rpc::ServerOptions server_options(ServerCounters& counters,
                                            xdr_glue::rpc::ServerOptions options) {
  // A call carrying the largest ECHO argument is 1 MiB plus the RPC header
  // (at most two 400-byte authenticators and a few words).
  options.max_call_size = ECHO_MAX_BYTES + 4096;
  options.on_close = [&counters](int, std::error_code) { ++counters.connections_closed; };
  options.on_accept_error = [](std::error_code error) {
    fmt::print(stderr, "qio-rpc-demo server: cannot accept more clients ({}); waiting for one "
                       "to leave\n", error.message());
  };
  return options;
}

} // namespace

EchoServer::EchoServer(int listener, xdr_glue::rpc::ServerOptions limits)
    : server_(engine_, server_options(counters_, std::move(limits))),
      waiting_mask_(catch_stop_signals()) {
  register_procedures();
  if (const std::error_code error = server_.add_listener(listener))
    throw std::system_error(error, "listening for RPC clients");
}

void EchoServer::register_procedures() {
  using xdr_glue::rpc::CallInfo;
  auto echo = [this](const CallInfo&, const echo_data& in, echo_data& out) {
    // Results are released with xdr_free, hence malloc.
    out.echo_data_val = static_cast<char*>(std::malloc(std::max<u_int>(in.echo_data_len, 1)));
    if (out.echo_data_val == nullptr)
      return false;
    if (in.echo_data_len > 0)
      std::memcpy(out.echo_data_val, in.echo_data_val, in.echo_data_len);
    out.echo_data_len = in.echo_data_len;
    ++counters_.calls;
    counters_.echoed_bytes += in.echo_data_len;
    return true;
  };
  auto stats = [this](const CallInfo&, const xdr_glue::rpc::Void&, echo_stats& out) {
    ++counters_.calls;
    out.calls = counters_.calls;
    out.bytes_queued = server_.queued_reply_bytes();
    out.peak_bytes_queued = counters_.peak_bytes_queued;
    return true;
  };
  std::error_code error = server_.add_procedure<echo_data, echo_data>(
      ECHO_PROGRAM, ECHO_VERSION, ECHO, demo::xdr_procedure(&xdr_echo_data),
      demo::xdr_procedure(&xdr_echo_data), echo);
  if (!error)
    error = server_.add_procedure<xdr_glue::rpc::Void, echo_stats>(
        ECHO_PROGRAM, ECHO_VERSION, STATS, xdr_glue::rpc::void_xdrproc(),
        demo::xdr_procedure(&xdr_echo_stats), stats);
  if (error)
    throw std::system_error(error, "registering the echo program");
}

void EchoServer::note_queue_depth() {
  counters_.peak_bytes_queued =
      std::max<std::uint64_t>(counters_.peak_bytes_queued, server_.queued_reply_bytes());
}

void EchoServer::serve_until_signalled() {
  while (received_stop_signal == 0) {
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    const int count = server_.fill_fdsets(readable, writable);
    const long wait_ms = server_.select_timeout(std::chrono::seconds(1)).count();
    const timespec timeout{wait_ms / 1000, wait_ms % 1000 * 1000000};
    if (::pselect(count, &readable, &writable, nullptr, &timeout, &waiting_mask_) < 0)
      FD_ZERO(&readable); // EINTR: a stop signal, seen at the top of the loop
    server_.process(readable);
    note_queue_depth();
  }
}

int EchoServer::stop_signal() const noexcept { return received_stop_signal; }

} // namespace rpc_demo
