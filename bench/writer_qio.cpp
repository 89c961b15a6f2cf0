// SPDX-License-Identifier: MIT
// writer_qio.cpp - qio_write per message, flushed as a select loop would.
#include <sys/select.h> // select
#include <unistd.h>     // close

#include <algorithm> // std::max
#include <cerrno>    // EINTR
#include <cstring>   // std::strerror

#include <fmt/format.h>

#include "qio/qio.h"
#include "writers.hpp"

namespace bench {

void wait_qio_writable() {
  fd_set write_mask;
  FD_ZERO(&write_mask);
  const int highest = qio_fdset(&write_mask);
  if (highest > 0)
    ::select(highest, nullptr, &write_mask, nullptr, nullptr);
}

namespace {

// What the per-message ASTs saw.
struct AstTally {
  std::uint64_t completed = 0;
  std::uint64_t wrong = 0; // an error, or a length other than the message's
  int expected_length = 0;
};

void count_completion(int error_code, int, int, char*, int length, void* ast_arg) {
  auto& tally = *static_cast<AstTally*>(ast_arg);
  ++tally.completed;
  if (error_code != 0 || length != tally.expected_length)
    ++tally.wrong;
}

// Queues `count` messages; returns 0 or qio_write's error.
int produce(int fd, MessageStream& stream, std::size_t count, AstTally* tally) {
  const int length = static_cast<int>(stream.message_size());
  for (std::size_t i = 0; i < count; ++i)
    if (const int error =
            qio_write(fd, stream.next(), length, tally ? count_completion : nullptr, tally))
      return error;
  return 0;
}

std::string check_asts(const AstTally& tally, std::uint64_t messages) {
  if (tally.completed != messages || tally.wrong != 0)
    return fmt::format("{} ASTs for {} messages, {} with an error or a wrong length",
                       tally.completed, messages, tally.wrong);
  return {};
}

} // namespace

WriterResult write_qio(int fd, const Workload& workload, bool with_ast) {
  WriterResult result;
  if (const int error = qio_configure(fd, 1, 1, -1)) {
    ::close(fd);
    return {0, 0, fmt::format("qio_configure: {}", std::strerror(error))};
  }
  AstTally tally;
  tally.expected_length = static_cast<int>(workload.message_size);
  MessageStream stream(workload.message_size);
  const std::size_t backlog =
      std::max<std::size_t>(1, workload.backlog_bytes / workload.message_size);
  bool producing = true;
  while (producing || qio_pendc(fd) > 0) {
    if (producing) {
      const auto pending = static_cast<std::size_t>(qio_pendc(fd));
      if (const int error = produce(fd, stream, backlog - std::min(backlog, pending),
                                    with_ast ? &tally : nullptr)) {
        result.error = fmt::format("qio_write: {}", std::strerror(error));
        break;
      }
      producing = Clock::now() < workload.deadline;
    }
    qio_flush();
    const auto pending = static_cast<std::size_t>(qio_pendc(fd));
    if (pending >= backlog || (!producing && pending > 0))
      wait_qio_writable();
  }
  qio_termc(fd);
  ::close(fd);
  result.messages = stream.messages();
  result.bytes = stream.bytes();
  if (with_ast && result.error.empty())
    result.error = check_asts(tally, result.messages);
  return result;
}

} // namespace bench
