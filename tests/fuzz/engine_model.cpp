// SPDX-License-Identifier: MIT
// engine_model.cpp - see engine_model.hpp.
#include "engine_model.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "system_calls.hpp" // qio/src: the SystemCalls seam
#include "qio/engine.hpp"

namespace qio_fuzz {
namespace {

constexpr int first_fd = 1000; // never a real descriptor of this process
constexpr int channel_count = 4;

// A kernel that answers from a script of behaviours and keeps what each
// descriptor was sent.
class SimulatedKernel : public qio::detail::SystemCalls {
public:
  enum class Answer : std::uint8_t { all, part, again, interrupted, no_buffers, broken, reset };

  std::deque<std::pair<Answer, std::uint8_t>> script;
  std::map<int, std::string> received;
  std::map<int, mode_t> kinds;

  ssize_t sendmsg(int fd, const msghdr* message, int) override {
    return deliver(fd, message->msg_iov, static_cast<int>(message->msg_iovlen));
  }
  ssize_t writev(int fd, const iovec* vectors, int count) override {
    return deliver(fd, vectors, count);
  }
  ssize_t recv(int fd, void* buffer, std::size_t length, int) override {
    return read(fd, buffer, length);
  }
  ssize_t read(int, void* buffer, std::size_t length) override {
    const auto [answer, amount] = next();
    if (answer == Answer::again || answer == Answer::part) {
      errno = EAGAIN;
      return -1;
    }
    if (answer == Answer::broken || answer == Answer::reset) {
      errno = ECONNRESET;
      return -1;
    }
    const std::size_t n = std::min<std::size_t>(length, amount % 8);
    std::memset(buffer, 'r', n);
    return static_cast<ssize_t>(n);
  }
  off_t lseek(int, off_t offset, int) override { return offset; }
  int poll(pollfd* fds, nfds_t count, int) override {
    for (nfds_t i = 0; i < count; ++i)
      fds[i].revents = fds[i].events;
    return static_cast<int>(count);
  }
  int fcntl_getfl(int) override { return O_RDWR | O_NONBLOCK; }
  int fcntl_setfl(int, int) override { return 0; }
  int fstat(int fd, struct stat* status) override {
    *status = {};
    status->st_mode = kinds.count(fd) ? kinds[fd] : S_IFSOCK;
    return 0;
  }
  int getsockopt(int, int, int, void* value, socklen_t* length) override {
    const int stream = SOCK_STREAM;
    std::memcpy(value, &stream, sizeof stream);
    *length = sizeof stream;
    return 0;
  }
  int thread_sigmask(int, const sigset_t*, sigset_t*) override { return 0; }
  int sigpending(sigset_t* set) override { return sigemptyset(set); }
  int sigtimedwait(const sigset_t*, siginfo_t*, const timespec*) override {
    errno = EAGAIN;
    return -1;
  }

private:
  std::pair<Answer, std::uint8_t> next() {
    if (script.empty())
      return {Answer::all, 0};
    const auto front = script.front();
    script.pop_front();
    return front;
  }

