// SPDX-License-Identifier: MIT
// Composition of tasks:
//
//   auto [a, b] = co_await when_all(fetch(x), fetch(y));   // both, concurrently
//
//   std::stop_source stop;                                  // the first of two;
//   auto w = co_await when_any(stop, serve(stop.get_token()),  // the other is
//                              shutdown_signal(stop.get_token()));  // stopped
//   // w.index(): which finished first; std::get<0>(w): its value
//
//   task_scope conns(r);                                    // any number,
//   conns.spawn(serve(std::move(fd)));                      // joined together
//   co_await conns.join();
//
// when_all and when_any start their tasks at once, one after the other on
// the awaiting thread, and finish only when every task has finished, so
// nothing they started is left running. when_all rethrows the first
// exception (in time) once all are done. when_any gives the value of the
// first task to finish, or rethrows its exception; the moment it finishes
// it stops @stop, which the others must watch (their operations'
// .stop_with()) to end soon; what they return or throw after that is
// dropped. A void task's value is std::monostate.
//
// A task_scope runs tasks on its ring, each as spawned, and join() waits
// for them all and rethrows the first exception. Destroying a scope whose
// tasks still run terminates the program with a message (lifetime rule 2
// of ring.hpp), except in the ring's destructor.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <zcuring/ring.hpp>
#include <zcuring/task.hpp>

namespace zcuring {

// What a task<T> gives in a tuple or variant: T, or std::monostate for void.
template <class T>
using value_of = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

namespace detail {

// The tasks of one when_all or when_any.
struct branch_group {
	static constexpr std::size_t none = ~std::size_t(0);
	std::size_t left = 0; // branches still running, plus one while starting
	std::coroutine_handle<> parent;
	std::stop_source *stop = nullptr; // when_any: stopped by the first
	std::size_t first = none;         // the first branch to finish
	std::exception_ptr first_error;   // the first exception to come
	std::exception_ptr winner_error;  // the first branch's exception

	void finished(std::size_t i, std::exception_ptr e) noexcept
	{
		if (first == none) {
			first = i;
			winner_error = e;
			// Stop callbacks neither throw nor resume (ring.hpp, rule 5).
			if (stop)
				stop->request_stop();
		}
		if (e && !first_error)
			first_error = std::move(e);
	}
};

// The coroutine that runs one branch; its frame is freed by its owner
// (the when_all/when_any frame) once every branch has finished.
struct branch {
	struct promise_type {
		branch_group *g = nullptr;
		branch get_return_object() noexcept
		{
			return {std::coroutine_handle<promise_type>::from_promise(*this)};
		}
		std::suspend_always initial_suspend() const noexcept { return {}; }
		auto final_suspend() const noexcept
		{
			struct awaiter {
				bool await_ready() const noexcept { return false; }
				std::coroutine_handle<>
				await_suspend(std::coroutine_handle<promise_type> h) const noexcept
				{
					branch_group *grp = h.promise().g;
					if (--grp->left == 0)
						return grp->parent;
					return std::noop_coroutine();
				}
				void await_resume() const noexcept {}
			};
			return awaiter{};
		}
		void return_void() const noexcept {}
		void unhandled_exception() const noexcept { std::terminate(); } // caught inside
	};

