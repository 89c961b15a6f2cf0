// SPDX-License-Identifier: MIT
// packets.cpp - deterministic payloads and their checksums.
#include "packets.hpp"

namespace deadlock {
namespace {

std::uint32_t checksum_of(const demo_packet& packet) {
  constexpr std::uint32_t fnv_offset_basis = 2166136261u;
  constexpr std::uint32_t fnv_prime = 16777619u;
  std::uint32_t hash = fnv_offset_basis;
  auto mix = [&](unsigned char byte) { hash = (hash ^ byte) * fnv_prime; };
  for (int shift = 0; shift < 32; shift += 8)
    mix(static_cast<unsigned char>(packet.sequence >> shift));
  for (const char byte : packet.payload)
    mix(static_cast<unsigned char>(byte));
  return hash;
}

// xorshift32: cheap, and different for every (kind, sequence).
void fill_payload(demo_packet& packet) {
  std::uint32_t state = (packet.sequence + 1u) * 2654435761u ^ static_cast<std::uint32_t>(packet.kind);
  for (char& byte : packet.payload) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    byte = static_cast<char>(state);
  }
}

} // namespace

demo_packet make_packet(packet_kind kind, std::uint32_t sequence) {
  demo_packet packet{};
  packet.kind = kind;
  packet.sequence = sequence;
  fill_payload(packet);
  packet.checksum = checksum_of(packet);
  return packet;
}

PacketCheck check_packet(const demo_packet& packet, packet_kind expected_kind,
                         std::uint32_t expected_sequence) {
  if (packet.kind != expected_kind)
    return PacketCheck::wrong_kind;
  if (packet.sequence != expected_sequence)
    return PacketCheck::out_of_order;
  if (packet.checksum != checksum_of(packet))
    return PacketCheck::bad_checksum;
  return PacketCheck::good;
}

void note_received(const demo_packet* packet, packet_kind expected_kind,
                   std::uint32_t& next_sequence, PeerStatus& status) {
  if (packet == nullptr || check_packet(*packet, expected_kind, next_sequence) != PacketCheck::good)
    ++status.bad_records;
  ++next_sequence;
  ++status.records_received;
}

} // namespace deadlock
