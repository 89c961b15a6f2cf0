// SPDX-License-Identifier: MIT
// slow_reader.cpp - opaque<> decoded a chunk at a time, with pauses.
#include "slow_reader.hpp"

#include <algorithm> // std::min
#include <cstdlib>   // std::malloc
#include <thread>    // std::this_thread::sleep_for

namespace rpc_demo {
namespace {

std::size_t chunk_size = 64 * 1024;
std::chrono::milliseconds pause_before_chunk{25};

} // namespace

void set_slow_reading_pace(std::size_t chunk_bytes, std::chrono::milliseconds pause) {
  chunk_size = chunk_bytes;
  pause_before_chunk = pause;
}

bool_t xdr_echo_data_slowly(XDR* xdrs, echo_data* data) {
  if (xdrs->x_op != XDR_DECODE)
    return xdr_echo_data(xdrs, data);
  u_int length = 0;
  if (!xdr_u_int(xdrs, &length) || length > ECHO_MAX_BYTES)
    return FALSE;
  // Released by xdr_free(xdr_echo_data, ...), which calls free().
  data->echo_data_val = length > 0 ? static_cast<char*>(std::malloc(length)) : nullptr;
  data->echo_data_len = length;
  if (length > 0 && data->echo_data_val == nullptr)
    return FALSE;
  // Every chunk but the last is a multiple of 4, so only the last one
  // carries the padding, exactly where opaque<> puts it.
  for (u_int offset = 0; offset < length;) {
    const auto take = static_cast<u_int>(std::min<std::size_t>(chunk_size, length - offset));
    std::this_thread::sleep_for(pause_before_chunk);
    if (!xdr_opaque(xdrs, data->echo_data_val + offset, take))
      return FALSE;
    offset += take;
  }
  return TRUE;
}

} // namespace rpc_demo
