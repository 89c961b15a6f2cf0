// SPDX-License-Identifier: MIT
// corpus.hpp - inputs for the models' replay tests: the kept corpus a
// fuzzer starts from, and seeded random byte strings.
#ifndef QIO_TESTS_FUZZ_CORPUS_HPP
#define QIO_TESTS_FUZZ_CORPUS_HPP

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace qio_fuzz {

struct CorpusInput {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

// Every file of the kept corpus in `folder`.
inline std::vector<CorpusInput> read_corpus(const std::filesystem::path& folder) {
  std::vector<CorpusInput> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.push_back({entry.path().filename().string(),
                      {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}});
  }
  return inputs;
}

// `minimum` to `minimum + spread - 1` random bytes.
inline std::vector<std::uint8_t> random_input(std::mt19937& random, std::size_t minimum,
                                              std::size_t spread) {
  std::vector<std::uint8_t> bytes(minimum + random() % spread);
  for (auto& byte : bytes)
    byte = static_cast<std::uint8_t>(random());
  return bytes;
}

} // namespace qio_fuzz

#endif // QIO_TESTS_FUZZ_CORPUS_HPP
