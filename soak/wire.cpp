// SPDX-License-Identifier: MIT
// wire.cpp - building messages and checking them on arrival.
#include "wire.hpp"

#include <algorithm> // std::min
#include <cstring>   // std::memcpy

namespace soak {
namespace {

constexpr std::uint32_t frame_magic = 0x4b4f5351; // "QSOK" in memory order
constexpr std::uint64_t hash_prime = 0x100000001b3ull;

// splitmix64: a fast generator whose whole state is one word, so message
// n's payload is a pure function of (session, n).
std::uint64_t next_word(std::uint64_t& state) noexcept {
  state += 0x9e3779b97f4a7c15ull;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <class Value> void store(char* out, Value value) noexcept {
  std::memcpy(out, &value, sizeof value);
}

template <class Value> Value load(const char* in) noexcept {
  Value value;
  std::memcpy(&value, in, sizeof value);
  return value;
}

} // namespace

std::uint64_t checksum(const char* bytes, std::size_t size, std::uint64_t state) noexcept {
  std::size_t done = 0;
  for (; done + 8 <= size; done += 8) {
    state = (state ^ load<std::uint64_t>(bytes + done)) * hash_prime;
    state ^= state >> 32;
  }
  for (; done < size; ++done)
    state = (state ^ static_cast<unsigned char>(bytes[done])) * hash_prime;
  return state;
}

void fill_payload(std::uint32_t session, std::uint32_t sequence, char* out,
                  std::size_t size) noexcept {
  std::uint64_t state = (std::uint64_t{session} << 32) | sequence;
  std::size_t done = 0;
  for (; done + 8 <= size; done += 8)
    store(out + done, next_word(state));
  if (done < size) {
    const std::uint64_t last = next_word(state);
    std::memcpy(out + done, &last, size - done);
  }
}

void build_message(std::uint32_t session, std::uint32_t sequence,
                   std::size_t payload_length, char* out) noexcept {
  char* payload = out + header_size;
  fill_payload(session, sequence, payload, payload_length);
  store(out, frame_magic);
  store(out + 4, session);
  store(out + 8, sequence);
  store(out + 12, static_cast<std::uint32_t>(payload_length));
  store(out + 16, checksum(payload, payload_length));
  store(out + 24, checksum(out, 24));
}

std::optional<FrameHeader> decode_header(const char* in) noexcept {
  if (load<std::uint32_t>(in) != frame_magic || load<std::uint64_t>(in + 24) != checksum(in, 24))
    return std::nullopt;
  FrameHeader header;
  header.session = load<std::uint32_t>(in + 4);
  header.sequence = load<std::uint32_t>(in + 8);
  header.payload_length = load<std::uint32_t>(in + 12);
  header.payload_checksum = load<std::uint64_t>(in + 16);
  return header;
}

// ---- the receiving end ---------------------------------------------------------

FrameReceiver::FrameReceiver(std::uint32_t session)
    : session_(session), payload_(max_payload) {}

void FrameReceiver::consume(const char* bytes, std::size_t size) {
  while (size > 0 && !lost_track_) {
    if (!current_)
      take_header(bytes, size);
    else
      take_payload(bytes, size);
  }
}

std::optional<std::uint32_t> FrameReceiver::partial_sequence() const noexcept {
  if (!current_)
    return std::nullopt;
  return current_->sequence;
}

void FrameReceiver::take_header(const char*& bytes, std::size_t& size) {
  const std::size_t taken = std::min(size, header_size - header_have_);
  std::memcpy(header_ + header_have_, bytes, taken);
  header_have_ += taken;
  bytes += taken;
  size -= taken;
  if (header_have_ < header_size)
    return;
  current_ = decode_header(header_);
  if (!current_ || current_->session != session_ || current_->payload_length == 0 ||
      current_->payload_length > max_payload) {
    ++corrupted;
    lost_track_ = true; // no way to find the next frame boundary
    current_.reset();
    header_have_ = 0;
  }
}

void FrameReceiver::take_payload(const char*& bytes, std::size_t& size) {
  const std::size_t taken = std::min<std::size_t>(size, current_->payload_length - payload_have_);
  std::memcpy(payload_.data() + payload_have_, bytes, taken);
  payload_have_ += taken;
  bytes += taken;
  size -= taken;
  if (payload_have_ == current_->payload_length)
    finish_frame();
}

void FrameReceiver::finish_frame() {
  const FrameHeader header = *current_;
  current_.reset();
  header_have_ = 0;
  payload_have_ = 0;
  if (checksum(payload_.data(), header.payload_length) != header.payload_checksum) {
    ++corrupted;
    return;
  }
  const std::uint32_t sequence = header.sequence;
  if (complete(sequence))
    ++duplicated;
  else if (static_cast<std::int64_t>(sequence) < last_sequence_)
    ++reordered;
  if (sequence >= complete_.size())
    complete_.resize(std::size_t{sequence} + 1, false);
  complete_[sequence] = true;
  last_sequence_ = std::max<std::int64_t>(last_sequence_, sequence);
}

} // namespace soak
