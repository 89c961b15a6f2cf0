// SPDX-License-Identifier: MIT
// channel.cpp - driving each kind of descriptor without blocking.
#include "channel.hpp"
#include "error.hpp"

#include <fcntl.h>      // O_NONBLOCK
#include <limits.h>     // PIPE_BUF
#include <poll.h>       // POLLOUT, POLLIN
#include <signal.h>     // SIGPIPE, sigset_t
#include <sys/socket.h> // MSG_NOSIGNAL, MSG_DONTWAIT
#include <sys/stat.h>   // S_ISSOCK, S_ISREG
#include <unistd.h>     // SEEK_SET

#include <algorithm> // std::min
#include <array>     // std::array
#include <cerrno>    // errno values

namespace qio::detail {
namespace {

// Sorts a failed call's errno into "try again later" and "hard error".
// EINTR never gets here: callers retry it at once.
IoResult classify_failure(int error) noexcept {
  if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS)
    return {IoResult::Status::later, 0, {}};
  return {IoResult::Status::failed, 0, error_of(error)};
}

template <class Call> IoResult retry_interrupted(Call call) {
  for (;;) {
    const ssize_t result = call();
    if (result >= 0)
      return {IoResult::Status::done, static_cast<std::size_t>(result), {}};
    if (errno != EINTR)
      return classify_failure(errno);
  }
}

// Pipes have no MSG_NOSIGNAL: SIGPIPE is blocked around the write, and a
// SIGPIPE the write itself raised is consumed before the old mask returns,
// so the program keeps SIGPIPE's default disposition yet never dies of it.
class SigpipeSuppressed {
public:
  explicit SigpipeSuppressed(SystemCalls& system) : system_(system) {
    sigemptyset(&sigpipe_only_);
    sigaddset(&sigpipe_only_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    system_.sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    system_.thread_sigmask(SIG_BLOCK, &sigpipe_only_, &saved_mask_);
  }
  ~SigpipeSuppressed() { system_.thread_sigmask(SIG_SETMASK, &saved_mask_, nullptr); }
  SigpipeSuppressed(const SigpipeSuppressed&) = delete;
  SigpipeSuppressed& operator=(const SigpipeSuppressed&) = delete;

  void consume_if_raised(const IoResult& result) {
    if (already_pending_ || result.error.value() != EPIPE)
      return;
    const timespec no_wait{0, 0};
    while (system_.sigtimedwait(&sigpipe_only_, nullptr, &no_wait) < 0 &&
           errno == EINTR) {
    }
  }

private:
  SystemCalls& system_;
  sigset_t sigpipe_only_;
  sigset_t saved_mask_;
  bool already_pending_ = false;
};

// A blocking pipe or terminal: poll says whether it can take data now. A
// descriptor not open for that direction never polls ready, but the call
// itself fails at once (EBADF) without blocking, so it counts as ready.
bool ready_now(SystemCalls& system, const Channel& channel, short events) {
  const int unusable_mode = events == POLLOUT ? O_RDONLY : O_WRONLY;
  if (channel.access_mode == unusable_mode)
    return true;
  const int fd = channel.fd;
  pollfd probe{fd, events, 0};
  for (;;) {
    const int ready = system.poll(&probe, 1, 0);
    if (ready >= 0)
      return ready > 0;
    if (errno != EINTR)
      return true; // let the I/O call itself report the problem
  }
}

IoResult send_to_socket(SystemCalls& system, int fd, const iovec* vectors,
                        int count) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(vectors);
  message.msg_iovlen = static_cast<std::size_t>(count);
  return retry_interrupted(
      [&] { return system.sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT); });
}

// A blocking stream that polled writable takes PIPE_BUF bytes without
// blocking (POSIX), so at most that much is offered.
int clip_to_pipe_buf(const iovec* vectors, int count,
                     std::array<iovec, 16>& clipped) {
  std::size_t room = PIPE_BUF;
  int used = 0;
  for (int i = 0; i < count && room > 0 && used < int(clipped.size()); ++i) {
    clipped[used] = vectors[i];
    clipped[used].iov_len = std::min(room, vectors[i].iov_len);
    room -= clipped[used].iov_len;
    ++used;
  }
  return used;
}

IoResult write_to_pipe(SystemCalls& system, const Channel& channel,
                       const iovec* vectors, int count) {
  std::array<iovec, 16> clipped;
  if (!channel.descriptor_nonblocking) {
    if (!ready_now(system, channel, POLLOUT))
      return {IoResult::Status::later, 0, {}, false};
    count = clip_to_pipe_buf(vectors, count, clipped);
    vectors = clipped.data();
  }
  SigpipeSuppressed suppressed(system);
  IoResult result = retry_interrupted(
      [&] { return system.writev(channel.fd, vectors, count); });
  suppressed.consume_if_raised(result);
  return result;
}

