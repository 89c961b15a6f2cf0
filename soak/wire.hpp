// SPDX-License-Identifier: MIT
// wire.hpp - the soak's message format and the receiving end's checks.
//
// A message is one qio write: a 32-byte header, then 1 B to 256 KiB of
// payload generated from (session, sequence number). The header carries
// the sequence number and a checksum of the payload, and is checksummed
// itself, so a receiver checks every byte it gets and sees a message that
// is missing, doubled or out of order.
#ifndef QIO_SOAK_WIRE_HPP
#define QIO_SOAK_WIRE_HPP

#include <cstddef>  // std::size_t
#include <cstdint>  // std::uint32_t, std::uint64_t
#include <optional> // std::optional, a header that may not decode
#include <vector>   // std::vector, the frames seen and the payload buffer

namespace soak {

inline constexpr std::size_t header_size = 32;
inline constexpr std::size_t max_payload = 256 * 1024;
inline constexpr std::size_t max_message = header_size + max_payload;

struct FrameHeader {
  std::uint32_t session = 0;
  std::uint32_t sequence = 0;
  std::uint32_t payload_length = 0;
  std::uint64_t payload_checksum = 0;
};

inline constexpr std::uint64_t checksum_seed = 0xcbf29ce484222325ull;

// A 64-bit multiply-xor hash of `size` bytes, eight at a time.
std::uint64_t checksum(const char* bytes, std::size_t size,
                       std::uint64_t state = checksum_seed) noexcept;

// Fills `size` bytes with the payload of message `sequence` of `session`.
void fill_payload(std::uint32_t session, std::uint32_t sequence, char* out,
                  std::size_t size) noexcept;

// Writes the whole message, header_size + payload_length bytes, to `out`.
void build_message(std::uint32_t session, std::uint32_t sequence,
                   std::size_t payload_length, char* out) noexcept;

// The header at `in` (header_size bytes), or nothing if its magic number
// or its own checksum is wrong.
std::optional<FrameHeader> decode_header(const char* in) noexcept;

// The receiving end of one connection: reassembles frames from bytes cut
// anywhere and records which sequence numbers arrived intact.
class FrameReceiver {
public:
  explicit FrameReceiver(std::uint32_t session);

  // Takes the next bytes of the stream. After a header that does not
  // decode the stream cannot be followed any more: the rest is ignored.
  void consume(const char* bytes, std::size_t size);

  // complete()[n]: message n arrived whole with a good checksum.
  bool complete(std::uint32_t sequence) const noexcept {
    return sequence < complete_.size() && complete_[sequence];
  }
  std::int64_t last_sequence() const noexcept { return last_sequence_; }
  // Bytes of an unfinished frame at the end, and its sequence number once
  // its header is in.
  std::size_t partial_bytes() const noexcept { return header_have_ + payload_have_; }
  std::optional<std::uint32_t> partial_sequence() const noexcept;
  // A header did not decode: nothing after it could be followed.
  bool lost_track() const noexcept { return lost_track_; }

  std::uint64_t duplicated = 0; // a sequence number that arrived before
  std::uint64_t reordered = 0;  // below the highest seen, not seen before
  std::uint64_t corrupted = 0;  // bad header, checksum or session

private:
  void take_header(const char*& bytes, std::size_t& size);
  void take_payload(const char*& bytes, std::size_t& size);
  void finish_frame();

  std::uint32_t session_;
  char header_[header_size];
  std::size_t header_have_ = 0;
  std::optional<FrameHeader> current_;
  std::vector<char> payload_;
  std::size_t payload_have_ = 0;
  std::vector<bool> complete_;
  std::int64_t last_sequence_ = -1;
  bool lost_track_ = false;
};

} // namespace soak

#endif // QIO_SOAK_WIRE_HPP
