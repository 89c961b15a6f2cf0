// SPDX-License-Identifier: MIT
// ring.hpp - a growable FIFO on one contiguous array.
//
// The engine's queues are FIFOs that are pushed at the back and popped at
// the front millions of times; std::deque allocates a node per few hundred
// bytes, this allocates only when it doubles. Slots are raw storage, so the
// spare half after a doubling is never written and costs no resident memory.
#ifndef QIO_SRC_RING_HPP
#define QIO_SRC_RING_HPP

#include <cstddef> // std::size_t
#include <memory>  // std::allocator, std::construct_at, std::destroy_at
#include <utility> // std::move, std::exchange

namespace qio::detail {

template <class T> class Ring {
public:
  Ring() = default;
  ~Ring() {
    clear();
    std::allocator<T>().deallocate(slots_, capacity_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }

  T& front() noexcept { return slots_[head_]; }
  const T& front() const noexcept { return slots_[head_]; }
  T& back() noexcept { return (*this)[count_ - 1]; }
  const T& back() const noexcept { return (*this)[count_ - 1]; }
  T& operator[](std::size_t index) noexcept { return slots_[slot(index)]; }
  const T& operator[](std::size_t index) const noexcept { return slots_[slot(index)]; }

  // Whether push_back_reserved may be called without reserve_one.
  bool has_room() const noexcept { return count_ != capacity_; }
  // Makes room for one more element, so push_back_reserved cannot throw.
  void reserve_one() {
    if (count_ == capacity_)
      grow();
  }
  // Appends after reserve_one made room.
  void push_back_reserved(T value) noexcept {
    std::construct_at(&slots_[slot(count_)], std::move(value));
    ++count_;
  }
  void push_back(T value) {
    reserve_one();
    push_back_reserved(std::move(value));
  }

  T pop_front() noexcept {
    T value = std::move(slots_[head_]);
    std::destroy_at(&slots_[head_]);
    head_ = (head_ + 1) & (capacity_ - 1);
    --count_;
    return value;
  }

  T pop_back() noexcept {
    --count_;
    T& last = slots_[slot(count_)];
    T value = std::move(last);
    std::destroy_at(&last);
    return value;
  }

  void clear() noexcept {
    while (!empty())
      pop_front();
  }

  // An empty ring of more than `kept_slots` slots gives its storage back,
  // so a burst does not hold its peak for the rest of the channel's life.
  void trim(std::size_t kept_slots) noexcept {
    if (count_ != 0 || capacity_ <= kept_slots)
      return;
    std::allocator<T>().deallocate(slots_, capacity_);
    slots_ = nullptr;
    capacity_ = 0;
    head_ = 0;
  }

private:
  std::size_t slot(std::size_t index) const noexcept {
    return (head_ + index) & (capacity_ - 1);
  }

  void grow() {
    const std::size_t new_capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    T* new_slots = std::allocator<T>().allocate(new_capacity);
    for (std::size_t i = 0; i < count_; ++i) {
      T& old = (*this)[i];
      std::construct_at(&new_slots[i], std::move(old));
      std::destroy_at(&old);
    }
    std::allocator<T>().deallocate(slots_, capacity_);
    slots_ = new_slots;
    capacity_ = new_capacity;
    head_ = 0;
  }

  T* slots_ = nullptr;
  std::size_t capacity_ = 0; // always 0 or a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

} // namespace qio::detail

#endif // QIO_SRC_RING_HPP
