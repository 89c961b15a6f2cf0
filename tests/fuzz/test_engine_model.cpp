// SPDX-License-Identifier: MIT
// test_engine_model.cpp - the fuzzer's model, run in every build: over the
// kept corpus, and over seeded random operation strings.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "engine_model.hpp"

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("every input of the kept fuzz corpus keeps the engine's promises", "[fuzz]") {
  const std::filesystem::path corpus = QIO_ENGINE_CORPUS;
  std::size_t inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    const std::vector<std::uint8_t> bytes = read_bytes(entry.path());
    CAPTURE(entry.path().filename().string());
    CHECK(qio_fuzz::run_engine_model(bytes.data(), bytes.size()) == "");
    ++inputs;
  }
  CHECK(inputs > 0);
}

TEST_CASE("random operation strings keep the engine's promises", "[fuzz]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u);
  std::mt19937 random(seed);
  for (int round = 0; round < 250; ++round) {
    std::vector<std::uint8_t> bytes(64 + random() % 2048);
    for (auto& byte : bytes)
      byte = static_cast<std::uint8_t>(random());
    CAPTURE(seed, round);
    REQUIRE(qio_fuzz::run_engine_model(bytes.data(), bytes.size()) == "");
  }
}
