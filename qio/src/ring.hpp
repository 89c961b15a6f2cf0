// ring.hpp - a growable FIFO on one contiguous array.
//
// The engine's queues are FIFOs that are pushed at the back and popped at
// the front millions of times; std::deque allocates a node per few hundred
// bytes, this allocates only when it doubles.
#ifndef QIO_SRC_RING_HPP
#define QIO_SRC_RING_HPP

#include <cstddef> // std::size_t
#include <memory>  // std::unique_ptr
#include <utility> // std::move

namespace qio::detail {

template <class T> class Ring {
public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }

  T& front() noexcept { return slots_[head_]; }
  const T& front() const noexcept { return slots_[head_]; }
  T& back() noexcept { return (*this)[count_ - 1]; }
  T& operator[](std::size_t index) noexcept {
    return slots_[(head_ + index) & (capacity_ - 1)];
  }
  const T& operator[](std::size_t index) const noexcept {
    return slots_[(head_ + index) & (capacity_ - 1)];
  }

  // Makes room for one more element, so a push_back after it cannot throw.
  void reserve_one() {
    if (count_ == capacity_)
      grow();
  }

  void push_back(T value) {
    reserve_one();
    slots_[(head_ + count_) & (capacity_ - 1)] = std::move(value);
    ++count_;
  }

  // Returns the front element, leaving a moved-from slot behind.
  T pop_front() noexcept {
    T value = std::move(slots_[head_]);
    head_ = (head_ + 1) & (capacity_ - 1);
    --count_;
    return value;
  }

  T pop_back() noexcept {
    --count_;
    return std::move(slots_[(head_ + count_) & (capacity_ - 1)]);
  }

  void clear() noexcept {
    while (!empty())
      pop_front();
  }

private:
  void grow() {
    const std::size_t new_capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    // Default-initialised: slots of plain integers are not zero-filled.
    std::unique_ptr<T[]> new_slots(new T[new_capacity]);
    for (std::size_t i = 0; i < count_; ++i)
      new_slots[i] = std::move((*this)[i]);
    slots_ = std::move(new_slots);
    capacity_ = new_capacity;
    head_ = 0;
  }

  std::unique_ptr<T[]> slots_;
  std::size_t capacity_ = 0; // always 0 or a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

} // namespace qio::detail

#endif // QIO_SRC_RING_HPP
