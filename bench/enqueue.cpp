// SPDX-License-Identifier: MIT
// enqueue.cpp - queueing cost in time, memory and instructions.
#include "enqueue.hpp"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>      // open, for /dev/null
#include <sys/socket.h> // socketpair
#include <sys/wait.h>   // waitpid
#include <unistd.h>     // fork, pipe, execvp

#include <array>    // the subjects
#include <cerrno>   // errno
#include <cstring>  // std::strerror
#include <fstream>  // the callgrind output file
#include <optional> // instruction counts
#include <sstream>  // the probe's report

#include <fmt/format.h>

#include "libuv_copy.hpp"
#include "qio/qio.h"

namespace bench {
namespace {

constexpr std::size_t message_size = 64;

// Valgrind cannot run a program built with AddressSanitizer.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitizer_build = true;
#else
constexpr bool sanitizer_build = false;
#endif

struct Subject {
  const char* name;             // as the report shows it
  const char* probe_name;       // as --probe takes it
  const char* counted_function; // what callgrind counts, callees included
};

constexpr std::array subjects{
    Subject{"qio", "qio", "qio_write"},
    Subject{"qio+AST", "qio-ast", "qio_write"},
    Subject{"libevent", "libevent", "bufferevent_write"},
    Subject{"libuv", "libuv", "qio_bench_uv_write_copy"},
};

struct Measured {
  double ns_per_message = 0;
  double bytes_per_request = 0;
  std::string error;
};

// Queues `count` copies of one message through `enqueue_one` (which returns
// 0 or an error), timing the loop and measuring resident growth around it.
// A few messages go first, untimed and uncounted, so pages touched once by
// any first call (code, the first rings and block) are not charged to the
// requests; they half fill the smallest first block (4 KiB), so at most
// 2 KiB of the measured payload can land in memory counted before.
template <class Enqueue> Measured measure(std::size_t count, Enqueue enqueue_one) {
  constexpr std::size_t warm_up = 32;
  const char* message = Pattern::instance().at(0);
  for (std::size_t i = 0; i < warm_up; ++i)
    if (const int error = enqueue_one(message))
      return {0, 0, fmt::format("enqueue failed while warming up (error {})", error)};
  const std::size_t resident_before = resident_bytes();
  const Clock::time_point start = Clock::now();
  for (std::size_t i = 0; i < count; ++i)
    if (const int error = enqueue_one(message))
      return {0, 0, fmt::format("enqueue failed after {} messages (error {})", i, error)};
  const Clock::time_point end = Clock::now();
  const double growth =
      static_cast<double>(resident_bytes()) - static_cast<double>(resident_before);
  const double payload = static_cast<double>(count * message_size);
  const double messages = static_cast<double>(count);
  return {seconds_between(start, end) * 1e9 / messages, (growth - payload) / messages, {}};
}

void ignore_completion(int, int, int, char*, int, void*) {}

Measured queue_on_qio(int fd, std::size_t count, bool with_ast) {
  if (const int error = qio_configure(fd, 1, 1, -1))
    return {0, 0, fmt::format("qio_configure: {}", std::strerror(error))};
  const qio_ast_fn ast = with_ast ? ignore_completion : nullptr;
  const Measured measured = measure(count, [fd, ast](const char* message) {
    return qio_write(fd, message, static_cast<int>(message_size), ast, nullptr);
  });
  qio_termc(fd);
  return measured;
}

Measured queue_on_libevent(int fd, std::size_t count) {
  evutil_make_socket_nonblocking(fd);
  event_base* base = event_base_new();
  bufferevent* buffered = base ? bufferevent_socket_new(base, fd, 0) : nullptr;
  Measured measured{0, 0, "libevent: cannot create the event base or bufferevent"};
  if (buffered != nullptr) {
    bufferevent_enable(buffered, EV_WRITE);
    measured = measure(count, [buffered](const char* message) {
      return bufferevent_write(buffered, message, message_size);
    });
    bufferevent_free(buffered);
  }
  if (base != nullptr)
    event_base_free(base);
  return measured;
}

Measured queue_on_libuv(int fd, std::size_t count) {
  uv_loop_t loop;
  uv_pipe_t pipe;
  UvTally tally;
  uv_loop_init(&loop);
  uv_pipe_init(&loop, &pipe, 0);
  auto* stream = reinterpret_cast<uv_stream_t*>(&pipe);
  Measured measured;
  if (const int error = uv_pipe_open(&pipe, fd)) {
    ::close(fd); // else the handle owns it and closes it below
    measured.error = fmt::format("uv_pipe_open: {}", uv_strerror(error));
  } else {
    measured = measure(count, [stream, &tally](const char* message) {
      return qio_bench_uv_write_copy(stream, message, message_size, &tally);
    });
  }
  // Closing cancels the queued requests; their callbacks free them.
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return measured;
}

// Queues `count` messages for the subject named `probe_name` on a fresh
// socketpair whose other end is never read.
Measured queue_messages(std::string_view probe_name, std::size_t count) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) != 0)
    return {0, 0, fmt::format("socketpair: {}", std::strerror(errno))};
  Measured measured;
  if (probe_name == "qio" || probe_name == "qio-ast")
    measured = queue_on_qio(ends[0], count, probe_name == "qio-ast");
  else if (probe_name == "libevent")
    measured = queue_on_libevent(ends[0], count);
  else
    measured = queue_on_libuv(ends[0], count); // closes ends[0] itself
  if (probe_name != "libuv")
    ::close(ends[0]);
  ::close(ends[1]);
  return measured;
}

