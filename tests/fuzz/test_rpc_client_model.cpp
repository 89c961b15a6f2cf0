// SPDX-License-Identifier: MIT
// test_rpc_client_model.cpp - the RPC client fuzzer's model, run in every
// build: over the kept corpus, and over seeded random reply streams.
#include <catch2/catch.hpp>

#include "corpus.hpp"
#include "rpc_client_model.hpp"

TEST_CASE("every input of the kept fuzz corpus keeps the RPC client's promises",
          "[fuzz][rpc_client]") {
  INFO("allocation sizes checked in this build: "
       << qio_fuzz::rpc_client_model_checks_allocations());
  const auto inputs = qio_fuzz::read_corpus(QIO_RPC_CLIENT_CORPUS);
  CHECK_FALSE(inputs.empty());
  for (const qio_fuzz::CorpusInput& input : inputs) {
    CAPTURE(input.name);
    CHECK(qio_fuzz::run_rpc_client_model(input.bytes.data(), input.bytes.size()) == "");
  }
}

TEST_CASE("random reply streams keep the RPC client's promises", "[fuzz][rpc_client]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u);
  std::mt19937 random(seed);
  for (int round = 0; round < 100; ++round) {
    const std::vector<std::uint8_t> bytes = qio_fuzz::random_input(random, 3, 1024);
    CAPTURE(seed, round);
    REQUIRE(qio_fuzz::run_rpc_client_model(bytes.data(), bytes.size()) == "");
  }
}
