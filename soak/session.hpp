// SPDX-License-Identifier: MIT
// session.hpp - one loopback connection of the soak, from its start to the
// check of everything that crossed it.
//
// A session owns both ends of a TCP connection: the sender queues through
// qio, the receiver reads (sometimes through qio too) and checks. Each
// session draws at its start how it will end: gracefully (the sender stops
// and waits until everything went), with the sender terminating its channel
// mid-stream, or with the receiver hanging up on it.
#ifndef QIO_SOAK_SESSION_HPP
#define QIO_SOAK_SESSION_HPP

#include <poll.h> // pollfd

#include <chrono>  // std::chrono::steady_clock
#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t
#include <random>  // std::mt19937_64
#include <vector>  // std::vector

#include "figures.hpp"

namespace soak {

using Clock = std::chrono::steady_clock;

class Random {
public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  bool chance(double probability) {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_) < probability;
  }
  // A whole number from `low` to `high`, both included.
  std::size_t between(std::size_t low, std::size_t high) {
    return std::uniform_int_distribution<std::size_t>(low, high)(engine_);
  }
  Clock::duration milliseconds(std::size_t low, std::size_t high) {
    return std::chrono::milliseconds(between(low, high));
  }
  // Exponentially distributed, as the gaps between independent events are.
  Clock::duration exponential_ms(double mean_ms) {
    const double ms = std::exponential_distribution<double>(1.0 / mean_ms)(engine_);
    return std::chrono::microseconds(static_cast<long long>(ms * 1000.0));
  }
  // 1 B to max_payload, log-uniform: as many messages under 100 bytes as
  // from 100 bytes to 10 KiB, and as from 10 KiB up.
  std::size_t payload_size();

private:
  std::mt19937_64 engine_;
};

// What every session shares.
struct World {
  Random& random;
  Figures& figures;
  std::vector<char>& scratch; // one message, for buffered writes
  std::vector<char>& inbox;   // what a plain receiver reads into
  bool draining = false;      // the run is over: finish, gracefully
};

enum class Ending { graceful, sender_terminates, receiver_hangs_up };

// A receiver that stops reading now and then, for 20 ms to 0.6 s, so the
// sender's queue backs up against its limits.
class Pauses {
public:
  Pauses(Random& random, Clock::time_point now);
  // Whether the receiver is paused now (starting or ending a pause as due).
  bool paused(Clock::time_point now, Random& random, Figures& figures);
  void stop() noexcept { stopped_ = true; }

private:
  Clock::time_point next_change_;
  bool paused_ = false;
  bool stopped_ = false;
};

class Session {
public:
  Session(std::uint32_t id, World& world, int sender_fd, int receiver_fd, Ending ending,
          Clock::time_point end_at);
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Adds the receiving end when it wants to read (qio_pollfds and
  // fill_pollfds give the sending ends).
  void add_pollfds(std::vector<pollfd>& fds) const;
  // Does this session's work after the loop's flush.
  virtual void service(Clock::time_point now) = 0;
  bool finished() const noexcept { return sender_fd_ < 0 && receiver_fd_ < 0; }
  // The run is ending: stop producing, let everything out, read it all.
  virtual void begin_drain() = 0;
  // It did not finish in time: close both ends whatever is pending.
  virtual void abandon() = 0;
  // Counts what this connection carried and every broken promise.
  virtual void reconcile() = 0;

  std::uint32_t id() const noexcept { return id_; }
  Clock::time_point end_at() const noexcept { return end_at_; }

protected:
  // Closes the receiving end; `abort` resets the connection (SO_LINGER 0)
  // instead of a normal close.
  void close_receiver(bool abort);
  void close_sender();
  bool receiver_paused(Clock::time_point now);

  std::uint32_t id_;
  World& world_;
  int sender_fd_;
  int receiver_fd_;
  Ending ending_;
  Clock::time_point end_at_;
  Pauses pauses_;
  bool receiver_wants_input_ = true; // for add_pollfds
  bool disconnected_ = false;        // the peer hung up or a reset broke it
};

} // namespace soak

#endif // QIO_SOAK_SESSION_HPP
