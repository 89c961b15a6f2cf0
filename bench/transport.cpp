// SPDX-License-Identifier: MIT
// transport.cpp - socketpairs, loopback TCP connections, the descriptor
// limit and the reader.
#include "transport.hpp"

#include <sys/socket.h>   // SOCK_STREAM
#include <unistd.h>       // close

#include <cstring>      // std::memcmp
#include <system_error> // std::system_error, from support's sockets
#include <utility>      // std::move

#include <fmt/format.h>

#include "support/loopback.hpp"

namespace bench {
namespace {

SocketPair pair_of(support::ConnectedPair pair) {
  return {std::move(pair.first), std::move(pair.second), {}};
}

} // namespace

std::string_view transport_name(Transport transport) noexcept {
  return transport == Transport::unix_socketpair ? "AF_UNIX socketpair" : "TCP loopback";
}

SocketPair connect_pair(Transport transport) try {
  return pair_of(transport == Transport::unix_socketpair
                     ? support::unix_socket_pair(SOCK_STREAM)
                     : support::connect_loopback_pair());
} catch (const std::system_error& error) {
  return {{}, {}, error.what()};
}

SocketPair connect_datagram_pair() try {
  return pair_of(support::connect_datagram_pair());
} catch (const std::system_error& error) {
  return {{}, {}, error.what()};
}

PeerSockets::~PeerSockets() {
  for (const int fd : writers_)
    ::close(fd);
  for (const int fd : readers_)
    ::close(fd);
}

std::string PeerSockets::connect(Transport transport, std::size_t count) {
  std::size_t made = 0;
  try {
    // TCP pairs all come through one listener.
    support::UniqueFd listener;
    if (transport == Transport::tcp_loopback)
      listener = support::listen_on_loopback();
    for (; made < count; ++made) {
      support::ConnectedPair pair =
          transport == Transport::unix_socketpair
              ? support::unix_socket_pair(SOCK_STREAM)
              : support::ConnectedPair{
                    support::connect_to_loopback(support::local_port(listener.get())),
                    support::accept_within(listener.get(), 5000)};
      writers_.push_back(pair.first.release());
      readers_.push_back(pair.second.release());
    }
  } catch (const std::system_error& error) {
    return fmt::format("{} (after {} connections)", error.what(), made);
  }
  return {};
}

Reader::Reader(support::UniqueFd fd, bool check_content)
    : check_content_(check_content),
      reader_(std::move(fd), [this](std::span<const char> chunk, std::uint64_t position) {
        check(chunk, position);
      }) {}

ReaderResult Reader::join() {
  support::DrainOutcome outcome = reader_.join();
  return {outcome.bytes, outcome.finished,
          outcome.error.empty() ? std::move(mismatch_) : std::move(outcome.error)};
}

void Reader::check(std::span<const char> chunk, std::uint64_t position) {
  if (check_content_ && mismatch_.empty() &&
      std::memcmp(chunk.data(), Pattern::instance().at(position), chunk.size()) != 0)
    mismatch_ = fmt::format("content differs in the {} bytes after stream position {}",
                            chunk.size(), position);
}

} // namespace bench
