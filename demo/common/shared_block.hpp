// SPDX-License-Identifier: MIT
// shared_block.hpp - an object in memory shared with child processes.
//
// The demos' peers report their counters (records, bytes, what they are
// doing right now) through a SharedBlock created before fork, so the
// parent can watch them live: that is how the deadlock demo's watchdog sees
// that both peers sit in write(2). T should be made of lock-free
// std::atomic members, which work across processes on shared memory.
#ifndef QIO_DEMO_SHARED_BLOCK_HPP
#define QIO_DEMO_SHARED_BLOCK_HPP

#include <sys/mman.h> // mmap, munmap

#include <cerrno>       // errno
#include <new>          // placement new
#include <system_error> // std::system_error
#include <type_traits>  // std::is_trivially_destructible_v

namespace demo {

template <class T> class SharedBlock {
  // Children leave with _exit and never run destructors, so T must not
  // need one.
  static_assert(std::is_trivially_destructible_v<T>, "shared state must be plain atomics");

public:
  // Maps zeroed shared memory and constructs T{} in it. Throws
  // std::system_error if mmap fails.
  SharedBlock() {
    void* memory =
        ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
      throw std::system_error(errno, std::generic_category(), "mmap");
    object_ = new (memory) T{};
  }
  ~SharedBlock() { ::munmap(object_, sizeof(T)); }
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;

  T& operator*() const noexcept { return *object_; }
  T* operator->() const noexcept { return object_; }

private:
  T* object_ = nullptr;
};

} // namespace demo

#endif // QIO_DEMO_SHARED_BLOCK_HPP
