// SPDX-License-Identifier: MIT
// test_output_queue.cpp - the packed byte queue behind every channel
// (qio::detail::OutputQueue) and the FIFO it is built on.
#include <catch2/catch.hpp>

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "output_queue.hpp"
#include "ring.hpp"

using qio::detail::BlockPool;
using qio::detail::OutputQueue;
using qio::detail::Ring;

namespace {

// Every unsent byte before `limit`, as the queue gathers it.
std::string gathered(const OutputQueue& queue, int max_vectors = 1024,
                     std::uint64_t limit = UINT64_MAX) {
  std::vector<iovec> vectors(static_cast<std::size_t>(max_vectors));
  const int count = queue.gather(vectors.data(), max_vectors, limit);
  std::string out;
  for (int i = 0; i < count; ++i) {
    const iovec& vector = vectors[static_cast<std::size_t>(i)];
    out.append(static_cast<const char*>(vector.iov_base), vector.iov_len);
  }
  return out;
}

int vector_count(const OutputQueue& queue, int max_vectors = 1024,
                 std::uint64_t limit = UINT64_MAX) {
  std::vector<iovec> vectors(static_cast<std::size_t>(max_vectors));
  return queue.gather(vectors.data(), max_vectors, limit);
}

// A message whose bytes name it, so a misplaced byte is visible.
std::string message(std::size_t index, std::size_t length) {
  std::string text(length, '\0');
  for (std::size_t i = 0; i < length; ++i)
    text[i] = static_cast<char>('A' + (index * 7 + i) % 26);
  return text;
}

} // namespace

TEST_CASE("many small copies are packed into a few shared blocks", "[output_queue]") {
  OutputQueue queue;
  std::string expected;
  std::vector<char*> copies;
  for (std::size_t i = 0; i < 1000; ++i) {
    const std::string bytes = message(i, 64);
    char* copy = queue.append_copy(bytes.data(), bytes.size());
    REQUIRE(copy != nullptr);
    REQUIRE(copy != bytes.data());
    copies.push_back(copy);
    expected += bytes;
  }
  CAPTURE(queue.segment_count());
  // 64000 bytes in blocks of 512 B doubling: 0.5 + 1 + ... + 32 KiB, then 64.
  CHECK(queue.segment_count() <= 8);
  CHECK(queue.queued_position() == 64000);
  CHECK(queue.unsent_bytes() == 64000);
  CHECK(vector_count(queue) == static_cast<int>(queue.segment_count()));
  CHECK(gathered(queue) == expected);
  // Consecutive copies sit side by side inside a block.
  CHECK(copies[1] == copies[0] + 64);
  for (std::size_t i = 0; i < copies.size(); ++i)
    REQUIRE(std::string(copies[i], 64) == message(i, 64));
}

TEST_CASE("a zero-length copy queues nothing and returns no pointer", "[output_queue]") {
  OutputQueue queue;
  const char byte = 'x';
  CHECK(queue.append_copy(&byte, 0) == nullptr);
  CHECK(queue.segment_count() == 0);
  CHECK(queue.queued_position() == 0);
  CHECK(vector_count(queue) == 0);
}

TEST_CASE("a copy larger than a block gets a block of its own", "[output_queue]") {
  OutputQueue queue;
  const std::string small = message(1, 10);
  const std::string large = message(2, 100000);
  const std::string after = message(3, 10);

  queue.append_copy(small.data(), small.size());
  REQUIRE(queue.segment_count() == 1);
  char* large_copy = queue.append_copy(large.data(), large.size());
  REQUIRE(large_copy != nullptr);
  CHECK(queue.segment_count() == 2);
  // Nothing is packed into the large block, not even a tiny copy.
  char* after_copy = queue.append_copy(after.data(), after.size());
  CHECK(queue.segment_count() == 3);
  CHECK(after_copy != large_copy + large.size());

  std::vector<iovec> vectors(8);
  REQUIRE(queue.gather(vectors.data(), 8, UINT64_MAX) == 3);
  CHECK(vectors[1].iov_base == large_copy);
  CHECK(vectors[1].iov_len == large.size());
  CHECK(gathered(queue) == small + large + after);
}

