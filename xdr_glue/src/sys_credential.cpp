// SPDX-License-Identifier: MIT
// sys_credential.cpp - AUTH_SYS bodies, read with libtirpc's primitives.
#include "sys_credential.hpp"

namespace xdr_glue::rpc::detail {
namespace {

bool decode_groups(XDR& stream, DecodedSysCredential& out) {
  std::uint32_t count = 0;
  if (!xdr_u_int32_t(&stream, &count) || count > NGRPS)
    return false;
  for (std::uint32_t i = 0; i < count; ++i)
    if (!xdr_u_int32_t(&stream, &out.groups[i]))
      return false;
  out.view.groups = {out.groups, count};
  return true;
}

} // namespace

bool decode_sys_credential(std::span<char> body, DecodedSysCredential& out) {
  XDR stream;
  xdrmem_create(&stream, body.data(), static_cast<u_int>(body.size()), XDR_DECODE);
  char* name = out.machine_name; // xdr_string decodes into it: never allocates
  const bool decoded = xdr_u_int32_t(&stream, &out.view.stamp) &&
                       xdr_string(&stream, &name, MAX_MACHINE_NAME) &&
                       xdr_u_int32_t(&stream, &out.view.uid) &&
                       xdr_u_int32_t(&stream, &out.view.gid) && decode_groups(stream, out);
  XDR_DESTROY(&stream);
  if (decoded)
    out.view.machine_name = out.machine_name;
  return decoded;
}

} // namespace xdr_glue::rpc::detail