	branch(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
	branch(branch &&o) noexcept : h_(std::exchange(o.h_, {})) {}
	branch(const branch &) = delete;
	~branch()
	{
		if (h_)
			h_.destroy();
	}
	std::coroutine_handle<promise_type> h_;
};

template <class T>
branch run_branch(task<T> t, std::optional<value_of<T>> &out, branch_group &g, std::size_t i)
{
	std::exception_ptr e;
	try {
		if constexpr (std::is_void_v<T>) {
			co_await std::move(t);
			out.emplace();
		} else {
			out.emplace(co_await std::move(t));
		}
	} catch (...) {
		e = std::current_exception();
	}
	g.finished(i, std::move(e));
}

// Start every branch; resume the parent when the last has finished.
template <std::size_t N>
struct start_all {
	branch_group &g;
	std::array<branch, N> &bs;
	bool await_ready() const noexcept { return false; }
	bool await_suspend(std::coroutine_handle<> parent) noexcept
	{
		g.parent = parent;
		g.left = N + 1;
		for (auto &b : bs) {
			b.h_.promise().g = &g;
			b.h_.resume();
		}
		return --g.left != 0; // all done already: go on at once
	}
	void await_resume() const noexcept {}
};

template <class... Ts, std::size_t... I>
std::array<branch, sizeof...(Ts)> make_branches(std::tuple<std::optional<value_of<Ts>>...> &out,
                                                branch_group &g, std::index_sequence<I...>,
                                                task<Ts> &...ts)
{
	return {run_branch(std::move(ts), std::get<I>(out), g, I)...};
}

template <class V, class Out, std::size_t... I>
V pick(Out &out, std::size_t which, std::index_sequence<I...>)
{
	std::optional<V> v;
	((which == I ? (v.emplace(std::in_place_index<I>, std::move(*std::get<I>(out))), 0) : 0),
	 ...);
	return std::move(*v);
}

} // namespace detail

// Run @ts concurrently; their values once all have finished. The first
// exception is rethrown, after all have finished.
template <class... Ts>
task<std::tuple<value_of<Ts>...>> when_all(task<Ts>... ts)
{
	static_assert(sizeof...(Ts) > 0, "when_all of no task");
	detail::branch_group g;
	std::tuple<std::optional<value_of<Ts>>...> out;
	auto bs = detail::make_branches<Ts...>(out, g, std::index_sequence_for<Ts...>{}, ts...);
	co_await detail::start_all<sizeof...(Ts)>{g, bs};
	if (g.first_error)
		std::rethrow_exception(g.first_error);
	co_return std::apply(
	        [](auto &...o) { return std::tuple<value_of<Ts>...>(std::move(*o)...); }, out);
}

// Run @ts concurrently; the first to finish wins: @stop is stopped at
// once, and when the others have finished, the winner's value comes back
// (index() says which) or its exception is rethrown.
template <class... Ts>
task<std::variant<value_of<Ts>...>> when_any(std::stop_source stop, task<Ts>... ts)
{
	static_assert(sizeof...(Ts) > 0, "when_any of no task");
	detail::branch_group g;
	g.stop = &stop;
	std::tuple<std::optional<value_of<Ts>>...> out;
	auto bs = detail::make_branches<Ts...>(out, g, std::index_sequence_for<Ts...>{}, ts...);
	co_await detail::start_all<sizeof...(Ts)>{g, bs};
	if (g.winner_error)
		std::rethrow_exception(g.winner_error);
	co_return detail::pick<std::variant<value_of<Ts>...>>(out, g.first,
	                                                       std::index_sequence_for<Ts...>{});
}

// Tasks of one ring joined together (see the top of this file).
class task_scope {
public:
	explicit task_scope(ring &r) noexcept : r_(r) {}
	task_scope(const task_scope &) = delete;
	task_scope &operator=(const task_scope &) = delete;
	~task_scope()
	{
		if (live_ && !detail::teardown_depth) {
			std::fputs("zcuring: a task_scope was destroyed while its tasks still run "
			           "(co_await join() first; see the lifetime rules in "
			           "zcuring/ring.hpp)\n",
			           stderr);
			std::abort();
		}
	}

	// Start @t now (it runs from the loop's next turn).
	void spawn(task<void> t)
	{
		auto h = r_.spawn(run(*this, std::move(t)));
		live_++;
		h.detach();
	}

	// Tasks not yet finished.
	std::size_t size() const noexcept { return live_; }

	// Wait until every task has finished (including those spawned while
	// waiting); rethrow the first exception of any.
	auto join() noexcept
	{
		struct awaiter {
			task_scope *s;
			bool await_ready() const noexcept { return s->live_ == 0; }
			void await_suspend(std::coroutine_handle<> h) noexcept { s->joiner_ = h; }
			void await_resume()
			{
				if (s->error_)
					std::rethrow_exception(std::exchange(s->error_, nullptr));
			}
		};
		return awaiter{this};
	}

private:
	static task<void> run(task_scope &s, task<void> t)
	{
		try {
			co_await std::move(t);
		} catch (...) {
			if (!s.error_)
				s.error_ = std::current_exception();
		}
		if (--s.live_ == 0 && s.joiner_)
			s.r_.post(std::exchange(s.joiner_, {}));
	}

	ring &r_;
	std::size_t live_ = 0;
	std::coroutine_handle<> joiner_;
	std::exception_ptr error_;
};

} // namespace zcuring
