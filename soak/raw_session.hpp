// SPDX-License-Identifier: MIT
// raw_session.hpp - sessions that send framed messages straight through
// qio: the C API's process-wide engine, or a qio::Engine whose system calls
// fail now and then (support/faulty_system_calls.hpp).
#ifndef QIO_SOAK_RAW_SESSION_HPP
#define QIO_SOAK_RAW_SESSION_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t
#include <memory>  // std::unique_ptr
#include <vector>  // std::vector, the read buffer

#include "ledger.hpp"
#include "qio/engine.hpp"
#include "session.hpp"
#include "wire.hpp"

namespace soak {

// The engine a raw session queues on, behind one interface so both APIs
// carry the same traffic. Results are 0 or an errno value.
class Queue {
public:
  virtual ~Queue() = default;
  // `max_outstanding` 0 means no limit; `max_queued_bytes` is ignored by
  // the C API, which has no such limit.
  virtual int configure(int fd, bool buffered, std::size_t max_outstanding,
                        std::size_t max_queued_bytes) = 0;
  // `tag` from make_tag, or nullptr for no AST.
  virtual int write(int fd, const char* data, std::size_t size, void* tag) = 0;
  virtual int read(int fd, char* buffer, std::size_t size, void* tag) = 0;
  virtual std::size_t pending(int fd) = 0;
  virtual int prune(int fd) = 0;
  virtual int terminate(int fd) = 0;
  // The channel's sticky write error once nothing is pending (wait(fd, 0)).
  virtual int idle_error(int fd) = 0;
};

// Through qio_configure, qio_write... and C ASTs.
std::unique_ptr<Queue> make_c_api_queue();
// Through `engine` and C++ callbacks.
std::unique_ptr<Queue> make_engine_queue(qio::Engine& engine);

struct RawPlan {
  Ending ending = Ending::graceful;
  bool terminate_from_ast = false; // sender_terminates: inside an AST
  bool qio_reads = false;          // the receiver reads through the queue too
  bool buffered = true;
  double ast_share = 1.0; // the share of writes that ask for an AST
};

class RawSession final : public Session {
public:
  RawSession(std::uint32_t id, World& world, Queue& queue, int sender_fd, int receiver_fd,
             const RawPlan& plan, Clock::time_point end_at);
  ~RawSession() override;

  void service(Clock::time_point now) override;
  void begin_drain() override;
  void abandon() override;
  void reconcile() override;

  // Where the AST functions deliver, found by the tag's session number.
  void on_write_done(std::uint32_t request, const Completed& done);
  void on_read_done(std::uint32_t serial, const Completed& done);

private:
  enum class Sender { open, draining, closed };

  void configure_sender();
  void serve_sender(Clock::time_point now);
  void produce();
  bool queue_write(const char* bytes, std::size_t size, std::unique_ptr<char[]> caller_bytes);
  void maybe_prune(Clock::time_point now);
  void maybe_reconfigure(Clock::time_point now);
  void terminate_sender();
  void finish_draining();
  void serve_receiver(Clock::time_point now);
  void read_plain();
  void queue_read();
  void end_receiver(bool abort);
  void expect_success(int error);

  Queue& queue_;
  RawPlan plan_;
  SenderLedger ledger_;
  FrameReceiver frames_;
  Sender sender_ = Sender::open;
  bool buffered_;
  int refused_with_ = 0; // a write refused with a hard error
  Clock::time_point next_prune_;
  Clock::time_point next_reconfigure_;

  std::vector<char> read_buffer_;
  bool read_queued_ = false;
  std::size_t read_size_ = 0; // bytes the queued read asked for
  std::uint32_t read_serial_ = 0;
  std::uint64_t reads_queued_ = 0;
  bool read_end_ = false;    // a read completed at end of file
  bool read_failed_ = false; // a read completed with an error
  bool saw_end_ = false;     // the receiver read to end of stream
};

} // namespace soak

#endif // QIO_SOAK_RAW_SESSION_HPP
