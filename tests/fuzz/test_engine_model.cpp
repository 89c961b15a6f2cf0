// SPDX-License-Identifier: MIT
// test_engine_model.cpp - the fuzzer's model, run in every build: over the
// kept corpus, and over seeded random operation strings.
#include <catch2/catch.hpp>

#include "corpus.hpp"
#include "engine_model.hpp"

TEST_CASE("every input of the kept fuzz corpus keeps the engine's promises", "[fuzz]") {
  const auto inputs = qio_fuzz::read_corpus(QIO_ENGINE_CORPUS);
  CHECK_FALSE(inputs.empty());
  for (const qio_fuzz::CorpusInput& input : inputs) {
    CAPTURE(input.name);
    CHECK(qio_fuzz::run_engine_model(input.bytes.data(), input.bytes.size()) == "");
  }
}

TEST_CASE("random operation strings keep the engine's promises", "[fuzz]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u);
  std::mt19937 random(seed);
  for (int round = 0; round < 250; ++round) {
    const std::vector<std::uint8_t> bytes = qio_fuzz::random_input(random, 64, 2048);
    CAPTURE(seed, round);
    REQUIRE(qio_fuzz::run_engine_model(bytes.data(), bytes.size()) == "");
  }
}