  ssize_t deliver(int fd, const iovec* vectors, int count) {
    std::size_t total = 0;
    for (int i = 0; i < count; ++i)
      total += vectors[i].iov_len;
    const auto [answer, amount] = next();
    std::size_t accept = total;
    switch (answer) {
    case Answer::all:
      break;
    case Answer::part:
      accept = total == 0 ? 0 : 1 + (amount * 97u) % total;
      break;
    case Answer::again:
      return fail(EAGAIN);
    case Answer::interrupted:
      return fail(EINTR);
    case Answer::no_buffers:
      return fail(ENOBUFS);
    case Answer::broken:
      return fail(EPIPE);
    case Answer::reset:
      return fail(ECONNRESET);
    }
    std::string& sink = received[fd];
    std::size_t left = accept;
    for (int i = 0; i < count && left > 0; ++i) {
      const std::size_t n = std::min(left, vectors[i].iov_len);
      sink.append(static_cast<const char*>(vectors[i].iov_base), n);
      left -= n;
    }
    return static_cast<ssize_t>(accept);
  }
  static ssize_t fail(int error) {
    errno = error;
    return -1;
  }
};

struct Request {
  int fd = 0;
  qio::Operation operation = qio::Operation::write;
  std::string payload; // what was queued (writes)
  std::vector<char> read_buffer;
  int completions = 0;
  std::size_t reported_length = 0;
  int error = 0;
};

class Model {
public:
  explicit Model(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::string run() {
    {
      qio::Engine engine = qio::detail::Seam::engine_over(kernel_);
      engine_ = &engine;
      while (position_ < size_ && problem_.empty())
        step();
      check_pending();
      engine.terminate();
      check_pending();
      engine_ = nullptr;
    }
    if (problem_.empty())
      check_completions();
    if (problem_.empty())
      check_streams();
    return problem_;
  }

private:
  // Keeps the first broken promise: later ones are usually its echoes.
  void fail(std::string message) {
    if (problem_.empty())
      problem_ = std::move(message);
  }

  std::uint8_t take() { return position_ < size_ ? data_[position_++] : 0; }
  int take_channel() { return first_fd + take() % channel_count; }

  // Operands are taken in order, one statement each: the order in which
  // function arguments are evaluated is unspecified.
  void step() {
    const int operation = take() % 9;
    const int fd = take_channel();
    const std::uint8_t first = take();
    const std::uint8_t second = take();
    if (trace_)
      std::fprintf(stderr, "op %d fd %d (%d, %d)\n", operation, fd, first, second);
    switch (operation) {
    case 0: configure(fd, first); break;
    case 1: write(fd, first, second); break;
    case 2: engine_->flush(); break;
    case 3: (void)engine_->flush(fd); break;
    case 4: prune(fd); break;
    case 5: (void)engine_->terminate(fd); break;
    case 6: read(fd); break;
    case 7: script(first, second); break;
    case 8: seek(fd, first); break;
    }
  }

  void configure(int fd, std::uint8_t flags) {
    // The last simulated descriptor is a regular file, the others sockets.
    kernel_.kinds[fd] = fd == first_fd + channel_count - 1 ? S_IFREG : S_IFSOCK;
    qio::ChannelOptions options;
    options.buffered = (flags & 1) != 0;
    options.max_outstanding = (flags & 2) ? 1 + (flags >> 2) % 8 : qio::unlimited;
    options.max_queued_bytes = (flags & 0x80) ? 1 + flags * 40u : qio::unlimited;
    if (engine_->configure(fd, options))
      fail("configure failed on a simulated descriptor");
  }

  std::size_t new_request(int fd, qio::Operation operation) {
    requests_.push_back(std::make_unique<Request>());
    requests_.back()->fd = fd;
    requests_.back()->operation = operation;
    return requests_.size() - 1;
  }

  qio::Callback callback_for(std::size_t index) {
    contexts_.push_back(std::make_unique<Context>(Context{this, index}));
    return {&Model::on_completion, contexts_.back().get()};
  }

  void write(int fd, std::uint8_t size_code, std::uint8_t flags) {
    // Each write's bytes all carry one value unique among the writes of a
    // run, so the peer's stream can be attributed to writes unambiguously.
    if (accepted_write_count_ >= max_writes)
      return;
    const std::size_t index = new_request(fd, qio::Operation::write);
    Request& request = *requests_[index];
    const std::size_t size = (size_code % 16 == 0) ? 0 : size_code * 53u % 9000;
    request.payload.resize(size);
    for (std::size_t i = 0; i < size; ++i)
      request.payload[i] = static_cast<char>(1 + accepted_write_count_);
    const qio::Callback callback = (flags & 1) ? callback_for(index) : qio::Callback{};
    const std::error_code error = engine_->write(fd, request.payload, callback);
    if (trace_)
      std::fprintf(stderr, "  write #%zu fd %d size %zu callback %d: %d\n", index, fd, size,
                   flags & 1, error.value());
    if (error) {
      request.completions = -1; // refused: must never complete
      if (flags & 1)
        contexts_.back()->index = refused_;
      return;
    }
    ++accepted_write_count_;
    if (!(flags & 1))
      untracked_.push_back(index);
    accepted_writes_[fd].push_back(index);
  }

  void read(int fd) {
    const std::size_t index = new_request(fd, qio::Operation::read);
    requests_[index]->read_buffer.resize(8);
    if (engine_->read(fd, {requests_[index]->read_buffer.data(), 8}, callback_for(index))) {
      requests_[index]->completions = -1;
      contexts_.back()->index = refused_;
    }
  }

  // Prune completes what it removes at once, ahead of the partly written
  // write it keeps: the one documented exception to completion order.
  void prune(int fd) {
    pruning_ = true;
    (void)engine_->prune(fd);
    pruning_ = false;
  }

  void seek(int fd, std::uint8_t offset) {
    const std::size_t index = new_request(fd, qio::Operation::seek);
    if (engine_->seek(fd, offset, callback_for(index))) {
      requests_[index]->completions = -1;
      contexts_.back()->index = refused_;
    }
  }

  void script(std::uint8_t answer, std::uint8_t amount) {
    kernel_.script.push_back({static_cast<SimulatedKernel::Answer>(answer % 7), amount});
  }

  struct Context {
    Model* model;
    std::size_t index;
  };
  static constexpr std::size_t refused_ = static_cast<std::size_t>(-1);

  static void on_completion(const qio::Completion& completion, void* argument) {
    auto* context = static_cast<Context*>(argument);
    context->model->completed(context->index, completion);
  }

  void completed(std::size_t index, const qio::Completion& completion) {
    if (index == refused_) {
      fail("a refused request completed");
      return;
    }
    Request& request = *requests_[index];
    if (trace_)
      std::fprintf(stderr, "  completion #%zu fd %d op %d error %d length %zu\n", index,
                   completion.channel, static_cast<int>(completion.operation),
                   completion.error.value(), completion.length);
    if (++request.completions != 1)
      fail("a request completed twice");
    request.reported_length = completion.length;
    request.error = completion.error.value();
    if (completion.operation == qio::Operation::write && !pruning_) {
      auto& order = completed_writes_[request.fd];
      if (!order.empty() && order.back() > index)
        fail("writes completed out of order");
      order.push_back(index);
    }
    if (completion.operation == qio::Operation::write) {
      if (completion.length > request.payload.size())
        fail("a completion reported more bytes than were queued");
      // Now and then, re-enter the engine from inside the callback.
      if (engine_ && index % 7 == 3)
        write(request.fd, static_cast<std::uint8_t>(index), 1);
      if (engine_ && index % 11 == 5)
        (void)engine_->terminate(first_fd + static_cast<int>(index % channel_count));
    }
  }

  void check_pending() {
    std::size_t sum = 0;
    for (int fd = first_fd; fd < first_fd + channel_count; ++fd)
      sum += engine_->pending(fd);
    if (sum != engine_->pending() && problem_.empty())
      fail("pending() disagrees with the sum over channels");
  }

  void check_completions() {
    for (std::size_t i = 0; i < requests_.size() && problem_.empty(); ++i) {
      const Request& request = *requests_[i];
      const bool tracked = std::find(untracked_.begin(), untracked_.end(), i) == untracked_.end();
      if (request.completions == 0 && tracked)
        fail("an accepted request never completed (index " + std::to_string(i) + ")");
    }
  }

  // The peer's bytes must be each write's reported prefix, in queue order.
  // Writes without a callback report nothing: the model accepts any prefix
  // for them but still requires their bytes to be in place and in order.
  void check_streams() {
    for (const auto& [fd, writes] : accepted_writes_) {
      const std::string& stream = kernel_.received[fd];
      std::size_t offset = 0;
      for (const std::size_t index : writes) {
        const Request& request = *requests_[index];
        const bool tracked = std::find(untracked_.begin(), untracked_.end(), index) == untracked_.end();
        std::size_t length = request.reported_length;
        if (!tracked) {
          length = 0;
          while (length < request.payload.size() && offset + length < stream.size() &&
                 stream[offset + length] == request.payload[length])
            ++length;
        }
        if (stream.compare(offset, length, request.payload, 0, length) != 0) {
          fail("the peer's bytes differ from the queued writes on fd " + std::to_string(fd));
          return;
        }
        offset += length;
      }
      if (offset != stream.size()) {
        fail("the peer received bytes no completion accounts for on fd " + std::to_string(fd));
        return;
      }
    }
  }

  static constexpr int max_writes = 250;
  const bool trace_ = std::getenv("QIO_MODEL_TRACE") != nullptr;
  int accepted_write_count_ = 0;
  bool pruning_ = false;
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t position_ = 0;
  SimulatedKernel kernel_;
  qio::Engine* engine_ = nullptr;
  std::vector<std::unique_ptr<Request>> requests_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<std::size_t> untracked_;
  std::map<int, std::vector<std::size_t>> accepted_writes_;
  std::map<int, std::vector<std::size_t>> completed_writes_;
  std::string problem_;
};

} // namespace

std::string run_engine_model(const std::uint8_t* data, std::size_t size) {
  return Model(data, size).run();
}

} // namespace qio_fuzz
