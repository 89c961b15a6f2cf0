// SPDX-License-Identifier: MIT
// transport.cpp - socketpairs, loopback TCP connections and the reader.
#include "transport.hpp"

#include <arpa/inet.h>  // htonl
#include <netinet/in.h> // sockaddr_in
#include <sys/socket.h> // socketpair, socket, accept
#include <unistd.h>     // read, close

#include <cerrno>  // errno
#include <cstring> // std::memcmp, std::strerror
#include <memory>  // std::unique_ptr, the read buffer

#include <fmt/format.h>

namespace bench {
namespace {

std::string errno_text(const char* call) {
  return fmt::format("{}: {}", call, std::strerror(errno));
}

// Closes the descriptor it holds unless released.
class OwnedFd {
public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_;
};

SocketPair unix_pair() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) != 0)
    return {-1, -1, errno_text("socketpair")};
  return {ends[0], ends[1], {}};
}

SocketPair tcp_pair() {
  OwnedFd listener(::socket(AF_INET, SOCK_STREAM, 0));
  if (listener.get() < 0)
    return {-1, -1, errno_text("socket")};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(listener.get(), generic, length) != 0 || ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), generic, &length) != 0)
    return {-1, -1, errno_text("bind/listen")};
  OwnedFd writer(::socket(AF_INET, SOCK_STREAM, 0));
  if (writer.get() < 0 || ::connect(writer.get(), generic, length) != 0)
    return {-1, -1, errno_text("connect")};
  const int reader = ::accept(listener.get(), nullptr, nullptr);
  if (reader < 0)
    return {-1, -1, errno_text("accept")};
  return {writer.release(), reader, {}};
}

} // namespace

std::string_view transport_name(Transport transport) noexcept {
  return transport == Transport::unix_socketpair ? "AF_UNIX socketpair" : "TCP loopback";
}

SocketPair connect_pair(Transport transport) {
  return transport == Transport::unix_socketpair ? unix_pair() : tcp_pair();
}

Reader::Reader(int fd, bool check_content)
    : fd_(fd), check_content_(check_content), thread_([this] { run(); }) {}

Reader::~Reader() {
  if (thread_.joinable())
    thread_.join();
}

ReaderResult Reader::join() {
  thread_.join();
  return result_;
}

void Reader::run() {
  constexpr std::size_t chunk = 256 * 1024;
  const Pattern& pattern = Pattern::instance();
  const auto buffer = std::make_unique<char[]>(chunk);
  for (;;) {
    const ssize_t got = ::read(fd_, buffer.get(), chunk);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      result_.error = errno_text("read");
      break;
    }
    if (got == 0)
      break;
    const auto length = static_cast<std::size_t>(got);
    if (check_content_ && result_.error.empty() &&
        std::memcmp(buffer.get(), pattern.at(result_.bytes), length) != 0)
      result_.error = fmt::format("content differs in the {} bytes after stream position {}",
                                  length, result_.bytes);
    result_.bytes += length;
  }
  result_.finished = Clock::now();
  ::close(fd_);
}

} // namespace bench
