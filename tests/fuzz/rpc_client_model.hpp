// SPDX-License-Identifier: MIT
// rpc_client_model.hpp - feeds an arbitrary reply stream, in arbitrary
// pieces, to an xdr_glue::rpc::Client with calls pending, and checks the
// promises the client makes.
//
// Input layout: byte 0 picks max_reply (1 KiB to 16 KiB), byte 1 how many
// calls are made (1 to 8) and which ones have a timeout, byte 2 seeds the
// chunking, the clock's steps and whether the run ends with end of file or
// with the client destroyed; the rest is what the server sends. xids count
// from 1, so inputs can answer the calls. The checks:
//   - every call completes exactly once, only from poll or the destructor;
//   - pending() counts exactly the calls not yet completed;
//   - after end of file, poll reports a failure and call returns EPIPE;
//   - under AddressSanitizer, no allocation made while the client reads
//     is larger than max_reply.
// Used by the libFuzzer target and by a replay test over the kept corpus.
#ifndef QIO_TESTS_FUZZ_RPC_CLIENT_MODEL_HPP
#define QIO_TESTS_FUZZ_RPC_CLIENT_MODEL_HPP

#include <cstddef>
#include <cstdint>
#include <string>

namespace qio_fuzz {

// Runs one input. Returns an empty string if every promise held, else a
// description of the first broken one.
std::string run_rpc_client_model(const std::uint8_t* data, std::size_t size);

// Whether run_rpc_client_model can see allocation sizes in this build.
bool rpc_client_model_checks_allocations() noexcept;

} // namespace qio_fuzz

#endif // QIO_TESTS_FUZZ_RPC_CLIENT_MODEL_HPP
