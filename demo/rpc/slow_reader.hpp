// SPDX-License-Identifier: MIT
// slow_reader.hpp - a client that reads its replies slowly, with nothing
// but libtirpc: an XDR routine for echo_data that takes the bytes a chunk
// at a time with a pause before each chunk.
//
// clnt_call decodes a reply as it reads it from the socket, so a decoding
// routine that pauses is a reader that pauses: the rest of the reply stays
// on the server, in its qio queue for this client. The wire format is
// exactly opaque<> (length, bytes, padding), so this routine and
// xdr_echo_data are interchangeable.
#ifndef QIO_DEMO_RPC_SLOW_READER_HPP
#define QIO_DEMO_RPC_SLOW_READER_HPP

#include <chrono>  // std::chrono::milliseconds
#include <cstddef> // std::size_t

#include "echo.h" // rpcgen: echo_data

namespace rpc_demo {

// xdrproc_t carries no context, so the pace is set here, for the process.
// `chunk_bytes` must be a multiple of 4 (XDR's unit).
void set_slow_reading_pace(std::size_t chunk_bytes, std::chrono::milliseconds pause);

// Decodes (slowly) or frees an echo_data; encodes like xdr_echo_data.
bool_t xdr_echo_data_slowly(XDR* xdrs, echo_data* data);

} // namespace rpc_demo

#endif // QIO_DEMO_RPC_SLOW_READER_HPP
