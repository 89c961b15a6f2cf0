// SPDX-License-Identifier: MIT
// packets.hpp - making and checking the deadlock demo's 1 KiB records.
//
// A record's payload is a pseudo-random function of its kind and sequence
// number, and its checksum covers the sequence and the payload, so a
// receiver can tell a record that arrived whole and in order from one that
// was cut, duplicated, reordered or corrupted.
#ifndef QIO_DEMO_DEADLOCK_PACKETS_HPP
#define QIO_DEMO_DEADLOCK_PACKETS_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t

#include "packet.h" // rpcgen: demo_packet, packet_kind
#include "peer_status.hpp"

namespace deadlock {

// Bytes one record occupies on the wire: its 4-byte record mark and the
// 1024 encoded bytes (one fragment: xdrrec's 4000-byte buffer holds it).
inline constexpr std::size_t packet_wire_bytes = 4 + 1024;

demo_packet make_packet(packet_kind kind, std::uint32_t sequence);

enum class PacketCheck { good, wrong_kind, out_of_order, bad_checksum };

// Checks a received record against what should come next.
PacketCheck check_packet(const demo_packet& packet, packet_kind expected_kind,
                         std::uint32_t expected_sequence);

// Counts one received record in `status` (a damaged one if `packet` is
// null, for a record that did not decode, or fails check_packet against
// `expected_kind` and `next_sequence`), and advances `next_sequence`.
void note_received(const demo_packet* packet, packet_kind expected_kind,
                   std::uint32_t& next_sequence, PeerStatus& status);

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_PACKETS_HPP