// A blocking terminal or character device: poll cannot say how much it
// takes (a terminal in cooked mode even turns each newline into two bytes),
// so the open file description is made non-blocking for the one call and
// given back its flags at once. Other holders of the description see
// O_NONBLOCK for that long at most. (A private description opened through
// /proc/self/fd would avoid even that, but reopening a pty master makes a
// new pty, and a reopened terminal may differ in other flags.)
IoResult write_to_device(SystemCalls& system, const Channel& channel,
                         const iovec* vectors, int count) {
  if (channel.descriptor_nonblocking)
    return write_to_pipe(system, channel, vectors, count);
  const int flags = system.fcntl_getfl(channel.fd);
  if (flags < 0)
    return classify_failure(errno);
  if ((flags & O_NONBLOCK) == 0 && system.fcntl_setfl(channel.fd, flags | O_NONBLOCK) < 0)
    return classify_failure(errno);
  IoResult result;
  {
    SigpipeSuppressed suppressed(system);
    result = retry_interrupted([&] { return system.writev(channel.fd, vectors, count); });
    suppressed.consume_if_raised(result);
  }
  const int saved_errno = errno;
  if ((flags & O_NONBLOCK) == 0)
    system.fcntl_setfl(channel.fd, flags);
  errno = saved_errno;
  return result;
}

} // namespace

IoResult transmit(SystemCalls& system, const Channel& channel,
                  const iovec* vectors, int count) {
  IoResult result;
  switch (channel.kind) {
  case DescriptorKind::socket:
    result = send_to_socket(system, channel.fd, vectors, count);
    break;
  case DescriptorKind::regular_file:
    result = retry_interrupted(
        [&] { return system.writev(channel.fd, vectors, count); });
    break;
  case DescriptorKind::pipe:
    result = write_to_pipe(system, channel, vectors, count);
    break;
  case DescriptorKind::device:
    result = write_to_device(system, channel, vectors, count);
    break;
  }
  // A write that moved nothing is a descriptor that is full right now.
  if (result.status == IoResult::Status::done && result.bytes == 0)
    result.status = IoResult::Status::later;
  return result;
}

IoResult perform_input(SystemCalls& system, const Channel& channel,
                       const InputRequest& request) {
  const int fd = channel.fd;
  if (request.operation == Operation::seek)
    return retry_interrupted([&] {
      return static_cast<ssize_t>(system.lseek(fd, request.offset, SEEK_SET) < 0 ? -1 : 0);
    });
  switch (channel.kind) {
  case DescriptorKind::socket:
    return retry_interrupted(
        [&] { return system.recv(fd, request.buffer, request.length, MSG_DONTWAIT); });
  case DescriptorKind::pipe:
  case DescriptorKind::device:
    if (!channel.descriptor_nonblocking && !ready_now(system, channel, POLLIN))
      return {IoResult::Status::later, 0, {}};
    break;
  case DescriptorKind::regular_file:
    break;
  }
  return retry_interrupted(
      [&] { return system.read(fd, request.buffer, request.length); });
}

std::error_code inspect_descriptor(SystemCalls& system, Channel& channel) {
  struct stat status {};
  const int flags = system.fcntl_getfl(channel.fd);
  if (flags < 0 || system.fstat(channel.fd, &status) < 0)
    return error_of(errno);
  channel.keeps_message_boundaries = false;
  if (S_ISSOCK(status.st_mode)) {
    channel.kind = DescriptorKind::socket;
    int type = SOCK_STREAM;
    socklen_t length = sizeof type;
    if (system.getsockopt(channel.fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0)
      return error_of(errno);
    channel.keeps_message_boundaries = type != SOCK_STREAM;
  }
  else if (S_ISREG(status.st_mode) || S_ISBLK(status.st_mode))
    channel.kind = DescriptorKind::regular_file;
  else if (S_ISCHR(status.st_mode))
    channel.kind = DescriptorKind::device;
  else
    channel.kind = DescriptorKind::pipe;
  channel.descriptor_nonblocking = (flags & O_NONBLOCK) != 0;
  channel.access_mode = flags & O_ACCMODE;
  if (channel.options.nonblocking && !channel.descriptor_nonblocking) {
    if (system.fcntl_setfl(channel.fd, flags | O_NONBLOCK) < 0)
      return error_of(errno);
    channel.descriptor_nonblocking = true;
  }
  return {};
}

std::uint64_t output_limit(const Channel& channel) noexcept {
  if (channel.kind == DescriptorKind::regular_file && !channel.inputs.empty())
    return channel.inputs.front().position_before;
  if (channel.keeps_message_boundaries && !channel.writes.empty())
    return channel.completed_position() + channel.writes.front_length();
  return channel.output.queued_position();
}

bool inputs_ordered_with_writes(const Channel& channel) noexcept {
  return channel.kind == DescriptorKind::regular_file;
}

bool short_write_means_full(const Channel& channel) noexcept {
  return channel.kind != DescriptorKind::regular_file;
}

bool waits_for_readiness(const Channel& channel) noexcept {
  return channel.kind != DescriptorKind::regular_file;
}

const char* kind_name(DescriptorKind kind) noexcept {
  switch (kind) {
  case DescriptorKind::socket:
    return "socket";
  case DescriptorKind::regular_file:
    return "file";
  case DescriptorKind::pipe:
    return "pipe";
  case DescriptorKind::device:
    return "device";
  }
  return "unknown";
}

} // namespace qio::detail
