// SPDX-License-Identifier: MIT
// rpc_messages.hpp - decoding RPC calls and encoding RPC replies with
// libtirpc's xdr_callmsg and xdr_replymsg.
#ifndef XDR_GLUE_SRC_RPC_MESSAGES_HPP
#define XDR_GLUE_SRC_RPC_MESSAGES_HPP

#include <rpc/rpc.h> // rpc_msg, accept_stat, auth_stat (libtirpc)

#include <cstdint> // std::uint32_t
#include <span>    // std::span
#include <vector>  // std::vector, encoded replies

namespace xdr_glue::rpc::detail {

// The first three words of a call: enough to answer even a call whose
// RPC version xdr_callmsg refuses to decode.
struct CallPrefix {
  std::uint32_t xid = 0;
  std::uint32_t direction = 0;
  std::uint32_t rpc_version = 0;
};

// False if the record is too short to hold them.
bool read_call_prefix(std::span<char> record, CallPrefix& prefix);

// A decoded call header with room for its credential and verifier, so
// xdr_callmsg never allocates them.
struct DecodedCall {
  rpc_msg message{};
  char credential[MAX_AUTH_BYTES] = {};
  char verifier[MAX_AUTH_BYTES] = {};
};

// Decodes the call header from `stream`, which is left at the arguments.
bool decode_call(XDR& stream, DecodedCall& call);

// Each returns a whole reply message, ready to be queued as one record,
// or an empty vector if it could not be encoded (for success_reply: the
// result's encoder failed).
std::vector<char> success_reply(std::uint32_t xid, xdrproc_t encode_result, void* result);
// PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS or SYSTEM_ERR.
std::vector<char> accept_error_reply(std::uint32_t xid, accept_stat status);
std::vector<char> program_mismatch_reply(std::uint32_t xid, rpcvers_t low, rpcvers_t high);
std::vector<char> rpc_mismatch_reply(std::uint32_t xid);
std::vector<char> auth_error_reply(std::uint32_t xid, auth_stat why);

// ---- the client's side -------------------------------------------------------

// What a call says before its arguments.
struct CallHeader {
  std::uint32_t xid = 0;
  rpcprog_t program = 0;
  rpcvers_t version = 0;
  rpcproc_t procedure = 0;
  AUTH* credentials = nullptr; // marshalled with AUTH_MARSHALL
};

// A whole call message (header, credentials, arguments), or an empty
// vector if the arguments would not encode or the message would exceed
// what an XDR memory stream can count (4 GiB).
std::vector<char> call_message(const CallHeader& header, xdrproc_t encode_arguments,
                               const void* arguments);

// The first two words of any message.
struct MessagePrefix {
  std::uint32_t xid = 0;
  std::uint32_t direction = 0;
};

// False if the record is too short to hold them.
bool read_message_prefix(std::span<const char> record, MessagePrefix& prefix);

// A decoded reply header with room for its verifier, so xdr_replymsg never
// allocates it.
struct DecodedReply {
  rpc_msg message{};
  char verifier[MAX_AUTH_BYTES] = {};
};

// Decodes a reply's header from `stream`; when the call was accepted with
// SUCCESS the stream is left at the results. False if it is not a well
// formed reply.
bool decode_reply_header(XDR& stream, DecodedReply& reply);

// The reply's outcome as libtirpc states it (_seterr_reply): re_status,
// and re_vers or re_why where the reply carries them.
rpc_err reply_status(DecodedReply& reply);

} // namespace xdr_glue::rpc::detail

#endif // XDR_GLUE_SRC_RPC_MESSAGES_HPP
