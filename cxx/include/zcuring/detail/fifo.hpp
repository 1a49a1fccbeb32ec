// SPDX-License-Identifier: MIT
// A first-in first-out queue on one growing power-of-two array. It
// allocates only when it holds more than it ever held before, so a queue
// in steady state never touches the heap.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace zcuring::detail {

template <class T>
class fifo {
public:
	fifo() = default;
	explicit fifo(std::size_t capacity) { reserve(capacity); }
	fifo(const fifo &) = delete;
	fifo &operator=(const fifo &) = delete;

	bool empty() const noexcept { return head_ == tail_; }
	std::size_t size() const noexcept { return tail_ - head_; }

	void push(T v)
	{
		if (size() == cap_)
			reserve(cap_ ? cap_ * 2 : 16);
		buf_[tail_++ & (cap_ - 1)] = std::move(v);
	}

	// The oldest element, moved out. The queue must not be empty.
	T pop() noexcept
	{
		T v = std::move(buf_[head_++ & (cap_ - 1)]);
		if (head_ == tail_)
			head_ = tail_ = 0; // empty: start again where the cache is warm
		return v;
	}
	T &front() noexcept { return buf_[head_ & (cap_ - 1)]; }

	void reserve(std::size_t want)
	{
		std::size_t cap = 16;
		while (cap < want)
			cap *= 2;
		if (cap <= cap_)
			return;
		auto nb = std::make_unique<T[]>(cap);
		std::size_t n = size();
		for (std::size_t i = 0; i < n; i++)
			nb[i] = std::move(buf_[(head_ + i) & (cap_ - 1)]);
		buf_ = std::move(nb);
		cap_ = cap;
		head_ = 0;
		tail_ = n;
	}

private:
	std::unique_ptr<T[]> buf_;
	std::size_t cap_ = 0;
	std::size_t head_ = 0;
	std::size_t tail_ = 0;
};

} // namespace zcuring::detail
