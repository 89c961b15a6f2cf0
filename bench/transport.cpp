// SPDX-License-Identifier: MIT
// transport.cpp - socketpairs, loopback TCP connections, the descriptor
// limit and the reader.
#include "transport.hpp"

#include <arpa/inet.h>    // htonl
#include <netinet/in.h>   // sockaddr_in
#include <sys/resource.h> // getrlimit, setrlimit
#include <sys/socket.h>   // socketpair, socket, accept
#include <unistd.h>       // read, close

#include <cerrno>  // errno
#include <cstring> // std::memcmp, std::strerror
#include <memory>  // std::unique_ptr, the read buffer
#include <utility> // std::move, std::swap

#include <fmt/format.h>

namespace bench {
namespace {

// Closes the descriptor it holds unless released.
class OwnedFd {
public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
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

// Binds `fd` to an ephemeral port of 127.0.0.1 and stores where in
// `address`; empty, or what failed.
std::string bind_loopback(int fd, sockaddr_in& address) {
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(fd, generic, length) != 0 || ::getsockname(fd, generic, &length) != 0)
    return errno_text("bind");
  return {};
}

// A TCP socket listening on an ephemeral port of 127.0.0.1, which accepts
// each connection as it is made.
class LoopbackListener {
public:
  // Empty if listening, else what failed.
  std::string listen() {
    socket_ = OwnedFd(::socket(AF_INET, SOCK_STREAM, 0));
    if (socket_.get() < 0)
      return errno_text("socket");
    if (std::string error = bind_loopback(socket_.get(), address_); !error.empty())
      return error;
    return ::listen(socket_.get(), 1) == 0 ? std::string() : errno_text("listen");
  }

  SocketPair connect() {
    OwnedFd writer(::socket(AF_INET, SOCK_STREAM, 0));
    if (writer.get() < 0 || ::connect(writer.get(), generic(), sizeof address_) != 0)
      return {-1, -1, errno_text("connect")};
    const int reader = ::accept(socket_.get(), nullptr, nullptr);
    if (reader < 0)
      return {-1, -1, errno_text("accept")};
    return {writer.release(), reader, {}};
  }

private:
  sockaddr* generic() noexcept { return reinterpret_cast<sockaddr*>(&address_); }
  OwnedFd socket_{-1};
  sockaddr_in address_{};
};

SocketPair tcp_pair() {
  LoopbackListener listener;
  if (std::string error = listener.listen(); !error.empty())
    return {-1, -1, std::move(error)};
  return listener.connect();
}

} // namespace

std::string_view transport_name(Transport transport) noexcept {
  return transport == Transport::unix_socketpair ? "AF_UNIX socketpair" : "TCP loopback";
}

SocketPair connect_pair(Transport transport) {
  return transport == Transport::unix_socketpair ? unix_pair() : tcp_pair();
}

SocketPair connect_datagram_pair() {
  OwnedFd reader(::socket(AF_INET, SOCK_DGRAM, 0));
  if (reader.get() < 0)
    return {-1, -1, errno_text("socket")};
  sockaddr_in address;
  if (std::string error = bind_loopback(reader.get(), address); !error.empty())
    return {-1, -1, std::move(error)};
  OwnedFd writer(::socket(AF_INET, SOCK_DGRAM, 0));
  if (writer.get() < 0 ||
      ::connect(writer.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return {-1, -1, errno_text("connect")};
  return {writer.release(), reader.release(), {}};
}

PeerSockets::~PeerSockets() {
  for (const int fd : writers_)
    ::close(fd);
  for (const int fd : readers_)
    ::close(fd);
}

std::string PeerSockets::connect(Transport transport, std::size_t count) {
  LoopbackListener listener;
  if (transport == Transport::tcp_loopback)
    if (std::string error = listener.listen(); !error.empty())
      return error;
  for (std::size_t i = 0; i < count; ++i) {
    SocketPair pair = transport == Transport::unix_socketpair ? unix_pair() : listener.connect();
    if (!pair.error.empty())
      return fmt::format("{} (after {} connections)", pair.error, i);
    writers_.push_back(pair.writer);
    readers_.push_back(pair.reader);
  }
  return {};
}

long raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur == RLIM_INFINITY ? 1L << 30 : static_cast<long>(limit.rlim_cur);
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
