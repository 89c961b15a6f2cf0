// SPDX-License-Identifier: MIT
// counting_new.cpp - the global operator new and delete, replaced to count
// every byte handed out (counting_new.hpp).
#include "counting_new.hpp"

#include <atomic>  // std::atomic, allocations from any thread
#include <cstdlib> // std::malloc, std::free
#include <new>     // std::bad_alloc, std::nothrow_t

namespace {

// Bytes currently allocated through operator new, as requested, and the
// largest single allocation since the test last reset it.
std::atomic<std::size_t> live{0};
std::atomic<std::size_t> largest{0};

// Each block carries its size in front, so delete knows what it frees;
// 16 bytes keep the block aligned for any fundamental type.
constexpr std::size_t size_header = 16;

void* counted_allocation(std::size_t size) {
  void* block = std::malloc(size + size_header);
  if (block == nullptr)
    throw std::bad_alloc();
  *static_cast<std::size_t*>(block) = size;
  live += size;
  if (size > largest)
    largest = size;
  return static_cast<char*>(block) + size_header;
}

void counted_release(void* pointer) noexcept {
  if (pointer == nullptr)
    return;
  void* block = static_cast<char*>(pointer) - size_header;
  live -= *static_cast<std::size_t*>(block);
  std::free(block);
}

} // namespace

// Every form that frees with the plain delete: a sanitizer runtime brings
// its own nothrow new, whose blocks would reach ours without their header.
void* operator new(std::size_t size) { return counted_allocation(size); }
void* operator new[](std::size_t size) { return counted_allocation(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_allocation(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& nothrow) noexcept {
  return operator new(size, nothrow);
}
void operator delete(void* pointer) noexcept { counted_release(pointer); }
void operator delete[](void* pointer) noexcept { counted_release(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { counted_release(pointer); }
void operator delete[](void* pointer, std::size_t) noexcept { counted_release(pointer); }
void operator delete(void* pointer, const std::nothrow_t&) noexcept { counted_release(pointer); }
void operator delete[](void* pointer, const std::nothrow_t&) noexcept {
  counted_release(pointer);
}

namespace qio_test {

std::size_t live_bytes() noexcept { return live; }
std::size_t largest_allocation() noexcept { return largest; }
void reset_largest_allocation() noexcept { largest = 0; }

} // namespace qio_test
