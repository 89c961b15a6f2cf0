// SPDX-License-Identifier: MIT
// rpcbind_registration.cpp - rpcb_set / rpcb_unset around an object's life.
#include "xdr_glue/rpcbind_registration.hpp"

#include <arpa/inet.h>  // htons, htonl
#include <netinet/in.h> // sockaddr_in
#include <sys/socket.h> // socket, connect
#include <sys/un.h>     // sockaddr_un
#include <unistd.h>     // close

#include <cstring>   // std::strncpy
#include <stdexcept> // std::runtime_error

namespace xdr_glue::rpc {
namespace {

// Whether something accepts a stream connection at `address`. Loopback
// refuses at once when nobody listens, so this never waits.
bool accepts_connection(int family, const sockaddr* address, socklen_t length) {
  const int socket = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket < 0)
    return false;
  const bool connected = ::connect(socket, address, length) == 0;
  ::close(socket);
  return connected;
}

sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

} // namespace

bool rpcbind_is_running() {
  sockaddr_un unix_address{};
  unix_address.sun_family = AF_UNIX;
  std::strncpy(unix_address.sun_path, "/run/rpcbind.sock", sizeof unix_address.sun_path - 1);
  const sockaddr_in portmapper = loopback_address(111);
  return accepts_connection(AF_UNIX, reinterpret_cast<const sockaddr*>(&unix_address),
                            sizeof unix_address) ||
         accepts_connection(AF_INET, reinterpret_cast<const sockaddr*>(&portmapper),
                            sizeof portmapper);
}

RpcbindRegistration::RpcbindRegistration(rpcprog_t program, rpcvers_t version,
                                         std::uint16_t port)
    : program_(program), version_(version) {
  if (!rpcbind_is_running())
    throw std::runtime_error("rpcbind registration: no rpcbind is running on this machine");
  netconfig* tcp = getnetconfigent("tcp");
  if (tcp == nullptr)
    throw std::runtime_error("rpcbind registration: no \"tcp\" entry in /etc/netconfig");
  sockaddr_in address = loopback_address(port);
  netbuf where{sizeof address, sizeof address, &address};
  rpcb_unset(program, version, nullptr);
  const bool registered = rpcb_set(program, version, tcp, &where);
  freenetconfigent(tcp);
  if (!registered)
    throw std::runtime_error("rpcbind registration: rpcbind refused it");
}

RpcbindRegistration::~RpcbindRegistration() { rpcb_unset(program_, version_, nullptr); }

} // namespace xdr_glue::rpc
