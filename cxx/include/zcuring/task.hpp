// SPDX-License-Identifier: MIT
// task<T>: a lazy coroutine. It starts when awaited, hands control to the
// awaiter by symmetric transfer when it finishes (so chains of tasks do not
// grow the stack), and carries its value or exception to the awaiter.
//
// A task that has started and not finished is suspended on something that
// points at it (an operation in the kernel, a wait for another task):
// destroying it then terminates the program with a message, the one loud
// way out of a use after free (see the lifetime rules in ring.hpp). Only
// a ring's destructor frees such tasks, after it has closed the io_uring.
#pragma once

#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <utility>

namespace zcuring {

template <class T = void>
class task;

namespace detail {

// Non-zero while a ring's destructor frees what it owns: the only time a
// started, unfinished task may be destroyed.
inline thread_local unsigned teardown_depth = 0;

[[noreturn]] inline void die_task_destroyed() noexcept
{
	std::fputs("zcuring: a started task was destroyed before it finished: an operation of "
	           "it may still be in the kernel (see the lifetime rules in "
	           "zcuring/ring.hpp)\n",
	           stderr);
	std::abort();
}

[[noreturn]] inline void die_outlived_ring() noexcept
{
	std::fputs("zcuring: an awaitable given .stop_with() outlived its ring (see the "
	           "lifetime rules in zcuring/ring.hpp)\n",
	           stderr);
	std::abort();
}

struct promise_base {
	// Marks the task started when it first runs.
	struct initial_awaiter {
		promise_base *p;
		bool await_ready() const noexcept { return false; }
		void await_suspend(std::coroutine_handle<>) const noexcept {}
		void await_resume() const noexcept { p->started = true; }
	};

	struct final_awaiter {
		bool await_ready() const noexcept { return false; }
		template <class P>
		std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept
		{
			return h.promise().continuation;
		}
		void await_resume() const noexcept {}
	};

	initial_awaiter initial_suspend() noexcept { return {this}; }
	final_awaiter final_suspend() const noexcept { return {}; }
	void unhandled_exception() noexcept { exception = std::current_exception(); }

	void rethrow_if_failed()
	{
		if (exception)
			std::rethrow_exception(std::exchange(exception, nullptr));
	}

	std::coroutine_handle<> continuation = std::noop_coroutine();
	std::exception_ptr exception;
	bool started = false;
};

template <class T>
struct task_promise : promise_base {
	task<T> get_return_object() noexcept;
	template <class U>
	void return_value(U &&v)
	{
		value.emplace(std::forward<U>(v));
	}
	T take()
	{
		rethrow_if_failed();
		return std::move(*value);
	}
	std::optional<T> value;
};

template <>
struct task_promise<void> : promise_base {
	task<void> get_return_object() noexcept;
	void return_void() const noexcept {}
	void take() { rethrow_if_failed(); }
};

} // namespace detail

template <class T>
class [[nodiscard]] task {
public:
	using promise_type = detail::task_promise<T>;
	using handle_type = std::coroutine_handle<promise_type>;

	task() noexcept = default;
	explicit task(handle_type h) noexcept : h_(h) {}
	task(task &&o) noexcept : h_(std::exchange(o.h_, {})) {}
	task &operator=(task &&o) noexcept
	{
		if (this != &o) {
			reset();
			h_ = std::exchange(o.h_, {});
		}
		return *this;
	}
	task(const task &) = delete;
	task &operator=(const task &) = delete;
	~task() { reset(); }

	bool valid() const noexcept { return static_cast<bool>(h_); }
	bool done() const noexcept { return h_ && h_.done(); }
	// Has run, and may be suspended on an operation: not to be destroyed
	// until done().
	bool started() const noexcept { return h_ && h_.promise().started; }

	auto operator co_await() &&noexcept
	{
		struct awaiter {
			handle_type h;
			bool await_ready() const noexcept { return !h || h.done(); }
			std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept
			{
				h.promise().continuation = c;
				return h;
			}
			T await_resume() { return h.promise().take(); }
		};
		return awaiter{h_};
	}

	// For the runtime: the handle, still owned by this task.
	handle_type handle() const noexcept { return h_; }

private:
	void reset() noexcept
	{
		if (!h_)
			return;
		if (h_.promise().started && !h_.done() && !detail::teardown_depth)
			detail::die_task_destroyed();
		std::exchange(h_, {}).destroy();
	}

	handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept
{
	return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept
{
	return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
} // namespace detail

} // namespace zcuring
