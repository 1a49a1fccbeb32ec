// SPDX-License-Identifier: MIT
// operation: the awaitable behind every single-shot io_uring request.
//
// It lives in the awaiting coroutine's frame, takes its SQE in
// await_suspend, and resumes the coroutine only after every CQE that
// names it has arrived: its own, plus the CQE of the cancel it issued on a
// stop request, plus that of its linked timeout. So nothing in the kernel
// can point at it once co_await returns.
//
// Stop requests must come from the ring's own thread (the ring is
// IORING_SETUP_SINGLE_ISSUER).
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <stop_token>
#include <utility>

#include <zcuring/ring.hpp>

namespace zcuring {

// How a CQE becomes the operation's value.
template <class R>
struct res_as {
	static result<R> convert(int res, std::uint32_t) noexcept { return from_res<R>(res); }
};

template <class Prep, class R = int, class Conv = res_as<R>>
class [[nodiscard]] operation : detail::completion {
public:
	operation(ring &r, Prep prep) noexcept
	    : completion(&operation::on_cqe_), ring_(r), prep_(std::move(prep))
	{
	}
	// Movable until it starts (compilers may move an awaitable into the
	// coroutine frame); never after, as the kernel then points at it.
	operation(operation &&o) noexcept
	    : completion(&operation::on_cqe_), ring_(o.ring_), prep_(std::move(o.prep_)),
	      has_timeout_(o.has_timeout_), ts_(o.ts_), stop_(std::move(o.stop_))
	{
	}
	operation &operator=(operation &&) = delete;

	// Cancel the request (IORING_OP_ASYNC_CANCEL) when @st is stopped;
	// the result is then operation_canceled unless it completed first.
	operation &&stop_with(std::stop_token st) &&noexcept
	{
		stop_ = std::move(st);
		return std::move(*this);
	}

	// Cancel the request if it has not completed after @d (a linked
	// IORING_OP_LINK_TIMEOUT); the result is then timed_out.
	template <class Rep, class Period>
	operation &&timeout(std::chrono::duration<Rep, Period> d) &&noexcept
	{
		auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
		ts_.tv_sec = ns / 1000000000;
		ts_.tv_nsec = ns % 1000000000;
		has_timeout_ = true;
		return std::move(*this);
	}

	bool await_ready() noexcept
	{
		if (stop_.stop_requested()) {
			res_ = -ECANCELED;
			return true;
		}
		return false;
	}

	void await_suspend(std::coroutine_handle<> h)
	{
		waiter_ = h;
		io_uring_sqe *s = ring_.get_sqes(has_timeout_ ? 2 : 1);
		prep_(s);
		io_uring_sqe_set_data64(s, detail::encode(this, detail::tag_main));
		pending_ = 1;
		if (has_timeout_) {
			s->flags |= IOSQE_IO_LINK;
			io_uring_sqe *t = io_uring_get_sqe(ring_.native());
			io_uring_prep_link_timeout(t, &ts_, 0);
			io_uring_sqe_set_data64(t, detail::encode(this, detail::tag_aux));
			pending_++;
		}
		if (stop_.stop_possible())
			on_stop_.emplace(stop_, canceller{this});
	}

	result<R> await_resume() noexcept
	{
		on_stop_.reset();
		if (timed_out_ && res_ == -ECANCELED)
			return errno_code(ETIMEDOUT);
		return Conv::convert(res_, flags_);
	}

	// The CQE flags of the completion (IORING_CQE_F_*).
	std::uint32_t cqe_flags() const noexcept { return flags_; }

private:
	struct canceller {
		operation *self;
		void operator()() const { self->cancel(); }
	};

	void cancel()
	{
		if (!pending_ || cancel_issued_)
			return;
		cancel_issued_ = true;
		io_uring_sqe *s = ring_.get_sqe();
		io_uring_prep_cancel64(s, detail::encode(this, detail::tag_main), 0);
		io_uring_sqe_set_data64(s, detail::encode(this, detail::tag_aux));
		pending_++;
	}

	static void on_cqe_(detail::completion *c, const cqe &e, unsigned tag)
	{
		auto *self = static_cast<operation *>(c);
		if (tag == detail::tag_main) {
			self->res_ = e.res;
			self->flags_ = e.flags;
		} else if (e.res == -ETIME) {
			// only a linked timeout that fired completes with -ETIME
			self->timed_out_ = true;
		}
		if (--self->pending_ == 0)
			self->waiter_.resume();
	}

	ring &ring_;
	Prep prep_;
	std::coroutine_handle<> waiter_;
	int res_ = 0;
	std::uint32_t flags_ = 0;
	unsigned pending_ = 0;
	bool has_timeout_ = false;
	bool timed_out_ = false;
	bool cancel_issued_ = false;
	__kernel_timespec ts_{};
	std::stop_token stop_;
	std::optional<std::stop_callback<canceller>> on_stop_;
};

// An operation of result type R from a callable that preps the SQE.
template <class R, class Conv = res_as<R>, class Prep>
operation<Prep, R, Conv> make_operation(ring &r, Prep prep) noexcept
{
	return operation<Prep, R, Conv>(r, std::move(prep));
}

} // namespace zcuring
