// SPDX-License-Identifier: MIT
// session.cpp - what raw and XDR sessions share.
#include "session.hpp"

#include <sys/socket.h> // setsockopt, SO_LINGER
#include <unistd.h>     // close

#include <algorithm> // std::clamp
#include <cmath>     // std::exp, std::log

#include "wire.hpp" // max_payload

namespace soak {

std::size_t Random::payload_size() {
  const double top = std::log(static_cast<double>(max_payload) + 1.0);
  const double size = std::exp(std::uniform_real_distribution<double>(0.0, top)(engine_));
  return std::clamp<std::size_t>(static_cast<std::size_t>(size), 1, max_payload);
}

Pauses::Pauses(Random& random, Clock::time_point now)
    : next_change_(now + random.exponential_ms(1000.0)) {}

bool Pauses::paused(Clock::time_point now, Random& random, Figures& figures) {
  if (stopped_)
    return false;
  if (now >= next_change_) {
    paused_ = !paused_;
    if (paused_) {
      ++figures.pauses;
      next_change_ = now + random.milliseconds(20, 600);
    } else {
      next_change_ = now + random.exponential_ms(1000.0);
    }
  }
  return paused_;
}

Session::Session(std::uint32_t id, World& world, int sender_fd, int receiver_fd, Ending ending,
                 Clock::time_point end_at)
    : id_(id), world_(world), sender_fd_(sender_fd), receiver_fd_(receiver_fd), ending_(ending),
      end_at_(end_at), pauses_(world.random, Clock::now()) {}

void Session::add_pollfds(std::vector<pollfd>& fds) const {
  if (receiver_fd_ >= 0 && receiver_wants_input_)
    fds.push_back({receiver_fd_, POLLIN, 0});
}

bool Session::receiver_paused(Clock::time_point now) {
  const bool paused = pauses_.paused(now, world_.random, world_.figures);
  receiver_wants_input_ = !paused;
  return paused;
}

void Session::close_receiver(bool abort) {
  if (abort) {
    const linger reset_on_close{1, 0};
    ::setsockopt(receiver_fd_, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
  }
  ::close(receiver_fd_);
  receiver_fd_ = -1;
}

void Session::close_sender() {
  ::close(sender_fd_);
  sender_fd_ = -1;
}

} // namespace soak
