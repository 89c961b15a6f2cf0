// SPDX-License-Identifier: MIT
// transports.hpp - where a RecordQueue's chunks go: a qio::Engine of the
// program's own (the C++ writers and client), or qio's process-wide engine
// behind the C API (the C writer and client).
#ifndef XDR_GLUE_SRC_TRANSPORTS_HPP
#define XDR_GLUE_SRC_TRANSPORTS_HPP

#include <memory> // std::unique_ptr

#include "qio/engine.hpp"
#include "record_queue.hpp"

namespace xdr_glue::detail {

// Queues chunks with engine.write; `engine` must outlive every chunk.
std::unique_ptr<Transport> engine_transport(qio::Engine& engine);
// Queues chunks with qio_write, on qio's process-wide engine.
std::unique_ptr<Transport> process_engine_transport();

} // namespace xdr_glue::detail

#endif // XDR_GLUE_SRC_TRANSPORTS_HPP
