// SPDX-License-Identifier: MIT
// fuzz_engine.cpp - libFuzzer entry point for the engine model.
#include <cstdio>
#include <cstdlib>

#include "engine_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string problem = qio_fuzz::run_engine_model(data, size);
  if (!problem.empty()) {
    std::fprintf(stderr, "engine model: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