TEST_CASE("references are gathered in place, one vector each", "[output_queue]") {
  OutputQueue queue;
  std::string first = message(1, 100);
  std::string second = message(2, 50);
  queue.append_reference(first.data(), first.size());
  queue.append_reference(second.data(), 0); // empty: nothing queued
  queue.append_reference(second.data(), second.size());
  CHECK(queue.segment_count() == 2);
  CHECK(queue.queued_position() == 150);

  std::vector<iovec> vectors(4);
  REQUIRE(queue.gather(vectors.data(), 4, UINT64_MAX) == 2);
  CHECK(vectors[0].iov_base == first.data());
  CHECK(vectors[0].iov_len == 100);
  CHECK(vectors[1].iov_base == second.data());
  CHECK(vectors[1].iov_len == 50);
}

TEST_CASE("gather stops at the limit position and at the vector count", "[output_queue]") {
  OutputQueue queue;
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < 5; ++i)
    parts.push_back(message(i, 100));
  for (std::string& part : parts)
    queue.append_reference(part.data(), part.size());
  const std::string all = parts[0] + parts[1] + parts[2] + parts[3] + parts[4];

  SECTION("a limit inside a segment cuts that segment's vector short") {
    const auto [limit, vectors] = GENERATE(table<std::uint64_t, int>({
        {0, 0}, {1, 1}, {100, 1}, {101, 2}, {250, 3}, {500, 5}, {10000, 5}}));
    CAPTURE(limit, vectors);
    CHECK(vector_count(queue, 16, limit) == vectors);
    CHECK(gathered(queue, 16, limit) == all.substr(0, static_cast<std::size_t>(limit)));
  }
  SECTION("no more vectors than asked for") {
    const int max_vectors = GENERATE(1, 2, 4, 5, 6);
    CAPTURE(max_vectors);
    const int expected = std::min(max_vectors, 5);
    CHECK(vector_count(queue, max_vectors) == expected);
    CHECK(gathered(queue, max_vectors) ==
          all.substr(0, static_cast<std::size_t>(expected) * 100));
  }
  SECTION("a limit behind the sent position gathers nothing") {
    queue.mark_sent(300);
    CHECK(vector_count(queue, 16, 200) == 0);
    CHECK(vector_count(queue, 16, 300) == 0);
    CHECK(gathered(queue, 16, 350) == all.substr(300, 50));
  }
}

TEST_CASE("mark_sent moves the gather start and release_sent frees sent segments",
          "[output_queue]") {
  OutputQueue queue;
  std::string first = message(1, 100);
  std::string second = message(2, 100);
  queue.append_reference(first.data(), first.size());
  queue.append_reference(second.data(), second.size());

  queue.mark_sent(150);
  CHECK(queue.sent_position() == 150);
  CHECK(queue.unsent_bytes() == 50);
  // Sent segments are kept until release_sent (callbacks may still look).
  CHECK(queue.segment_count() == 2);
  std::vector<iovec> vectors(4);
  REQUIRE(queue.gather(vectors.data(), 4, UINT64_MAX) == 1);
  CHECK(vectors[0].iov_base == second.data() + 50);
  CHECK(vectors[0].iov_len == 50);

  queue.release_sent();
  CHECK(queue.segment_count() == 1);
  CHECK(gathered(queue) == second.substr(50));

  queue.mark_sent(50);
  queue.release_sent();
  CHECK(queue.segment_count() == 0);
  CHECK(queue.unsent_bytes() == 0);
  CHECK(vector_count(queue) == 0);
}

TEST_CASE("copies stay readable after they are sent until release_sent", "[output_queue]") {
  OutputQueue queue;
  const std::string bytes = message(4, 300);
  char* copy = queue.append_copy(bytes.data(), bytes.size());
  queue.mark_sent(300);
  CHECK(std::string(copy, 300) == bytes);
  queue.release_sent();
  CHECK(queue.segment_count() == 0);
}

