// SPDX-License-Identifier: MIT
// transports.cpp - the two ways a chunk is queued on a qio channel.
#include "transports.hpp"

#include <cerrno>  // EINVAL
#include <climits> // INT_MAX

#include "qio/qio.h"

namespace xdr_glue::detail {
namespace {

class EngineTransport final : public Transport {
public:
  explicit EngineTransport(qio::Engine& engine) noexcept : engine_(engine) {}

  std::error_code queue(int fd, Chunk& chunk) override {
    return engine_.write(fd, {chunk.bytes.get(), chunk.size}, qio::Callback{&completed, &chunk});
  }
  std::error_code prune(int fd) override { return engine_.prune(fd); }

private:
  static void completed(const qio::Completion& completion, void* chunk) {
    RecordQueue::complete(static_cast<Chunk*>(chunk), completion.error);
  }

  qio::Engine& engine_;
};

class ProcessEngineTransport final : public Transport {
public:
  std::error_code queue(int fd, Chunk& chunk) override {
    if (chunk.size > static_cast<std::size_t>(INT_MAX))
      return {EINVAL, std::generic_category()};
    return {qio_write(fd, chunk.bytes.get(), static_cast<int>(chunk.size), &completed, &chunk),
            std::generic_category()};
  }
  std::error_code prune(int fd) override { return {qio_prune(fd), std::generic_category()}; }

private:
  static void completed(int error, int, int, char*, int, void* chunk) {
    RecordQueue::complete(static_cast<Chunk*>(chunk), {error, std::generic_category()});
  }
};

} // namespace

std::unique_ptr<Transport> engine_transport(qio::Engine& engine) {
  return std::make_unique<EngineTransport>(engine);
}

std::unique_ptr<Transport> process_engine_transport() {
  return std::make_unique<ProcessEngineTransport>();
}

} // namespace xdr_glue::detail
