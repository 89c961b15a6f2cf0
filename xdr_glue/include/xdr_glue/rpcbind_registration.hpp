// SPDX-License-Identifier: MIT
// xdr_glue/rpcbind_registration.hpp - announcing a TCP program version to
// the machine's rpcbind for as long as an object lives.
//
// xdr_glue::rpc::Server does not register itself: most of its clients are
// given the port. Registration is for clients that look programs up, such
// as clnt_create(host, PROG, VERS, "tcp") and Debian's rpcinfo (whose
// `rpcinfo -n PORT -t HOST PROG VERS` asks rpcbind first whatever -n says).
//
//   xdr_glue::rpc::RpcbindRegistration registered(PROG, VERS, port);
//   ... serve; the destructor unregisters ...
#ifndef XDR_GLUE_RPCBIND_REGISTRATION_HPP
#define XDR_GLUE_RPCBIND_REGISTRATION_HPP

#include <rpc/rpc.h> // rpcprog_t, rpcvers_t

#include <cstdint> // std::uint16_t

#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports

namespace xdr_glue::rpc {

// True if an rpcbind answers on this machine (its Unix socket, or TCP port
// 111 on 127.0.0.1). Checked first because libtirpc's registration calls
// wait for seconds when there is none.
XDR_GLUE_EXPORT bool rpcbind_is_running();

class RpcbindRegistration {
public:
  // Registers (program, version) over TCP at 127.0.0.1:port, replacing any
  // registration of that program and version left by an earlier run. Uses
  // rpcb_set with an address of its own rather than pmap_set, which leaks
  // the address it builds (libtirpc 1.3.3). Throws std::runtime_error if
  // rpcbind is not running or refuses.
  XDR_GLUE_EXPORT RpcbindRegistration(rpcprog_t program, rpcvers_t version,
                                      std::uint16_t port);
  // Unregisters (program, version).
  XDR_GLUE_EXPORT ~RpcbindRegistration();
  RpcbindRegistration(const RpcbindRegistration&) = delete;
  RpcbindRegistration& operator=(const RpcbindRegistration&) = delete;

private:
  rpcprog_t program_;
  rpcvers_t version_;
};

} // namespace xdr_glue::rpc

#endif // XDR_GLUE_RPCBIND_REGISTRATION_HPP