TEST_CASE("a copy appended after its block was wholly sent is still sent", "[output_queue]") {
  OutputQueue queue;
  const std::string first = message(1, 10);
  const std::string second = message(2, 20);
  queue.append_copy(first.data(), first.size());
  queue.mark_sent(10);
  CHECK(vector_count(queue) == 0);

  char* copy = queue.append_copy(second.data(), second.size());
  CHECK(queue.segment_count() == 1); // packed into the sent block
  CHECK(copy != nullptr);
  CHECK(gathered(queue) == second);

  SECTION("release_sent keeps the block that holds unsent bytes") {
    queue.release_sent();
    CHECK(queue.segment_count() == 1);
    CHECK(gathered(queue) == second);
  }
  SECTION("sending it all lets the block go") {
    queue.mark_sent(20);
    queue.release_sent();
    CHECK(queue.segment_count() == 0);
  }
}

TEST_CASE("truncate drops unsent bytes at and after a position", "[output_queue]") {
  OutputQueue queue;
  std::vector<std::unique_ptr<char[]>> dropped;
  const std::string a = message(1, 100);
  const std::string b = message(2, 100);
  const std::string c = message(3, 100);

  SECTION("inside one shared block: the block stays, its tail is cut") {
    queue.append_copy(a.data(), a.size());
    queue.append_copy(b.data(), b.size());
    char* c_copy = queue.append_copy(c.data(), c.size());
    REQUIRE(queue.segment_count() == 1);
    queue.mark_sent(50);

    queue.truncate(200, dropped);
    CHECK(dropped.empty());
    CHECK(queue.queued_position() == 200);
    CHECK(queue.unsent_bytes() == 150);
    CHECK(gathered(queue) == a.substr(50) + b);

    // The tail block takes no more appends, so the dropped copy of `c`,
    // which a cancelled request's callback may still be reading, survives.
    const std::string d = message(4, 100);
    char* d_copy = queue.append_copy(d.data(), d.size());
    CHECK(queue.segment_count() == 2);
    CHECK(d_copy != c_copy);
    CHECK(std::string(c_copy, 100) == c);
    CHECK(queue.queued_position() == 300);
    CHECK(gathered(queue) == a.substr(50) + b + d);
  }
  SECTION("whole later blocks move to `dropped` and stay readable") {
    queue.append_copy(a.data(), a.size());
    const std::string large = message(5, 100000);
    char* large_copy = queue.append_copy(large.data(), large.size());
    REQUIRE(queue.segment_count() == 2);

    queue.truncate(100, dropped);
    REQUIRE(dropped.size() == 1);
    CHECK(dropped[0].get() == large_copy);
    CHECK(std::string(large_copy, large.size()) == large);
    CHECK(queue.segment_count() == 1);
    CHECK(queue.queued_position() == 100);
    CHECK(gathered(queue) == a);
  }
  SECTION("references are dropped without storage") {
    std::string first = a;
    std::string second = b;
    queue.append_reference(first.data(), first.size());
    queue.append_reference(second.data(), second.size());
    queue.truncate(150, dropped);
    CHECK(dropped.empty());
    CHECK(queue.segment_count() == 2);
    CHECK(gathered(queue) == a + b.substr(0, 50));
    queue.truncate(100, dropped);
    CHECK(queue.segment_count() == 1);
    CHECK(gathered(queue) == a);
  }
  SECTION("truncating at the sent position leaves nothing to send") {
    queue.append_copy(a.data(), a.size());
    queue.append_copy(b.data(), b.size());
    queue.mark_sent(60);
    queue.truncate(60, dropped);
    CHECK(queue.unsent_bytes() == 0);
    CHECK(vector_count(queue) == 0);
    const std::string d = message(4, 10);
    queue.append_copy(d.data(), d.size());
    CHECK(gathered(queue) == d);
    CHECK(queue.queued_position() == 70);
  }
}

TEST_CASE("skip_to treats bytes before a position as sent without sending them",
          "[output_queue]") {
  OutputQueue queue;
  const std::string a = message(1, 100);
  std::string b = message(2, 5000);
  queue.append_copy(a.data(), a.size());
  queue.append_reference(b.data(), b.size());
  queue.mark_sent(30);

  SECTION("to the end: nothing is left to send") {
    queue.skip_to(5100);
    CHECK(queue.sent_position() == 5100);
    CHECK(queue.unsent_bytes() == 0);
    CHECK(vector_count(queue) == 0);
    queue.release_sent();
    CHECK(queue.segment_count() == 0);

    // Positions keep counting from where the stream was.
    const std::string c = message(3, 10);
    queue.append_copy(c.data(), c.size());
    CHECK(queue.queued_position() == 5110);
    CHECK(gathered(queue) == c);
  }
  SECTION("to the middle: sending resumes there") {
    queue.skip_to(1100);
    CHECK(queue.sent_position() == 1100);
    CHECK(gathered(queue) == b.substr(1000));
    queue.release_sent();
    CHECK(queue.segment_count() == 1);
  }
  SECTION("behind the sent position: nothing changes") {
    queue.skip_to(10);
    CHECK(queue.sent_position() == 30);
    CHECK(gathered(queue) == a.substr(30) + b);
  }
}

