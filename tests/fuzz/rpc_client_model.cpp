// SPDX-License-Identifier: MIT
// rpc_client_model.cpp - see rpc_client_model.hpp.
#include "rpc_client_model.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "qio/engine.hpp"
#include "xdr_glue/rpc_client.hpp"

// AddressSanitizer reports every allocation to a hook, with its size.
#if defined(__SANITIZE_ADDRESS__)
#define QIO_FUZZ_ALLOCATION_HOOK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QIO_FUZZ_ALLOCATION_HOOK 1
#endif
#endif
#ifdef QIO_FUZZ_ALLOCATION_HOOK
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, std::size_t),
    void (*free_hook)(const volatile void*));
#endif

namespace qio_fuzz {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t most_calls = 8;

// The largest allocation made while `watching` is set.
struct AllocationWatch {
  bool watching = false;
  std::size_t largest = 0;
};
AllocationWatch allocation_watch;

#ifdef QIO_FUZZ_ALLOCATION_HOOK
void note_allocation(const volatile void*, std::size_t size) {
  if (allocation_watch.watching)
    allocation_watch.largest = std::max(allocation_watch.largest, size);
}
void ignore_free(const volatile void*) {}
const bool hooks_installed =
    __sanitizer_install_malloc_and_free_hooks(&note_allocation, &ignore_free) != 0;
#else
const bool hooks_installed = false;
#endif

class Watching {
public:
  Watching() { allocation_watch.watching = true; }
  ~Watching() { allocation_watch.watching = false; }
  Watching(const Watching&) = delete;
  Watching& operator=(const Watching&) = delete;
};

// Each call decodes a result of one of these kinds, so replies can make
// the client allocate (strings, opaque data) or fail to decode. libtirpc's
// xdr_bytes and xdr_string allocate the length a reply claims before they
// check it is there, so a program bounds them, as these do, by max_reply.
struct CallState {
  int runs = 0;
  u_int number = 0;
  char* text = nullptr;
  struct {
    char* bytes = nullptr;
    u_int length = 0;
  } opaque;
};

// The bound of both: the largest reply, less the string's terminator.
u_int result_bound = 0;

// Of xdrproc_t's own type, so calling them through one is well defined (and
// clang's -fsanitize=function agrees).
template <class Object> Object* only_argument(std::va_list& arguments) {
  return va_arg(arguments, Object*);
}

bool_t xdr_bounded_opaque(XDR* stream, ...) {
  std::va_list arguments;
  va_start(arguments, stream);
  auto* opaque = only_argument<decltype(CallState::opaque)>(arguments);
  va_end(arguments);
  return xdr_bytes(stream, &opaque->bytes, &opaque->length, result_bound);
}

bool_t xdr_bounded_string(XDR* stream, ...) {
  std::va_list arguments;
  va_start(arguments, stream);
  char** text = only_argument<char*>(arguments);
  va_end(arguments);
  return xdr_string(stream, text, result_bound);
}

xdrproc_t result_procedure(std::size_t index) {
  switch (index % 3) {
  case 0:
    return reinterpret_cast<xdrproc_t>(&xdr_u_int);
  case 1:
    return &xdr_bounded_string;
  default:
    return &xdr_bounded_opaque;
  }
}

void* result_of(CallState& call, std::size_t index) {
  switch (index % 3) {
  case 0:
    return &call.number;
  case 1:
    return &call.text;
  default:
    return &call.opaque;
  }
}

// A small linear congruential generator: chunk sizes and clock steps.
class Chooser {
public:
  explicit Chooser(std::uint8_t seed) : state_(seed + 1u) {}
  std::size_t next(std::size_t bound) {
    state_ = state_ * 1103515245u + 12345u;
    return (state_ >> 16) % bound;
  }

private:
  std::uint32_t state_;
};

class Model {
public:
  Model(const std::uint8_t* data, std::size_t size);
  std::string run();

private:
  std::string make_calls();
  std::string check_counts() const;
  std::string poll_watched();
  std::string deliver(std::size_t length);
  std::string finish();

