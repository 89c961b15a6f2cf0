// SPDX-License-Identifier: MIT
// rpc_support.hpp - fixtures for the RPC server tests: loopback sockets,
// the server running its select loop on a thread, the test program's
// handlers, raw calls, and running rpcinfo with a time limit.
#ifndef XDR_GLUE_TESTS_RPC_SUPPORT_HPP
#define XDR_GLUE_TESTS_RPC_SUPPORT_HPP

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support.hpp"
#include "qio/engine.hpp"
#include "support/loopback.hpp"
#include "xdr_support.hpp"
#include "xdr_glue/rpc_server.hpp"

extern char** environ;

namespace rpc_test {

using qio_test::Fd;
using namespace std::chrono_literals;

inline const timeval call_timeout{10, 0};

using support::loopback_address;

// Send buffer of the server's connections (they inherit the listener's):
// fixed and small, so "a reply larger than the socket buffers" holds
// whatever the machine's TCP autotuning limits are.
inline constexpr int server_send_buffer = 64 * 1024;

// A listening TCP socket on 127.0.0.1; the kernel picks the port.
inline Fd listen_on_loopback(std::uint16_t& port) {
  Fd listener = support::listen_on_loopback(0, {.send_buffer = server_send_buffer});
  port = support::local_port(listener.get());
  return listener;
}

// A blocking connection to the server; `receive_buffer` > 0 shrinks the
// socket's receive buffer before connecting (which also stops autotuning).
inline Fd connect_to(std::uint16_t port, int receive_buffer = 0) {
  return support::connect_to_loopback(port, {.receive_buffer = receive_buffer, .no_delay = true});
}

// A descriptor the caller hands on: dup() leaves `owned` to close its own.
inline int handed_on(const Fd& owned) {
  const int copy = ::fcntl(owned.get(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    throw std::system_error(errno, std::generic_category(), "dup");
  return copy;
}

// Sends everything; MSG_NOSIGNAL because the server may have closed the
// connection on purpose, and a test must not die of SIGPIPE for that.
inline bool send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t count = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (count < 0 && errno == EINTR)
      continue;
    if (count <= 0)
      return false;
    sent += static_cast<std::size_t>(count);
  }
  return true;
}

// True once the server has closed `fd` (end of file or reset), reading and
// discarding anything before that; false if nothing happens in 10 s.
inline bool closed_by_server(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd readiness{fd, POLLIN, 0};
    if (::poll(&readiness, 1, 1000) <= 0)
      continue;
    const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
    if (count == 0 || (count < 0 && errno == ECONNRESET))
      return true;
  }
  return false;
}

// A libtirpc client (clnttcp_create) over a connection made by connect_to;
// `send_size` is its xdrrec buffer (0: libtirpc's default), so its calls
// go out in fragments of send_size - 4 bytes.
class Client {
public:
  Client(std::uint16_t port, rpcvers_t version, int receive_buffer = 0, unsigned send_size = 0) {
    const Fd connection = connect_to(port, receive_buffer);
    sockaddr_in address = loopback_address(port);
    int socket = handed_on(connection);
    handle_ = clnttcp_create(&address, QIO_TEST_PROGRAM, version, &socket, send_size, 0);
    if (handle_ == nullptr) {
      ::close(socket);
      throw std::runtime_error(clnt_spcreateerror("clnttcp_create"));
    }
    clnt_control(handle_, CLSET_FD_CLOSE, nullptr); // clnt_destroy closes it
  }
  ~Client() { clnt_destroy(handle_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  CLIENT* get() const { return handle_; }

  enum clnt_stat call(rpcproc_t procedure, xdrproc_t encode, void* arguments, xdrproc_t decode,
                      void* result, timeval timeout = call_timeout) {
    return clnt_call(handle_, procedure, encode, static_cast<caddr_t>(arguments), decode,
                     static_cast<caddr_t>(result), timeout);
  }
  // ECHO_TEXT: true if the server sent `text` back.
  bool echoes(const std::string& text) {
    char* argument = const_cast<char*>(text.c_str());
    char* result = nullptr;
    const bool ok = call(ECHO_TEXT, xdr_test::xdrproc(xdr_wrapstring), &argument,
                         xdr_test::xdrproc(xdr_wrapstring), &result) == RPC_SUCCESS &&
                    result != nullptr && text == result;
    clnt_freeres(handle_, xdr_test::xdrproc(xdr_wrapstring), reinterpret_cast<caddr_t>(&result));
    return ok;
  }

private:
  CLIENT* handle_ = nullptr;
};

// What the test program's handlers let a test observe; they run on the
// server's thread.
class Observed {
public:
  void note_blob_call() {
    std::lock_guard lock(mutex_);
    ++blob_calls_;
    changed_.notify_all();
  }
  void note_close(std::error_code reason) {
    std::lock_guard lock(mutex_);
    close_reasons_.push_back(reason);
    changed_.notify_all();
  }
  bool wait_for_blob_calls(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return blob_calls_ >= count; });
  }
  // The reasons of the first `count` closes, or fewer after 10 s.
  std::vector<std::error_code> wait_for_closes(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return close_reasons_.size() >= count; });
    return close_reasons_;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t blob_calls_ = 0;
  std::vector<std::error_code> close_reasons_;
};

