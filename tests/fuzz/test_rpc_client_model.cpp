// test_rpc_client_model.cpp - the RPC client fuzzer's model, run in every
// build: over the kept corpus, and over seeded random reply streams.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "rpc_client_model.hpp"

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("every input of the kept fuzz corpus keeps the RPC client's promises",
          "[fuzz][rpc_client]") {
  INFO("allocation sizes checked in this build: "
       << qio_fuzz::rpc_client_model_checks_allocations());
  const std::filesystem::path corpus = QIO_RPC_CLIENT_CORPUS;
  std::size_t inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    const std::vector<std::uint8_t> bytes = read_bytes(entry.path());
    CAPTURE(entry.path().filename().string());
    CHECK(qio_fuzz::run_rpc_client_model(bytes.data(), bytes.size()) == "");
    ++inputs;
  }
  CHECK(inputs > 0);
}

TEST_CASE("random reply streams keep the RPC client's promises", "[fuzz][rpc_client]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u);
  std::mt19937 random(seed);
  for (int round = 0; round < 100; ++round) {
    std::vector<std::uint8_t> bytes(3 + random() % 1024);
    for (auto& byte : bytes)
      byte = static_cast<std::uint8_t>(random());
    CAPTURE(seed, round);
    REQUIRE(qio_fuzz::run_rpc_client_model(bytes.data(), bytes.size()) == "");
  }
}