TEST_CASE("gather reports the total length of the vectors it filled", "[output_queue]") {
  OutputQueue queue;
  std::string first = message(1, 100);
  const std::string second = message(2, 300);
  queue.append_reference(first.data(), first.size());
  queue.append_copy(second.data(), second.size());
  queue.mark_sent(40);
  std::vector<iovec> vectors(4);
  std::size_t bytes = 0;
  CHECK(queue.gather(vectors.data(), 4, UINT64_MAX, &bytes) == 2);
  CHECK(bytes == 360);
  CHECK(queue.gather(vectors.data(), 1, UINT64_MAX, &bytes) == 1);
  CHECK(bytes == 60);
  CHECK(queue.gather(vectors.data(), 4, 200, &bytes) == 2);
  CHECK(bytes == 160);
}

TEST_CASE("released standard blocks are reused through the pool", "[output_queue][pool]") {
  BlockPool pool;
  OutputQueue first(&pool);
  const std::string text = message(1, 10);
  char* block = first.append_copy(text.data(), text.size());
  first.mark_sent(10);
  first.release_sent();
  REQUIRE(first.segment_count() == 0);

  SECTION("by the same queue") {
    CHECK(first.append_copy(text.data(), text.size()) == block);
  }
  SECTION("by another queue of the same engine, with its own bytes") {
    OutputQueue second(&pool);
    const std::string other = message(2, 20);
    CHECK(second.append_copy(other.data(), other.size()) == block);
    CHECK(gathered(second) == other);
    // The first queue gets a fresh block, not the one the second holds.
    CHECK(first.append_copy(text.data(), text.size()) != block);
    CHECK(gathered(second) == other);
  }
}

TEST_CASE("a block pool keeps only standard sizes, and only a few of each",
          "[output_queue][pool]") {
  BlockPool pool;
  CHECK_FALSE(pool.take(4096));

  std::unique_ptr<char[]> standard(new char[4096]);
  char* const kept = standard.get();
  pool.give(std::move(standard), 4096);
  CHECK_FALSE(pool.take(8192)); // a different size
  CHECK(pool.take(4096).get() == kept);
  CHECK_FALSE(pool.take(4096));

  pool.give(std::unique_ptr<char[]>(new char[5000]), 5000); // not a standard size
  CHECK_FALSE(pool.take(5000));
  pool.give(std::unique_ptr<char[]>(new char[1 << 20]), 1 << 20); // too large
  CHECK_FALSE(pool.take(1 << 20));

  for (int i = 0; i < 100; ++i)
    pool.give(std::unique_ptr<char[]>(new char[65536]), 65536);
  int taken = 0;
  while (pool.take(65536))
    ++taken;
  CHECK(taken > 0);
  CHECK(taken < 100);
}

TEST_CASE("a ring keeps FIFO order while it wraps and grows", "[output_queue][ring]") {
  Ring<int> ring;
  int next_in = 0;
  int next_out = 0;
  // Push three, pop two, so the head walks round the array as it grows.
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 3; ++i)
      ring.push_back(next_in++);
    for (int i = 0; i < 2; ++i)
      REQUIRE(ring.pop_front() == next_out++);
  }
  REQUIRE(ring.size() == 100);
  for (std::size_t i = 0; i < ring.size(); ++i)
    REQUIRE(ring[i] == next_out + static_cast<int>(i));
  CHECK(ring.back() == next_in - 1);
  CHECK(ring.pop_back() == next_in - 1);
  CHECK(ring.front() == next_out);
  ring.clear();
  CHECK(ring.empty());
}