// The bytes of blob `size`: position-dependent, so a misplaced byte shows.
inline char blob_byte(std::size_t index) { return static_cast<char>((index * 7 + 3) & 0xff); }

// Registers QIO_TEST_PROGRAM versions 1 and 3 (see test_types.x).
inline void register_test_program(xdr_glue::rpc::Server& server, Observed& observed) {
  using xdr_glue::rpc::CallInfo;
  using xdr_glue::rpc::Void;
  using xdr_test::xdrproc;
  const auto echo = [](const CallInfo&, char* const& text, char*& reply) {
    reply = strdup(text);
    return reply != nullptr;
  };
  const auto string_procedure = xdrproc(xdr_wrapstring);
  REQUIRE_FALSE(server.add_procedure<char*, char*>(QIO_TEST_PROGRAM, QIO_TEST_V1, ECHO_TEXT,
                                                   string_procedure, string_procedure, echo));
  REQUIRE_FALSE(server.add_procedure<char*, char*>(QIO_TEST_PROGRAM, QIO_TEST_V3, ECHO_TEXT_V3,
                                                   string_procedure, string_procedure, echo));
  REQUIRE_FALSE(server.add_procedure<sample, sample>(
      QIO_TEST_PROGRAM, QIO_TEST_V1, TRANSFORM_SAMPLE, xdrproc(xdr_sample), xdrproc(xdr_sample),
      [](const CallInfo&, const sample& in, sample& out) {
        // A deep copy through XDR, then one visible change.
        std::string bytes = xdr_test::encode(xdrproc(xdr_sample), const_cast<sample*>(&in));
        XDR stream;
        xdrmem_create(&stream, bytes.data(), static_cast<u_int>(bytes.size()), XDR_DECODE);
        const bool copied = xdr_sample(&stream, &out);
        XDR_DESTROY(&stream);
        out.sequence += 1000;
        return copied;
      }));
  REQUIRE_FALSE(server.add_procedure<u_int, blob>(
      QIO_TEST_PROGRAM, QIO_TEST_V1, MAKE_BLOB, xdrproc(xdr_u_int), xdrproc(xdr_blob),
      [&observed](const CallInfo&, const u_int& size, blob& out) {
        out.blob_val = static_cast<char*>(std::malloc(size + 1));
        out.blob_len = size;
        for (u_int i = 0; i < size; ++i)
          out.blob_val[i] = blob_byte(i);
        observed.note_blob_call();
        return true;
      }));
  REQUIRE_FALSE(server.add_procedure<Void, u_int>(
      QIO_TEST_PROGRAM, QIO_TEST_V1, QUEUED_REPLY_BYTES, xdr_glue::rpc::void_xdrproc(),
      xdrproc(xdr_u_int), [&server](const CallInfo&, const Void&, u_int& queued) {
        queued = static_cast<u_int>(server.queued_reply_bytes());
        return true;
      }));
  REQUIRE_FALSE(server.add_procedure<Void, u_int>(
      QIO_TEST_PROGRAM, QIO_TEST_V1, ALWAYS_FAIL, xdr_glue::rpc::void_xdrproc(),
      xdrproc(xdr_u_int), [](const CallInfo&, const Void&, u_int&) { return false; }));
}

// Registers a test's own procedures beside the test program's.
using Registration = std::function<void(xdr_glue::rpc::Server&)>;

