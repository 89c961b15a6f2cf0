// SPDX-License-Identifier: MIT
// peer_output.cpp - the blocking xdrrec writer and the qio one.
#include "peer_output.hpp"

#include <unistd.h> // write

#include <cerrno>       // errno, EINTR
#include <system_error> // std::system_error

#include "common/xdr_procedure.hpp"
#include "qio/engine.hpp"
#include "xdr_glue/record_writer.hpp"

namespace deadlock {
namespace {

class BlockingOutput final : public PeerOutput {
public:
  BlockingOutput(int socket, PeerStatus& status) : socket_(socket), status_(status) {
    // Sizes 0: libtirpc's defaults (4000-byte buffers), as its own TCP
    // clients and servers use.
    xdrrec_create(&stream_, 0, 0, this, &refuse_reading, &write_everything);
    stream_.x_op = XDR_ENCODE;
  }
  ~BlockingOutput() override { xdr_destroy(&stream_); }
  BlockingOutput(const BlockingOutput&) = delete;
  BlockingOutput& operator=(const BlockingOutput&) = delete;

  bool send(demo_packet& packet) override {
    if (!xdr_demo_packet(&stream_, &packet) || !xdrrec_endofrecord(&stream_, TRUE))
      return false;
    ++status_.records_sent;
    return true;
  }
  int add_pending(fd_set&) const override { return 0; }
  bool flush() override { return true; }
  bool drained() const override { return true; }

private:
  // xdrrec's writer: waits in write(2) until the kernel has taken every
  // byte, as xdrrec requires of it. This is where both peers get stuck.
  static int write_everything(void* self, void* bytes, int length) {
    auto& output = *static_cast<BlockingOutput*>(self);
    const char* next = static_cast<const char*>(bytes);
    int left = length;
    output.status_.set(Activity::writing);
    while (left > 0) {
      const ssize_t written = ::write(output.socket_, next, static_cast<std::size_t>(left));
      if (written < 0 && errno == EINTR)
        continue;
      if (written <= 0)
        return -1;
      next += written;
      left -= static_cast<int>(written);
      output.status_.bytes_sent += static_cast<std::uint64_t>(written);
    }
    return length;
  }
  // Input goes through the peer's Inbox, never through this stream.
  static int refuse_reading(void*, void*, int) { return -1; }

  int socket_;
  PeerStatus& status_;
  XDR stream_{};
};

class QioOutput final : public PeerOutput {
public:
  QioOutput(int socket, PeerStatus& status) : socket_(socket), status_(status) {
    qio::ChannelOptions options;
    options.buffered = false; // the RecordWriter already hands qio its own copy
    if (const std::error_code error = engine_.configure(socket, options))
      throw std::system_error(error, "qio configure");
  }

  bool send(demo_packet& packet) override {
    status_.set(Activity::queueing);
    if (const std::error_code error =
            writer_.write_record(demo::xdr_procedure(&xdr_demo_packet), &packet)) {
      errno = error.value();
      return false;
    }
    ++status_.records_sent;
    return true;
  }
  int add_pending(fd_set& writable) const override { return engine_.fill_fdset(writable); }
  // The counters come from the engine's own figures for the channel
  // (Engine::stats, qio_stat in C): bytes the kernel took, and the most
  // that ever waited in the queue.
  bool flush() override {
    engine_.flush();
    qio::ChannelStats stats;
    if (!engine_.stats(socket_, stats)) {
      status_.bytes_sent = stats.bytes_written;
      status_.peak_queued_bytes = stats.peak_queued_bytes;
    }
    if (const std::error_code error = writer_.error()) {
      errno = error.value();
      return false;
    }
    return true;
  }
  bool drained() const override { return engine_.pending() == 0; }

private:
  int socket_;
  PeerStatus& status_;
  qio::Engine engine_;
  xdr_glue::RecordWriter writer_{engine_, socket_};
};

} // namespace

std::string_view mode_name(OutputMode mode) {
  return mode == OutputMode::blocking ? "blocking" : "qio";
}

std::unique_ptr<PeerOutput> make_output(OutputMode mode, int socket, PeerStatus& status) {
  if (mode == OutputMode::blocking)
    return std::make_unique<BlockingOutput>(socket, status);
  return std::make_unique<QioOutput>(socket, status);
}

} // namespace deadlock
