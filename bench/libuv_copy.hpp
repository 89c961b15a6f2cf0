// SPDX-License-Identifier: MIT
// libuv_copy.hpp - how a libuv user queues a message it does not own.
#ifndef QIO_BENCH_LIBUV_COPY_HPP
#define QIO_BENCH_LIBUV_COPY_HPP

#include <uv.h>

#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t

// What the write callbacks saw.
struct UvTally {
  std::uint64_t completed = 0;
  int first_error = 0;
};

// Copies `size` bytes into one heap block after a uv_write_t and queues it
// with uv_write; the callback counts it in `tally` and frees the block.
// Returns 0 or a libuv error. A plain C name, so callgrind can be told to
// count exactly this function (--toggle-collect=qio_bench_uv_write_copy).
extern "C" int qio_bench_uv_write_copy(uv_stream_t* stream, const char* data, std::size_t size,
                                       UvTally* tally);

#endif // QIO_BENCH_LIBUV_COPY_HPP
