// SPDX-License-Identifier: MIT
// unique_fd.hpp - the one descriptor owner of the programs and tests.
//
// Owns a descriptor and closes it, like std::unique_ptr owns memory: moved,
// never copied; release() hands it on without closing it.
#ifndef QIO_SUPPORT_UNIQUE_FD_HPP
#define QIO_SUPPORT_UNIQUE_FD_HPP

#include <unistd.h> // close

#include <utility> // std::exchange

namespace support {

class UniqueFd {
public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other)
      reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  // The descriptor, or -1 when it owns none.
  int get() const noexcept { return fd_; }
  // Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the descriptor owned, if any, and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    if (const int old = std::exchange(fd_, fd); old >= 0)
      ::close(old);
  }

private:
  int fd_ = -1;
};

} // namespace support

#endif // QIO_SUPPORT_UNIQUE_FD_HPP
