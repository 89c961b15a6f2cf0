// SPDX-License-Identifier: MIT
// sys_credential.hpp - decoding AUTH_SYS credential bodies.
#ifndef XDR_GLUE_SRC_SYS_CREDENTIAL_HPP
#define XDR_GLUE_SRC_SYS_CREDENTIAL_HPP

#include <rpc/rpc.h> // MAX_MACHINE_NAME, NGRPS (libtirpc)

#include <cstdint> // std::uint32_t
#include <span>    // std::span, the body

#include "xdr_glue/rpc_server.hpp" // SysCredential

namespace xdr_glue::rpc::detail {

// A decoded body: the storage the view points into.
struct DecodedSysCredential {
  char machine_name[MAX_MACHINE_NAME + 1] = {};
  std::uint32_t groups[NGRPS] = {};
  SysCredential view;
};

// Decodes an AUTH_SYS body as libtirpc's servers read one: a stamp, a
// machine name of at most 255 bytes, uid, gid and at most 16 groups, all
// within the body (bytes after them are ignored). False for anything
// else, which the server refuses with AUTH_BADCRED.
bool decode_sys_credential(std::span<char> body, DecodedSysCredential& out);

} // namespace xdr_glue::rpc::detail

#endif // XDR_GLUE_SRC_SYS_CREDENTIAL_HPP
