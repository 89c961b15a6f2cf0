// SPDX-License-Identifier: MIT
// engine_model.hpp - drives a qio::Engine with a byte string of operations
// against a simulated kernel and checks the promises qio makes.
//
// Each input byte chooses an operation (configure, write, flush, prune,
// terminate, read, or how the simulated kernel answers the next system
// calls: all, part, EAGAIN, EINTR, ENOBUFS, EPIPE, ECONNRESET). Callbacks
// sometimes queue more or terminate a channel from inside a flush. At the
// end every channel is terminated and the model checks that:
//   - every accepted request completed exactly once;
//   - writes completed in request order on each channel;
//   - the bytes the simulated peer received on a channel are exactly, in
//     order, each write's first `length` bytes as its completion reported;
//   - the engine's pending counts match the model's.
// Used by the libFuzzer target and by a replay test over the kept corpus.
#ifndef QIO_TESTS_FUZZ_ENGINE_MODEL_HPP
#define QIO_TESTS_FUZZ_ENGINE_MODEL_HPP

#include <cstddef>
#include <cstdint>
#include <string>

namespace qio_fuzz {

// Runs one input. Returns an empty string if every promise held, else a
// description of the first broken one.
std::string run_engine_model(const std::uint8_t* data, std::size_t size);

} // namespace qio_fuzz

#endif // QIO_TESTS_FUZZ_ENGINE_MODEL_HPP
