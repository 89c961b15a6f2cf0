// SPDX-License-Identifier: MIT
// counting_new.hpp - what a program has allocated, counted by replacing
// the global operator new and delete (counting_new.cpp): link that file
// into a test program to measure what the code under test holds, under
// any allocator (a sanitizer's or valgrind's too).
#ifndef QIO_TESTS_COUNTING_NEW_HPP
#define QIO_TESTS_COUNTING_NEW_HPP

#include <cstddef> // std::size_t

namespace qio_test {

// Bytes currently allocated through operator new, as requested.
std::size_t live_bytes() noexcept;
// The largest single allocation since the last reset_largest_allocation().
std::size_t largest_allocation() noexcept;
void reset_largest_allocation() noexcept;

} // namespace qio_test

#endif // QIO_TESTS_COUNTING_NEW_HPP
