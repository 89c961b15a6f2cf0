// SPDX-License-Identifier: MIT
// xdr_support.hpp - fixtures for the xdr_glue tests: rpcgen samples,
// libtirpc's own record stream as the peer, and hand-made record marks.
#ifndef XDR_GLUE_TESTS_XDR_SUPPORT_HPP
#define XDR_GLUE_TESTS_XDR_SUPPORT_HPP

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "test_types.h"

namespace xdr_test {

// rpcgen's functions as an xdrproc_t, without a C-style cast at each use.
template <class Object> xdrproc_t xdrproc(bool_t (*function)(XDR*, Object*)) {
  return reinterpret_cast<xdrproc_t>(function);
}

// A decoded or built object that is released with xdr_free at the end.
template <class Object> class XdrObject {
public:
  explicit XdrObject(bool_t (*function)(XDR*, Object*)) : procedure_(xdrproc(function)) {}
  ~XdrObject() { xdr_free(procedure_, &value); }
  XdrObject(const XdrObject&) = delete;
  XdrObject& operator=(const XdrObject&) = delete;
  xdrproc_t procedure() const { return procedure_; }
  Object value{};

private:
  xdrproc_t procedure_;
};

// The XDR encoding of `object`: equal encodings mean equal values.
inline std::string encode(xdrproc_t procedure, void* object) {
  std::string bytes(xdr_sizeof(procedure, object), '\0');
  XDR stream;
  xdrmem_create(&stream, bytes.data(), static_cast<u_int>(bytes.size()), XDR_ENCODE);
  if (!procedure(&stream, object))
    bytes = "<encoding failed>";
  XDR_DESTROY(&stream);
  return bytes;
}

inline char* copy_of(const std::string& text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

// A sample whose shape depends on `sequence`: every union arm, lists of 0
// to 3 tags, and `payload_size` payload bytes. Owned memory is malloc'd
// so xdr_free can release it.
inline void fill_sample(sample& out, unsigned sequence, std::size_t payload_size) {
  out.sequence = sequence;
  out.label = copy_of("sample " + std::to_string(sequence));
  out.readings.readings_len = sequence % 7;
  out.readings.readings_val =
      static_cast<int*>(std::calloc(out.readings.readings_len + 1, sizeof(int)));
  for (u_int i = 0; i < out.readings.readings_len; ++i)
    out.readings.readings_val[i] = static_cast<int>(sequence * 100 + i) * (i % 2 ? -1 : 1);
  switch (sequence % 3) {
  case 0:
    out.outline.kind = SHAPE_CIRCLE;
    out.outline.shape_u.radius = sequence;
    break;
  case 1:
    out.outline.kind = SHAPE_RECTANGLE;
    out.outline.shape_u.box = {static_cast<int>(sequence), -static_cast<int>(sequence)};
    break;
  default:
    out.outline.kind = SHAPE_NONE;
    break;
  }
  tag** link = &out.tags;
  for (unsigned i = 0; i < sequence % 4; ++i) {
    *link = static_cast<tag*>(std::calloc(1, sizeof(tag)));
    (*link)->name = copy_of("tag " + std::to_string(i));
    link = &(*link)->next;
  }
  out.payload.payload_len = static_cast<u_int>(payload_size);
  out.payload.payload_val = static_cast<char*>(std::malloc(payload_size + 1));
  for (std::size_t i = 0; i < payload_size; ++i)
    out.payload.payload_val[i] = static_cast<char>((i * 31 + sequence) & 0xff);
  out.total = static_cast<quad_t>(sequence) * 1000000000000LL;
  out.flagged = sequence % 2;
}

// libtirpc's own record stream over a blocking descriptor: the peer this
// project did not write. Reads wait at most `wait_ms` for data.
class TirpcPeer {
public:
  explicit TirpcPeer(int fd, unsigned send_size = 0, int wait_ms = 10000)
      : fd_(fd), wait_ms_(wait_ms) {
    xdrrec_create(&stream_, send_size, 0, this, &read_fd, &write_fd);
  }
  ~TirpcPeer() { XDR_DESTROY(&stream_); }
  TirpcPeer(const TirpcPeer&) = delete;
  TirpcPeer& operator=(const TirpcPeer&) = delete;

  // xdrrec_skiprecord to the next record, then decode it.
  bool read_record(xdrproc_t decode, void* object) {
    stream_.x_op = XDR_DECODE;
    return xdrrec_skiprecord(&stream_) && decode(&stream_, object);
  }
  bool write_record(xdrproc_t encode, void* object) {
    stream_.x_op = XDR_ENCODE;
    return encode(&stream_, object) && xdrrec_endofrecord(&stream_, TRUE);
  }
  XDR* xdr() { return &stream_; }

private:
  static int read_fd(void* peer, void* buffer, int length) {
    const auto& self = *static_cast<TirpcPeer*>(peer);
    pollfd readiness{self.fd_, POLLIN, 0};
    if (::poll(&readiness, 1, self.wait_ms_) != 1)
      return -1;
    const ssize_t count = ::read(self.fd_, buffer, static_cast<std::size_t>(length));
    return count > 0 ? static_cast<int>(count) : -1;
  }
  static int write_fd(void* peer, void* buffer, int length) {
    const auto& self = *static_cast<TirpcPeer*>(peer);
    const char* next = static_cast<const char*>(buffer);
    for (int left = length; left > 0;) {
      const ssize_t count = ::write(self.fd_, next, static_cast<std::size_t>(left));
      if (count < 0 && errno == EINTR)
        continue;
      if (count <= 0)
        return -1;
      next += count;
      left -= static_cast<int>(count);
    }
    return length;
  }

  int fd_;
  int wait_ms_;
  XDR stream_;
};

// One big-endian 32-bit word, as XDR and record marks write them.
inline std::string xdr_word(std::uint32_t value) {
  std::string word(4, '\0');
  for (int i = 0; i < 4; ++i)
    word[static_cast<std::size_t>(i)] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
  return word;
}

// A record mark: the length with the last-fragment bit.
inline std::string record_mark(std::uint32_t length, bool last) {
  return xdr_word(length | (last ? 0x80000000u : 0u));
}

// `payload` framed as fragments of the given sizes (the rest in a last
// fragment); an empty list gives one fragment.
inline std::string framed(std::string_view payload, const std::vector<std::size_t>& sizes = {}) {
  std::string out;
  std::size_t used = 0;
  for (const std::size_t size : sizes) {
    out += record_mark(static_cast<std::uint32_t>(size), false);
    out.append(payload.substr(used, size));
    used += size;
  }
  out += record_mark(static_cast<std::uint32_t>(payload.size() - used), true);
  out.append(payload.substr(used));
  return out;
}

// The payloads of the records in a record-marked byte string, and how
// many fragments they had in all; stops at anything incomplete.
struct ParsedStream {
  std::vector<std::string> records;
  std::size_t fragments = 0;
  std::size_t leftover = 0; // bytes of an incomplete record at the end
};

inline ParsedStream parse_stream(std::string_view bytes) {
  ParsedStream parsed;
  std::string record;
  std::size_t at = 0;
  while (bytes.size() - at >= 4) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[at + i]); };
    const std::uint32_t word = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
                               (std::uint32_t{byte(2)} << 8) | byte(3);
    const std::size_t length = word & 0x7fffffffu;
    if (bytes.size() - at - 4 < length)
      break;
    record.append(bytes.substr(at + 4, length));
    at += 4 + length;
    ++parsed.fragments;
    if (word & 0x80000000u) {
      parsed.records.push_back(record);
      record.clear();
    }
  }
  parsed.leftover = bytes.size() - at + record.size();
  return parsed;
}

} // namespace xdr_test

#endif // XDR_GLUE_TESTS_XDR_SUPPORT_HPP
