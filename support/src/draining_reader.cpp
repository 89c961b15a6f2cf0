// SPDX-License-Identifier: MIT
// draining_reader.cpp - the reading loop.
#include "support/draining_reader.hpp"

#include <unistd.h> // read

#include <cerrno>  // errno, EINTR
#include <cstring> // std::strerror
#include <memory>  // std::make_unique, the read buffer
#include <utility> // std::move

#include <fmt/core.h>

namespace support {

DrainingReader::DrainingReader(UniqueFd fd, Consumer consume, std::size_t chunk_bytes)
    : fd_(std::move(fd)), consume_(std::move(consume)),
      thread_([this, chunk_bytes] { run(chunk_bytes); }) {}

DrainingReader::~DrainingReader() {
  if (thread_.joinable())
    thread_.join();
}

DrainOutcome DrainingReader::join() {
  thread_.join();
  return outcome_;
}

void DrainingReader::run(std::size_t chunk_bytes) {
  const auto buffer = std::make_unique<char[]>(chunk_bytes);
  for (;;) {
    const ssize_t got = ::read(fd_.get(), buffer.get(), chunk_bytes);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      outcome_.error = fmt::format("read: {}", std::strerror(errno));
      break;
    }
    if (got == 0)
      break;
    const auto length = static_cast<std::size_t>(got);
    consume_({buffer.get(), length}, outcome_.bytes);
    outcome_.bytes += length;
  }
  outcome_.finished = std::chrono::steady_clock::now();
  fd_.reset();
}

} // namespace support
