// SPDX-License-Identifier: MIT
// rpc_messages.cpp - RPC message headers in and out.
//
// Replies and calls are encoded in memory first, sized by xdr_sizeof: a
// result that fails to encode then costs nothing on the wire and can be
// answered with SYSTEM_ERR instead of leaving half a record in the client's
// stream, and a call that fails to encode is refused before anything is
// queued.
#include "rpc_messages.hpp"

#include <cstdarg> // std::va_list, encode_whole_call's argument
#include <limits>  // std::numeric_limits

#include "xdr_glue/rpc_server.hpp" // void_xdrproc

namespace xdr_glue::rpc::detail {
namespace {

// Encodes `object` into exactly the memory xdr_sizeof says it takes; empty
// if it does not encode, or would exceed what XDR memory streams count.
std::vector<char> encode_in_memory(xdrproc_t encode, void* object) {
  const unsigned long size = xdr_sizeof(encode, object);
  if (size == 0 || size > std::numeric_limits<u_int>::max())
    return {};
  std::vector<char> encoded(size);
  XDR stream;
  xdrmem_create(&stream, encoded.data(), static_cast<u_int>(size), XDR_ENCODE);
  const bool ok = encode(&stream, object) != 0;
  XDR_DESTROY(&stream);
  if (!ok)
    encoded.clear();
  return encoded;
}

std::vector<char> encode_reply(rpc_msg& reply) {
  return encode_in_memory(reinterpret_cast<xdrproc_t>(&xdr_replymsg), &reply);
}

rpc_msg accepted(std::uint32_t xid, accept_stat status) {
  rpc_msg reply{};
  reply.rm_xid = xid;
  reply.rm_direction = REPLY;
  reply.rm_reply.rp_stat = MSG_ACCEPTED;
  reply.rm_reply.rp_acpt.ar_verf = _null_auth;
  reply.rm_reply.rp_acpt.ar_stat = status;
  reply.rm_reply.rp_acpt.ar_results.where = nullptr;
  reply.rm_reply.rp_acpt.ar_results.proc = void_xdrproc();
  return reply;
}

rpc_msg denied(std::uint32_t xid, reject_stat status) {
  rpc_msg reply{};
  reply.rm_xid = xid;
  reply.rm_direction = REPLY;
  reply.rm_reply.rp_stat = MSG_DENIED;
  reply.rm_reply.rp_rjct.rj_stat = status;
  return reply;
}

// The first words of a record, big-endian as XDR writes them.
bool read_leading_words(std::span<const char> record, std::span<std::uint32_t> words) {
  XDR stream;
  // Decoding never writes through the pointer xdrmem takes.
  xdrmem_create(&stream, const_cast<char*>(record.data()), static_cast<u_int>(record.size()),
                XDR_DECODE);
  bool ok = true;
  for (std::uint32_t& word : words)
    ok = ok && xdr_u_int32_t(&stream, &word);
  XDR_DESTROY(&stream);
  return ok;
}

struct CallToEncode {
  rpc_msg header;
  AUTH* credentials;
  xdrproc_t encode_arguments;
  void* arguments;
};

// xdr_callhdr stops before the procedure number, as libtirpc's own clients
// encode that header once and the procedure per call. Of xdrproc_t's own
// type, so calling it through one is well defined.
bool_t encode_whole_call(XDR* stream, ...) {
  std::va_list arguments;
  va_start(arguments, stream);
  CallToEncode* const call = va_arg(arguments, CallToEncode*);
  va_end(arguments);
  return xdr_callhdr(stream, &call->header) &&
         xdr_u_int32_t(stream, &call->header.rm_call.cb_proc) &&
         AUTH_MARSHALL(call->credentials, stream) &&
         call->encode_arguments(stream, call->arguments);
}

} // namespace

bool read_call_prefix(std::span<char> record, CallPrefix& prefix) {
  std::uint32_t words[3];
  if (!read_leading_words(record, words))
    return false;
  prefix = {words[0], words[1], words[2]};
  return true;
}

bool decode_call(XDR& stream, DecodedCall& call) {
  call.message.rm_call.cb_cred.oa_base = call.credential;
  call.message.rm_call.cb_verf.oa_base = call.verifier;
  return xdr_callmsg(&stream, &call.message) != 0;
}

std::vector<char> success_reply(std::uint32_t xid, xdrproc_t encode_result, void* result) {
  rpc_msg reply = accepted(xid, SUCCESS);
  reply.rm_reply.rp_acpt.ar_results.where = static_cast<caddr_t>(result);
  reply.rm_reply.rp_acpt.ar_results.proc = encode_result;
  return encode_reply(reply);
}

std::vector<char> accept_error_reply(std::uint32_t xid, accept_stat status) {
  rpc_msg reply = accepted(xid, status);
  return encode_reply(reply);
}

std::vector<char> program_mismatch_reply(std::uint32_t xid, rpcvers_t low, rpcvers_t high) {
  rpc_msg reply = accepted(xid, PROG_MISMATCH);
  reply.rm_reply.rp_acpt.ar_vers.low = low;
  reply.rm_reply.rp_acpt.ar_vers.high = high;
  return encode_reply(reply);
}

std::vector<char> rpc_mismatch_reply(std::uint32_t xid) {
  rpc_msg reply = denied(xid, RPC_MISMATCH);
  reply.rm_reply.rp_rjct.rj_vers.low = RPC_MSG_VERSION;
  reply.rm_reply.rp_rjct.rj_vers.high = RPC_MSG_VERSION;
  return encode_reply(reply);
}

std::vector<char> auth_error_reply(std::uint32_t xid, auth_stat why) {
  rpc_msg reply = denied(xid, AUTH_ERROR);
  reply.rm_reply.rp_rjct.rj_why = why;
  return encode_reply(reply);
}

// ---- the client's side -------------------------------------------------------

std::vector<char> call_message(const CallHeader& header, xdrproc_t encode_arguments,
                               const void* arguments) {
  CallToEncode call{};
  call.header.rm_xid = header.xid;
  call.header.rm_direction = CALL;
  call.header.rm_call.cb_rpcvers = RPC_MSG_VERSION;
  call.header.rm_call.cb_prog = header.program;
  call.header.rm_call.cb_vers = header.version;
  call.header.rm_call.cb_proc = header.procedure;
  call.credentials = header.credentials;
  call.encode_arguments = encode_arguments;
  call.arguments = const_cast<void*>(arguments); // encoders take a pointer, never write
  return encode_in_memory(&encode_whole_call, &call);
}

bool read_message_prefix(std::span<const char> record, MessagePrefix& prefix) {
  std::uint32_t words[2];
  if (!read_leading_words(record, words))
    return false;
  prefix = {words[0], words[1]};
  return true;
}

bool decode_reply_header(XDR& stream, DecodedReply& reply) {
  reply.message = rpc_msg{};
  reply.message.rm_reply.rp_acpt.ar_verf.oa_base = reply.verifier;
  reply.message.rm_reply.rp_acpt.ar_results.where = nullptr;
  reply.message.rm_reply.rp_acpt.ar_results.proc = void_xdrproc(); // results come later
  return xdr_replymsg(&stream, &reply.message) != 0 && reply.message.rm_direction == REPLY;
}

rpc_err reply_status(DecodedReply& reply) {
  rpc_err status{};
  _seterr_reply(&reply.message, &status);
  return status;
}

} // namespace xdr_glue::rpc::detail
