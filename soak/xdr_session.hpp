// SPDX-License-Identifier: MIT
// xdr_session.hpp - sessions that send XDR records through xdr_glue (an
// xdrrec stream queued on the C API's engine) and read them back with an
// xdr_qio_reader, pruning whole records now and then while the reader is
// paused.
#ifndef QIO_SOAK_XDR_SESSION_HPP
#define QIO_SOAK_XDR_SESSION_HPP

#include <cstdint> // std::uint32_t, std::int64_t
#include <vector>  // std::vector

#include "session.hpp"
#include "xdr_glue/xdr_qio.h"

namespace soak {

struct XdrPlan {
  Ending ending = Ending::graceful; // graceful or receiver_hangs_up
  bool buffered = true;
  unsigned send_size = 0; // xdrrec's buffer: the largest fragment
};

struct SoakRecord;

class XdrSession final : public Session {
public:
  XdrSession(std::uint32_t id, World& world, int sender_fd, int receiver_fd, const XdrPlan& plan,
             Clock::time_point end_at);
  ~XdrSession() override;

  void service(Clock::time_point now) override;
  void begin_drain() override;
  void abandon() override;
  void reconcile() override;

private:
  void serve_sender(Clock::time_point now);
  void produce();
  void maybe_prune(Clock::time_point now);
  void end_sender();
  void serve_receiver(Clock::time_point now);
  std::size_t take_records();
  void check_record(const SoakRecord& record);
  void end_receiver(int status);

  XDR stream_{};
  bool stream_open_ = false;
  bool draining_ = false;
  bool broken_ = false;    // a write failed: the stream is unusable
  bool clean_end_ = false; // everything went, no write failed
  std::vector<bool> dropped_; // by sequence number: pruned before it went
  Clock::time_point next_prune_;

  xdr_qio_reader* reader_ = nullptr;
  std::vector<bool> received_;
  std::int64_t last_received_ = -1;
  bool saw_end_ = false;   // the reader reached the end of the stream
  bool truncated_ = false; // ... inside a record
};

} // namespace soak

#endif // QIO_SOAK_XDR_SESSION_HPP
