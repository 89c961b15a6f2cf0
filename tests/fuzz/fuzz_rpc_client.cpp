// SPDX-License-Identifier: MIT
// fuzz_rpc_client.cpp - libFuzzer entry point for the RPC client model.
#include <cstdio>
#include <cstdlib>

#include "rpc_client_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string problem = qio_fuzz::run_rpc_client_model(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "rpc client model: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