// The server with the test program, run by its own select loop on a
// thread until the object is destroyed. Built and registered on the
// test's thread; used only by the loop's thread until it is joined.
class ServerThread {
public:
  explicit ServerThread(xdr_glue::rpc::ServerOptions options = {},
                        const Registration& also_register = {}) {
    listener_ = listen_on_loopback(port_);
    int stop[2];
    if (::pipe2(stop, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    stop_read_ = Fd(stop[0]);
    stop_write_ = Fd(stop[1]);
    options.on_close = [this](int, std::error_code reason) { observed.note_close(reason); };
    engine_ = std::make_unique<qio::Engine>();
    server_ = std::make_unique<xdr_glue::rpc::Server>(*engine_, std::move(options));
    register_test_program(*server_, observed);
    if (also_register)
      also_register(*server_);
    REQUIRE_FALSE(server_->add_listener(listener_.get()));
    thread_ = std::thread([this] { run(); });
  }
  ~ServerThread() {
    // Closing the pipe's write end is the stop signal: the thread's select
    // sees the read end at end of file. Unlike a byte written, it cannot
    // fail and leave the join waiting forever.
    stop_write_ = Fd();
    thread_.join();
    server_.reset();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  std::uint16_t port() const { return port_; }
  Observed observed;

private:
  void run() {
    for (;;) {
      fd_set readable;
      fd_set writable;
      FD_ZERO(&readable);
      FD_ZERO(&writable);
      const int count = std::max(server_->fill_fdsets(readable, writable), stop_read_.get() + 1);
      FD_SET(stop_read_.get(), &readable);
      timeval timeout{server_->has_pending_calls() ? 0 : 1, 0};
      if (::select(count, &readable, &writable, nullptr, &timeout) < 0)
        FD_ZERO(&readable); // EINTR: go round again
      if (FD_ISSET(stop_read_.get(), &readable))
        return;
      server_->process(readable);
      engine_->flush();
    }
  }

  std::uint16_t port_ = 0;
  Fd listener_;
  Fd stop_read_;
  Fd stop_write_;
  std::unique_ptr<qio::Engine> engine_;
  std::unique_ptr<xdr_glue::rpc::Server> server_;
  std::thread thread_;
};

// ---- raw calls --------------------------------------------------------------------

// An AUTH_NONE call header for QIO_TEST_PROGRAM, for xdr_callmsg.
inline rpc_msg call_message(std::uint32_t xid, rpcvers_t version, rpcproc_t procedure) {
  rpc_msg call{};
  call.rm_xid = xid;
  call.rm_direction = CALL;
  call.rm_call.cb_rpcvers = RPC_MSG_VERSION;
  call.rm_call.cb_prog = QIO_TEST_PROGRAM;
  call.rm_call.cb_vers = version;
  call.rm_call.cb_proc = procedure;
  call.rm_call.cb_cred = _null_auth;
  call.rm_call.cb_verf = _null_auth;
  return call;
}

// The same, encoded by libtirpc.
inline std::string call_header(std::uint32_t xid, rpcvers_t version, rpcproc_t procedure) {
  rpc_msg call = call_message(xid, version, procedure);
  return xdr_test::encode(xdr_test::xdrproc(xdr_callmsg), &call);
}

// XDR words, for headers libtirpc refuses to encode.
inline std::string words(std::initializer_list<std::uint32_t> values) {
  std::string out;
  for (const std::uint32_t value : values)
    out += xdr_test::xdr_word(value);
  return out;
}

// Reads the next reply from `peer` (xdrrec + xdr_replymsg); the results,
// if any, are decoded with `decode` into `results`. One peer reads a
// series of replies: xdrrec may read ahead into the next.
inline bool read_reply(xdr_test::TirpcPeer& peer, rpc_msg& reply, xdrproc_t decode = nullptr,
                       void* results = nullptr) {
  reply = rpc_msg{};
  reply.acpted_rply.ar_verf = _null_auth;
  reply.acpted_rply.ar_results.where = static_cast<caddr_t>(results);
  reply.acpted_rply.ar_results.proc = decode ? decode : xdr_glue::rpc::void_xdrproc();
  return peer.read_record(xdr_test::xdrproc(xdr_replymsg), &reply);
}

// Reads one reply, the only one expected on `fd` for now.
inline bool read_reply(int fd, rpc_msg& reply, xdrproc_t decode = nullptr,
                       void* results = nullptr) {
  xdr_test::TirpcPeer peer(fd);
  return read_reply(peer, reply, decode, results);
}

// A call with `text` as its string argument, as the record's payload.
inline std::string string_call(std::uint32_t xid, rpcproc_t procedure, const std::string& text) {
  char* argument = const_cast<char*>(text.c_str());
  return call_header(xid, QIO_TEST_V1, procedure) +
         xdr_test::encode(xdr_test::xdrproc(xdr_wrapstring), &argument);
}

// An ECHO_TEXT call with `text` as its argument, as the record's payload.
inline std::string echo_call(std::uint32_t xid, const std::string& text) {
  return string_call(xid, ECHO_TEXT, text);
}

// Reads the next reply from `peer`, to a call answered with a string, and
// checks it is `text` for `xid`.
inline void expect_echo(xdr_test::TirpcPeer& peer, std::uint32_t xid, const std::string& text) {
  rpc_msg reply;
  char* echoed = nullptr;
  REQUIRE(read_reply(peer, reply, xdr_test::xdrproc(xdr_wrapstring), &echoed));
  CHECK(reply.rm_xid == xid);
  CHECK(reply.rm_reply.rp_stat == MSG_ACCEPTED);
  CHECK(reply.acpted_rply.ar_stat == SUCCESS);
  CHECK((echoed != nullptr && text == echoed));
  xdr_free(xdr_test::xdrproc(xdr_wrapstring), &echoed);
}

// The same for the only reply expected on `fd` for now.
inline void expect_echo(int fd, std::uint32_t xid, const std::string& text) {
  xdr_test::TirpcPeer peer(fd);
  expect_echo(peer, xid, text);
}

// ---- child processes --------------------------------------------------------------

struct ProcessResult {
  bool exited = false; // false: killed at the time limit
  int exit_code = -1;
  std::string output; // stdout and stderr together
};

// Starts `argv` with `input`, `output` and `errors` as its stdin, stdout
// and stderr (-1: this process's own). Throws std::system_error.
inline pid_t spawn(const std::vector<std::string>& argv, int input, int output, int errors) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const int targets[] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  const int sources[] = {input, output, errors};
  for (int index = 0; index < 3; ++index)
    if (sources[index] >= 0)
      posix_spawn_file_actions_adddup2(&actions, sources[index], targets[index]);
  std::vector<char*> arguments;
  for (const std::string& argument : argv)
    arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);
  pid_t child = -1;
  const int spawned =
      posix_spawn(&child, arguments[0], &actions, nullptr, arguments.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0)
    throw std::system_error(spawned, std::generic_category(), "posix_spawn " + argv[0]);
  return child;
}

// Waits up to `limit` for `child` to exit (through a pidfd, so no polling),
// kills it if it has not, and reaps it. Returns its wait status.
inline int reap_within(pid_t child, std::chrono::milliseconds limit) {
  const Fd exit_notice(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  pollfd exited{exit_notice.get(), POLLIN, 0};
  if (exit_notice.get() < 0 || ::poll(&exited, 1, static_cast<int>(limit.count())) != 1)
    ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Runs `argv` with stdout and stderr captured; kills it after `limit`.
// The child is always reaped before this returns.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds limit) {
  ProcessResult result;
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  Fd output_read(output[0]);
  Fd output_write(output[1]);
  const pid_t child = spawn(argv, -1, output_write.get(), output_write.get());
  output_write.reset();
  // Read until the child's output ends, then wait for its exit through a
  // pidfd; the deadline bounds both, and a child still there is killed.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const auto milliseconds_left = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
  };
  char buffer[4096];
  for (;;) {
    pollfd readiness{output_read.get(), POLLIN, 0};
    if (::poll(&readiness, 1, milliseconds_left()) == 0)
      break;
    const ssize_t count = ::read(output_read.get(), buffer, sizeof buffer);
    if (count < 0 && errno == EINTR)
      continue;
    if (count <= 0)
      break;
    result.output.append(buffer, static_cast<std::size_t>(count));
  }
  const int status = reap_within(child, std::chrono::milliseconds(milliseconds_left()));
  result.exited = WIFEXITED(status);
  result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace rpc_test

#endif // XDR_GLUE_TESTS_RPC_SUPPORT_HPP