  std::size_t max_reply_;
  std::size_t call_count_;
  std::uint8_t timeout_mask_;
  bool end_with_eof_;
  Chooser chooser_;
  const std::uint8_t* stream_;
  std::size_t stream_size_;
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  bool inside_client_ = false;
  bool completed_outside_ = false;
  std::array<CallState, most_calls> calls_{};
  int client_fd_ = -1;
  int server_fd_ = -1;
  qio::Engine engine_;
  std::optional<xdr_glue::rpc::Client> client_;
};

Model::Model(const std::uint8_t* data, std::size_t size)
    : max_reply_(1024 * (1 + data[0] % 16u)), call_count_(1 + data[1] % most_calls),
      timeout_mask_(static_cast<std::uint8_t>(data[1] >> 3)), end_with_eof_(data[2] & 1),
      chooser_(data[2]), stream_(data + 3), stream_size_(size - 3) {}

std::string Model::make_calls() {
  for (std::size_t index = 0; index < call_count_; ++index) {
    CallState& call = calls_[index];
    const auto timeout = (timeout_mask_ >> index) & 1 ? std::chrono::milliseconds(index * 100)
                                                      : xdr_glue::rpc::no_timeout;
    u_int argument = static_cast<u_int>(index);
    const std::error_code error = client_->call(
        static_cast<rpcproc_t>(index), reinterpret_cast<xdrproc_t>(&xdr_u_int), &argument,
        result_procedure(index), result_of(call, index), timeout,
        [this, &call](std::error_code, const rpc_err&) {
          ++call.runs;
          completed_outside_ |= !inside_client_;
        });
    if (error)
      return "call " + std::to_string(index) + " refused: " + error.message();
  }
  engine_.flush();
  return check_counts();
}

std::string Model::check_counts() const {
  std::size_t open = 0;
  for (std::size_t index = 0; index < call_count_; ++index) {
    if (calls_[index].runs > 1)
      return "call " + std::to_string(index) + " completed more than once";
    open += calls_[index].runs == 0 ? 1 : 0;
  }
  if (completed_outside_)
    return "a call completed outside poll and the destructor";
  if (client_ && client_->pending() != open)
    return "pending() is " + std::to_string(client_->pending()) + ", " + std::to_string(open) +
           " calls have not completed";
  return {};
}

std::string Model::poll_watched() {
  {
    const Watching watching;
    inside_client_ = true;
    client_->poll();
    inside_client_ = false;
  }
  if (allocation_watch.largest > max_reply_)
    return "an allocation of " + std::to_string(allocation_watch.largest) +
           " bytes while reading, max_reply " + std::to_string(max_reply_);
  return check_counts();
}

// The server sends the next `length` bytes; the client's loop turns once.
std::string Model::deliver(std::size_t length) {
  const ssize_t sent = ::send(server_fd_, stream_, length, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0 && errno != EAGAIN)
    return "the test's own send failed";
  const std::size_t taken = sent > 0 ? static_cast<std::size_t>(sent) : 0;
  stream_ += taken;
  stream_size_ -= taken;
  now_ += std::chrono::milliseconds(chooser_.next(250));
  return poll_watched();
}

std::string Model::finish() {
  if (end_with_eof_) {
    ::shutdown(server_fd_, SHUT_WR);
    for (int turn = 0; turn < 4 && !client_->failure(); ++turn)
      if (std::string problem = poll_watched(); !problem.empty())
        return problem;
    if (!client_->failure())
      return "end of file was not noticed";
    if (client_->pending() != 0)
      return "calls still pending after the connection failed";
    u_int argument = 0;
    const std::error_code late =
        client_->call(0, reinterpret_cast<xdrproc_t>(&xdr_u_int), &argument,
                      reinterpret_cast<xdrproc_t>(&xdr_u_int), &argument,
                      xdr_glue::rpc::no_timeout, [](std::error_code, const rpc_err&) {});
    if (late != std::errc::broken_pipe)
      return "a call after the failure was not refused with EPIPE";
  }
  inside_client_ = true;
  client_.reset();
  inside_client_ = false;
  for (std::size_t index = 0; index < call_count_; ++index) {
    CallState& call = calls_[index];
    if (call.runs != 1)
      return "call " + std::to_string(index) + " completed " + std::to_string(call.runs) +
             " times";
    xdr_free(result_procedure(index), result_of(call, index));
  }
  return check_counts();
}

std::string Model::run() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return {}; // out of descriptors: nothing to test
  client_fd_ = pair[0];
  server_fd_ = pair[1];
  std::string problem;
  qio::ChannelOptions options;
  options.buffered = false;
  if (engine_.configure(client_fd_, options)) {
    problem = "configure failed";
  } else {
    xdr_glue::rpc::ClientOptions client_options;
    client_options.max_reply = max_reply_;
    result_bound = static_cast<u_int>(max_reply_ - 1);
    client_options.first_xid = 1;
    client_options.clock = [this] { return now_; };
    client_.emplace(engine_, client_fd_, 0x40000000, 1, client_options);
    allocation_watch.largest = 0;
    problem = make_calls();
    while (problem.empty() && stream_size_ > 0)
      problem = deliver(std::min(stream_size_, 1 + chooser_.next(64)));
    if (problem.empty())
      problem = finish();
  }
  client_.reset();
  engine_.terminate();
  ::close(client_fd_);
  ::close(server_fd_);
  return problem;
}

} // namespace

std::string run_rpc_client_model(const std::uint8_t* data, std::size_t size) {
  if (size < 3)
    return {};
  return Model(data, size).run();
}

bool rpc_client_model_checks_allocations() noexcept { return hooks_installed; }

} // namespace qio_fuzz
