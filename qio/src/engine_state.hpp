// engine_state.hpp - the engine's private state and its queue logic.
#ifndef QIO_SRC_ENGINE_STATE_HPP
#define QIO_SRC_ENGINE_STATE_HPP

#include <cstddef> // std::size_t
#include <cstdio>  // std::FILE
#include <memory>  // std::unique_ptr
#include <span>    // std::span
#include <vector>  // std::vector

#include "callback.hpp"
#include "channel.hpp"

namespace qio::detail {

class EngineState {
public:
  explicit EngineState(SystemCalls& system) : system_(system) {}
  ~EngineState();
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;

  std::error_code configure(int fd, const ChannelOptions& options);
  std::error_code write(int fd, std::span<const char> data,
                        StoredCallback callback, CallbackAbi abi);
  std::error_code read(int fd, std::span<char> buffer,
                       StoredCallback callback, CallbackAbi abi);
  std::error_code seek(int fd, off_t offset, StoredCallback callback,
                       CallbackAbi abi);

  void flush_all();
  std::error_code flush_one(int fd);
  std::error_code wait(int fd, int timeout_ms);
  std::error_code prune(int fd);
  std::error_code terminate(int fd);
  void terminate_all();

  std::size_t pending() const noexcept { return pending_requests_; }
  std::size_t pending(int fd) const noexcept;
  Channel* find(int fd) const noexcept;
  int fill_fdset(fd_set& write_mask) const noexcept;
  std::size_t fill_pollfds(std::span<pollfd> fds) const noexcept;
  std::error_code dump(std::FILE* out) const;
  void set_trace(bool enabled) noexcept { trace_ = enabled; }

private:
  // Calls `visit(channel)` for each channel with pending writes.
  template <class Visit> void for_each_pending_output(Visit visit) const;
  // Requests taken off a channel whose callbacks are still to be called.
  struct Notice {
    Completion completion;
    StoredCallback callback;
    CallbackAbi abi;
  };
  // Keeps the engine marked busy (and retired channels alive) while any
  // callback may be running.
  class DispatchScope;

  std::error_code admit(const Channel& channel, std::size_t bytes) const;
  void enqueue_input(Channel& channel, const InputRequest& request);
  void mark_pending(Channel& channel) noexcept;

  void flush_channel(Channel& channel);
  bool send_output(Channel& channel);
  bool complete_writes(Channel& channel);
  bool complete_next_input(Channel& channel);
  void finish_input(Channel& channel, const IoResult& result);

  std::vector<Notice> take_requests(Channel& channel, bool keep_partial_write);
  Notice take_write(Channel& channel, const std::error_code& error);
  void notify(const std::vector<Notice>& notices);
  void deliver(const Completion& completion, StoredCallback callback,
               CallbackAbi abi);
  void retire(std::unique_ptr<Channel> channel);

  SystemCalls& system_;
  std::vector<std::unique_ptr<Channel>> channels_by_fd_;
  ListNode pending_channels_; // channels with requests not yet completed
  std::size_t pending_requests_ = 0;
  // Terminated channels a callback on the stack may still point into;
  // freed when the outermost dispatch ends.
  std::vector<std::unique_ptr<Channel>> retired_;
  int dispatch_depth_ = 0;
  bool trace_ = false;
};

} // namespace qio::detail

#endif // QIO_SRC_ENGINE_STATE_HPP