// Runs `arguments` (a program and its arguments) with stderr discarded and
// stdout captured into `output` if given, else discarded. Returns its exit
// status, or -1 if it could not be run or was killed.
int run_program(const std::vector<std::string>& arguments, std::string* output) {
  std::vector<char*> argv;
  for (const std::string& argument : arguments)
    argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  int channel[2];
  if (::pipe(channel) != 0)
    return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    const int null_device = ::open("/dev/null", O_WRONLY);
    ::dup2(output ? channel[1] : null_device, STDOUT_FILENO);
    ::dup2(null_device, STDERR_FILENO);
    ::close(channel[0]);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(channel[1]);
  char buffer[512];
  for (ssize_t got; (got = ::read(channel[0], buffer, sizeof buffer)) > 0;)
    if (output)
      output->append(buffer, static_cast<std::size_t>(got));
  ::close(channel[0]);
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

// Measures in a fresh process (this program's probe mode): a forked copy
// would reuse heap pages this process already has resident and hide the
// growth being measured.
Measured measure_in_fresh_process(const EnqueuePlan& plan, const Subject& subject) {
  std::string output;
  const int status = run_program(
      {plan.program_path, "--probe", subject.probe_name, std::to_string(plan.messages)}, &output);
  Measured measured;
  std::istringstream fields(output);
  std::string verdict;
  fields >> verdict >> measured.ns_per_message >> measured.bytes_per_request;
  if (status != 0 || verdict != "ok" || !fields)
    measured.error = fmt::format("the measuring process failed (status {}): {}", status, output);
  return measured;
}

// The collected instruction total from a callgrind output file.
std::optional<double> collected_instructions(const std::string& path) {
  std::ifstream output(path);
  std::string line;
  while (std::getline(output, line))
    for (const std::string_view key : {"summary: ", "totals: "})
      if (line.starts_with(key))
        return std::stod(line.substr(key.size()));
  return std::nullopt;
}

// Instructions per message of the subject's enqueue call, callees included,
// counted by callgrind running this program's probe mode.
std::optional<double> count_instructions(const EnqueuePlan& plan, const Subject& subject,
                                         std::string& note) {
  if (sanitizer_build) {
    note = "not measured: sanitizer build";
    return std::nullopt;
  }
  const std::string output =
      fmt::format("/tmp/qio-bench-callgrind.{}.{}", ::getpid(), subject.probe_name);
  const int status = run_program({"valgrind", "--tool=callgrind",
                                  fmt::format("--toggle-collect={}", subject.counted_function),
                                  "--callgrind-out-file=" + output, plan.program_path, "--probe",
                                  subject.probe_name, std::to_string(plan.callgrind_messages)},
                                 nullptr);
  std::optional<double> total = status == 0 ? collected_instructions(output) : std::nullopt;
  ::unlink(output.c_str());
  if (!total) {
    note = status == 127 ? "not measured: valgrind not found"
                         : fmt::format("not measured: callgrind failed (status {})", status);
    return std::nullopt;
  }
  return *total / static_cast<double>(plan.callgrind_messages);
}

} // namespace

std::vector<EnqueueFigure> run_enqueue(const EnqueuePlan& plan,
                                       std::vector<std::string>& failures) {
  std::vector<EnqueueFigure> figures;
  for (const Subject& subject : subjects) {
    const Measured measured = measure_in_fresh_process(plan, subject);
    EnqueueFigure figure;
    figure.subject = subject.name;
    figure.messages = plan.messages;
    figure.ns_per_message = measured.ns_per_message;
    figure.bytes_per_request = measured.bytes_per_request;
    figure.error = measured.error;
    if (!measured.error.empty())
      failures.push_back(fmt::format("enqueue, {}: {}", subject.name, measured.error));
    figure.instructions = count_instructions(plan, subject, figure.instructions_note);
    figures.push_back(figure);
  }
  return figures;
}

int run_enqueue_probe(std::string_view subject, std::size_t count) {
  for (const Subject& known : subjects)
    if (subject == known.probe_name) {
      const Measured measured = queue_messages(subject, count);
      if (!measured.error.empty()) {
        fmt::print("error {}\n", measured.error);
        return 1;
      }
      fmt::print("ok {} {}\n", measured.ns_per_message, measured.bytes_per_request);
      return 0;
    }
  return 2;
}

} // namespace bench
