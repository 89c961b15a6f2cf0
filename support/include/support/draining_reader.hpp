// SPDX-License-Identifier: MIT
// draining_reader.hpp - a thread that reads a descriptor to its end.
//
// The peer of a writer under test: reads whatever arrives as fast as it
// can, hands each chunk to the caller's code (which counts or checks it),
// and notes when end of file came. The writer is never left blocked: a
// chunk the caller dislikes is the caller's to record, and reading goes on.
#ifndef QIO_SUPPORT_DRAINING_READER_HPP
#define QIO_SUPPORT_DRAINING_READER_HPP

#include <chrono>     // steady_clock, when end of file came
#include <cstddef>    // std::size_t
#include <cstdint>    // std::uint64_t
#include <functional> // std::function, the chunk's consumer
#include <span>       // a chunk
#include <string>     // the read error
#include <thread>     // the reader's thread

#include "support/unique_fd.hpp"

namespace support {

struct DrainOutcome {
  std::uint64_t bytes = 0;                        // read before end of file
  std::chrono::steady_clock::time_point finished; // when end of file (or an error) came
  std::string error;                              // "read: ..." if reading failed
};

class DrainingReader {
public:
  // `position`: the bytes read before `chunk`.
  using Consumer = std::function<void(std::span<const char> chunk, std::uint64_t position)>;

  // Starts reading `fd` at once, on a thread of its own, in chunks of up
  // to `chunk_bytes`, calling `consume` (on that thread) for each; closes
  // `fd` at the end.
  DrainingReader(UniqueFd fd, Consumer consume, std::size_t chunk_bytes = 256 * 1024);
  // Waits for the end, if join() has not.
  ~DrainingReader();
  DrainingReader(const DrainingReader&) = delete;
  DrainingReader& operator=(const DrainingReader&) = delete;

  // Waits for end of file (or a read error); call once.
  DrainOutcome join();

private:
  void run(std::size_t chunk_bytes);

  UniqueFd fd_;
  Consumer consume_;
  DrainOutcome outcome_;
  std::thread thread_; // last: starts once the rest is ready
};

} // namespace support

#endif // QIO_SUPPORT_DRAINING_READER_HPP
