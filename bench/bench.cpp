// SPDX-License-Identifier: MIT
// bench.cpp - the pattern, the message stream, the RSS probe and errno's
// text.
#include "bench.hpp"

#include <unistd.h> // sysconf

#include <cerrno>  // errno
#include <cstring> // std::strerror
#include <fstream> // /proc/self/statm

#include <fmt/format.h>

namespace bench {

Pattern::Pattern() : bytes_(period + longest_slice) {
  for (std::size_t i = 0; i < bytes_.size(); ++i)
    bytes_[i] = static_cast<char>(i % period);
}

const Pattern& Pattern::instance() {
  static const Pattern pattern;
  return pattern;
}

MessageStream::MessageStream(std::size_t message_size)
    : base_(Pattern::instance().at(0)), size_(message_size), step_(message_size % Pattern::period) {
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total_pages = 0;
  std::size_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages))
    return 0;
  return resident_pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string errno_text(const char* call) {
  return fmt::format("{}: {}", call, std::strerror(errno));
}

} // namespace bench
