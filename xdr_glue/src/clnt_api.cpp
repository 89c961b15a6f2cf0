// SPDX-License-Identifier: MIT
// clnt_api.cpp - the xdr_qio_clnt_* functions: the C++ client core on qio's
// process-wide engine, with C completion routines.
#include "xdr_glue/xdr_qio_clnt.h"

#include <cerrno>  // errno values
#include <climits> // INT_MAX
#include <new>     // std::bad_alloc, std::nothrow

#include "qio/qio.h"
#include "rpc_client_core.hpp"
#include "transports.hpp"

struct xdr_qio_clnt {
  xdr_qio_clnt(int channel, rpcprog_t program, rpcvers_t version,
               const xdr_glue::rpc::ClientOptions& options)
      : core(xdr_glue::detail::process_engine_transport(), channel, program, version, options) {}
  xdr_glue::rpc::detail::ClientCore core;
};

namespace {

int clamp_count(std::size_t count) noexcept {
  return count > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(count);
}

// The C routine and what it needs, three pointers: stored in the call's own
// bookkeeping without an allocation.
struct CReply {
  xdr_qio_reply_fn done;
  void* result;
  void* argument;
  void operator()(std::error_code error, const rpc_err& status) const {
    done(&status, error ? nullptr : result, argument);
  }
};

} // namespace

extern "C" {

xdr_qio_clnt* xdr_qio_clnt_create(int channel, rpcprog_t prog, rpcvers_t vers,
                                  unsigned max_reply) {
  // qio's C API tells a channel from another descriptor only through
  // calls that act on it; flushing is the one that changes nothing.
  if (channel < 0 || qio_flushc(channel) == EBADF) {
    errno = EBADF;
    return nullptr;
  }
  xdr_glue::rpc::ClientOptions options;
  options.max_reply = max_reply; // 0 picks the default
  try {
    return new xdr_qio_clnt(channel, prog, vers, options);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return nullptr;
  } catch (const std::system_error& error) {
    errno = error.code().value();
    return nullptr;
  }
}

int xdr_qio_clnt_call(xdr_qio_clnt* clnt, rpcproc_t proc, xdrproc_t xargs, void* args,
                      xdrproc_t xres, void* result, int timeout_ms, xdr_qio_reply_fn done,
                      void* arg) {
  if (clnt == nullptr || done == nullptr || timeout_ms < -1)
    return EINVAL;
  const std::chrono::milliseconds timeout =
      timeout_ms == -1 ? xdr_glue::rpc::no_timeout : std::chrono::milliseconds(timeout_ms);
  return clnt->core.call(proc, xargs, args, xres, result, timeout, CReply{done, result, arg})
      .value();
}

int xdr_qio_clnt_poll(xdr_qio_clnt* clnt) {
  if (clnt == nullptr) {
    errno = EINVAL;
    return -1;
  }
  const xdr_glue::rpc::PollResult polled = clnt->core.poll();
  if (polled.failure) {
    errno = polled.failure.value();
    return -1;
  }
  return clamp_count(polled.completed);
}

int xdr_qio_clnt_pending(const xdr_qio_clnt* clnt) {
  return clnt == nullptr ? 0 : clamp_count(clnt->core.pending());
}

int xdr_qio_clnt_fd(const xdr_qio_clnt* clnt) { return clnt == nullptr ? -1 : clnt->core.fd(); }

void xdr_qio_clnt_destroy(xdr_qio_clnt* clnt) { delete clnt; } // the core cancels

} // extern "C"
