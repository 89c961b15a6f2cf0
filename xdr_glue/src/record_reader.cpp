// SPDX-License-Identifier: MIT
// record_reader.cpp - reading record-marked input without blocking.
#include "xdr_glue/record_reader.hpp"
#include "error.hpp"

#include <poll.h>       // poll, for descriptors that are not sockets
#include <sys/socket.h> // recv, MSG_DONTWAIT
#include <sys/stat.h>   // fstat, S_ISSOCK
#include <unistd.h>     // read

#include <algorithm> // std::min
#include <cerrno>    // errno values

namespace xdr_glue {
namespace {

// At most one read() of this size per system call; records larger than
// it simply take several reads.
constexpr std::size_t read_chunk_size = 64 * 1024;

bool descriptor_is_socket(int fd) noexcept {
  struct stat status {};
  return ::fstat(fd, &status) == 0 && S_ISSOCK(status.st_mode);
}

} // namespace

std::error_code decode_record(std::span<char> record, xdrproc_t decode, void* object) {
  XDR stream;
  xdrmem_create(&stream, record.data(), static_cast<u_int>(record.size()), XDR_DECODE);
  const bool decoded = decode(&stream, object) != 0;
  XDR_DESTROY(&stream);
  if (decoded)
    return {};
  xdr_free(decode, object); // a half-decoded object may own memory
  return error_of(EBADMSG);
}

// A reader with a small max_record needs no 64 KiB buffer, and allocates
// nothing larger than max_record.
RecordReader::RecordReader(int fd, ReaderLimits limits)
    : fd_(fd), is_socket_(descriptor_is_socket(fd)), assembler_(limits),
      buffer_(std::min(read_chunk_size, assembler_.limits().max_record)) {}

// A socket is read with MSG_DONTWAIT; anything else is polled first, so a
// descriptor left blocking never blocks us either. Reads at most `length`
// bytes, which must not be 0 (0 bytes read means end of file).
RecordReader::ReadResult RecordReader::read_some(std::size_t length) {
  for (;;) {
    ssize_t count;
    if (is_socket_) {
      count = ::recv(fd_, buffer_.data(), length, MSG_DONTWAIT);
    } else {
      pollfd readiness{fd_, POLLIN, 0};
      const int ready = ::poll(&readiness, 1, 0);
      if (ready == 0)
        return {0, EAGAIN};
      if (ready < 0 && errno != EINTR)
        return {0, errno};
      count = ready < 0 ? -1 : ::read(fd_, buffer_.data(), length);
    }
    if (count >= 0)
      return {static_cast<std::size_t>(count), 0};
    if (errno != EINTR)
      return {0, errno == EWOULDBLOCK ? EAGAIN : errno};
  }
}

// Each read is cut to the assembler's input room, so what it stores stays
// within its storage limit however the bytes divide into records. Once
// the room is 0, complete records wait: take them and fill again.
std::error_code RecordReader::fill() {
  const std::size_t backlog_limit = assembler_.limits().max_record;
  while (!assembler_.status() && assembler_.ready_bytes() < backlog_limit &&
         assembler_.input_room() > 0) {
    const ReadResult result = read_some(std::min(buffer_.size(), assembler_.input_room()));
    if (result.bytes > 0) {
      assembler_.feed({buffer_.data(), result.bytes});
    } else if (result.error == EAGAIN) {
      return {};
    } else if (result.error == 0) {
      assembler_.end_of_input();
    } else {
      assembler_.stop(error_of(result.error));
    }
  }
  return assembler_.status();
}

std::error_code RecordReader::next(std::vector<char>& record) {
  return assembler_.next(record);
}

std::error_code RecordReader::decode(xdrproc_t decode, void* object) {
  std::vector<char> record;
  if (const std::error_code status = next(record))
    return status;
  return decode_record(record, decode, object);
}

} // namespace xdr_glue
