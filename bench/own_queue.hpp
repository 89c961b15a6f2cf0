// SPDX-License-Identifier: MIT
// own_queue.hpp - the tick of a writer that keeps its own queue and writes
// a non-blocking socket itself, with no event loop: the hand-written
// contiguous queue and libevent's raw evbuffer.
#ifndef QIO_BENCH_OWN_QUEUE_HPP
#define QIO_BENCH_OWN_QUEUE_HPP

#include <fcntl.h>  // O_NONBLOCK
#include <unistd.h> // close

#include <string> // the queue's error

#include "bench.hpp"
#include "writers.hpp" // wait_writable

namespace bench {

// Runs `queue` as a select-loop tick would: fill it until it has no room
// for another message, send until the socket is full, and wait for the
// socket only when the queue is full or production has stopped. Owns and
// closes `fd`. The queue offers:
//   bool has_room(std::size_t message_size) const;
//   void append(const char* message, std::size_t message_size);
//   std::size_t held() const;                 // bytes not yet sent
//   bool send(int fd, std::string& error);    // until EAGAIN; false on a hard error
template <class Queue> WriterResult run_own_queue(int fd, const Workload& workload, Queue& queue) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  MessageStream stream(workload.message_size);
  const std::size_t size = workload.message_size;
  WriterResult result;
  bool producing = true;
  while (producing || queue.held() > 0) {
    if (producing) {
      while (queue.has_room(size))
        queue.append(stream.next(), size);
      producing = Clock::now() < workload.deadline;
    }
    if (!queue.send(fd, result.error))
      break;
    if (!queue.has_room(size) || (!producing && queue.held() > 0))
      wait_writable(fd);
  }
  result.messages = stream.messages();
  result.bytes = stream.bytes();
  ::close(fd);
  return result;
}

} // namespace bench

#endif // QIO_BENCH_OWN_QUEUE_HPP
