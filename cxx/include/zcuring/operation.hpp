// SPDX-License-Identifier: MIT
// operation: the awaitable behind every single-shot io_uring request, and
// the timeout and cancellation that every awaitable of the library shares
// (operation, a stream's next(), zc_send_op):
//
//   co_await async_recv(r, fd, buf).timeout(2s).stop_with(token);
//
//  .timeout(d)     the awaitable ends with std::errc::timed_out if it has
//                  not completed after @d;
//  .stop_with(st)  it ends with std::errc::operation_canceled once @st is
//                  stopped (at once if it is already), unless it completed
//                  first.
//
// A single request takes its SQE in await_suspend and resumes the
// coroutine only after every CQE that names it has arrived: its own, the
// CQE of the cancel a stop request issued (IORING_OP_ASYNC_CANCEL), and
// that of its linked timeout (IORING_OP_LINK_TIMEOUT). So nothing in the
// kernel points at it once co_await returns.
//
// A stop callback neither throws nor resumes anything: it takes an SQE
// only if the SQ has room, and otherwise leaves the cancel to the loop's
// next turn (ring::defer). Stop requests come from the ring's thread.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <new>
#include <stop_token>
#include <utility>

#include <zcuring/ring.hpp>

namespace zcuring {

namespace detail {

// The state behind .timeout() and .stop_with(), one implementation for
// every awaitable. It counts the CQEs still to come that name it (and a
// cancel not yet issued) and resumes the waiter when none is left. Two
// kinds of wait:
//  - a request (operation, zc_send_op): a main SQE, its linked timeout,
//    and on a stop an ASYNC_CANCEL of the main request;
//  - an event that is no CQE of its own (a stream's next item): the
//    source calls event(); a timeout is an IORING_OP_TIMEOUT of its own,
//    removed (ASYNC_CANCEL) when the event comes first; a stop abandons
//    the wait, and the loop's next turn resumes the waiter.
class op_control : public completion {
public:
	op_control(const op_control &) = delete;
	op_control &operator=(const op_control &) = delete;
	op_control &operator=(op_control &&) = delete;

protected:
	// Starts with the lean handler: a request with neither timeout nor
	// stop needs nothing but its CQE (request_started() keeps it).
	explicit op_control(ring &r) noexcept : completion(&op_control::on_cqe_lean_), ring_(&r) {}
	// Movable until it starts (compilers may move an awaitable into the
	// coroutine frame); never after, as the kernel then points at it.
	op_control(op_control &&o) noexcept
	    : completion(&op_control::on_cqe_lean_), ring_(o.ring_), has_timeout_(o.has_timeout_),
	      guarded_(o.guarded_)
	{
		if (has_timeout_)
			ts_ = o.ts_;
		if (o.stop_src_ == src_pinned) {
			pin_ = o.pin_;
		} else if (o.stop_src_ == src_copied) {
			::new (&token_.v) std::stop_token(std::move(o.token_.v));
			o.token_.v.~stop_token();
		}
		stop_src_ = std::exchange(o.stop_src_, src_none);
	}
	[[gnu::always_inline]] ~op_control()
	{
		if (watch_ != watch_none)
			unwatch();
		if (stop_src_ != src_none)
			release_stop();
	}

	// Watch @st: its entry in the ring's table of tokens, pinned (no copy
	// of the token), or a copy when the table has no room. A token with
	// no stop state is nothing to watch.
	[[gnu::always_inline]] void set_stop(const std::stop_token &st) noexcept
	{
		if (stop_src_ != src_none) [[unlikely]]
			drop_stop(); // watched another token before
		if (st == std::stop_token{})
			return;
		pin_ = ring_->stops().pin(st);
		stop_src_ = src_pinned;
		if (!pin_) [[unlikely]]
			copy_stop(st);
		guarded_ = true;
	}
	void set_timeout(std::chrono::nanoseconds d) noexcept
	{
		auto ns = d.count() < 0 ? 0 : d.count();
		ts_.tv_sec = ns / 1000000000;
		ts_.tv_nsec = ns % 1000000000;
		has_timeout_ = true;
		guarded_ = true;
	}
	[[gnu::always_inline]] bool stop_requested() const noexcept
	{
		if (stop_src_ == src_pinned)
			return stop_hub::stopped(pin_);
		return stop_src_ == src_copied && token_.v.stop_requested();
	}

	[[gnu::always_inline]] void release_stop() noexcept
	{
		if (stop_src_ == src_pinned)
			stop_hub::unpin(pin_);
		else
			drop_token();
		stop_src_ = src_none;
	}
	[[gnu::noinline]] void drop_token() noexcept { token_.v.~stop_token(); }
	[[gnu::noinline]] void copy_stop(const std::stop_token &st) noexcept
	{
		::new (&token_.v) std::stop_token(st);
		stop_src_ = src_copied;
	}
	[[gnu::noinline]] void drop_stop() noexcept
	{
		release_stop();
		guarded_ = has_timeout_;
	}

	// --- a request ---------------------------------------------------

	// The main SQE of a request starting now (and room for its linked
	// timeout right after it). May submit a full SQ; may throw.
	[[gnu::always_inline]] io_uring_sqe *request_sqe()
	{
		return has_timeout_ ? ring_->get_sqes(2) : ring_->get_sqe();
	}

	// The main SQE @s is prepped: name it @ud (its CQE must reach this
	// completion with tag_main), link the timeout, and watch for a stop.
	[[gnu::always_inline]] void request_started(std::coroutine_handle<> h, io_uring_sqe *s,
	                                            std::uint64_t ud) noexcept
	{
		waiter_ = h;
		io_uring_sqe_set_data64(s, ud);
		// Neither timeout nor stop: its one CQE resumes the waiter
		// (on_cqe_lean_), with no count, no cancel, no watch.
		if (guarded_)
			guard_request(s, ud);
	}

	// The request's result: its CQE's res, -ECANCELED for a stop before
	// the start, -ETIMEDOUT when its linked timeout cancelled it.
	int request_res() const noexcept
	{
		if (timed_out_ && res_ == -ECANCELED)
			return -ETIMEDOUT;
		return res_;
	}

	// --- a wait for an event ------------------------------------------

	// Waiting starts: arm the timer (may throw, before anything changed)
	// and watch for a stop. The source calls event() when it happens.
	void wait_started(std::coroutine_handle<> h)
	{
		on_cqe = &op_control::on_cqe_;
		pending_ = 0;
		if (has_timeout_) {
			io_uring_sqe *s = ring_->get_sqe();
			io_uring_prep_timeout(s, &ts_, 0, 0);
			target_ = encode(this, tag_main);
			io_uring_sqe_set_data64(s, target_);
			target_live_ = true;
			pending_ = 1;
		}
		waiter_ = h;
		wait_mode_ = true;
		waiting_ = true;
		pending_++;
		watch_stop();
	}

public:
	// The awaited event has come (an abandoned wait ignores it).
	void event() noexcept
	{
		if (!waiting_)
			return;
		waiting_ = false;
		got_event_ = true;
		if (target_live_)
			want_aux(); // remove the timer
		if (--pending_ == 0)
			finish();
	}

protected:
	// Why a wait ended without its event: timed_out, operation_canceled;
	// 0 when it had its event (or did not wait).
	int wait_res() const noexcept
	{
		if (got_event_)
			return 0;
		if (timed_out_)
			return -ETIMEDOUT;
		if (stopped_)
			return -ECANCELED;
		return 0;
	}

	// A stop requested before the start: no wait.
	void stopped_early() noexcept { stopped_ = true; }

	// --- both --------------------------------------------------------

	// In await_resume: no stop callback may run any more.
	[[gnu::always_inline]] void settle() noexcept
	{
		if (watch_ != watch_none)
			unwatch();
	}

	ring &owner() const noexcept { return *ring_; }

	// Written when the awaitable starts, or completes: not by the
	// constructors, which run for every operation (each store counts).
	ring *ring_;
	std::coroutine_handle<> waiter_;
	int res_;
	std::uint32_t flags_;

private:
	struct canceller {
		op_control *self;
		void operator()() const noexcept { self->on_stop(); }
	};
	using own_callback = std::stop_callback<canceller>;

	// Storage constructed only on the paths that use it (a stop, a
	// timeout, an SQ too full for a cancel), so that an operation with
	// neither costs nothing for them.
	template <class T>
	union lazy {
		lazy() noexcept {}
		~lazy() {}
		T v;
	};

	// A request with a timeout or a stop: count the CQEs to come, link
	// the timeout, watch the token.
	[[gnu::always_inline]] void guard_request(io_uring_sqe *s, std::uint64_t ud) noexcept
	{
		on_cqe = has_timeout_ ? &op_control::on_cqe_ : &op_control::on_cqe_watched_;
		target_ = ud;
		target_live_ = true;
		pending_ = 1;
		if (has_timeout_) [[unlikely]]
			link_timeout(s);
		watch_stop();
	}

	[[gnu::noinline]] void link_timeout(io_uring_sqe *s) noexcept
	{
		s->flags |= IOSQE_IO_LINK;
		io_uring_sqe *t = io_uring_get_sqe(ring_->native());
		io_uring_prep_link_timeout(t, &ts_, 0);
		io_uring_sqe_set_data64(t, encode(this, tag_aux));
		pending_++;
	}

	void init_deferred() noexcept
	{
		::new (&deferred_.v) deferred{};
		deferred_.v.owner = this;
		deferred_.v.issue = [](deferred *d) {
			static_cast<op_control *>(d->owner)->issue_deferred();
		};
	}

	[[gnu::always_inline]] void watch_stop() noexcept
	{
		// May run on_stop() at once, if a stop was requested meanwhile.
		// The pinned entry of the ring's table (one callback per token);
		// else a callback of our own.
		if (stop_src_ == src_pinned) {
			stop_link &l = *::new (&link_.v) stop_link;
			l.owner = this;
			l.on_stop = [](detail::stop_link *sl) noexcept {
				static_cast<op_control *>(sl->owner)->on_stop();
			};
			watch_ = watch_hub;
			stop_hub::watch(pin_, l);
			return;
		}
		if (stop_src_ == src_copied && token_.v.stop_possible())
			watch_own_callback();
	}

	[[gnu::noinline]] void watch_own_callback() noexcept
	{
		watch_ = watch_own;
		::new (&on_stop_.v) own_callback(token_.v, canceller{this});
	}

	// No stop callback runs after this.
	[[gnu::always_inline]] void unwatch() noexcept
	{
		if (watch_ == watch_hub) [[likely]] {
			// unlinked already if the ring's table was detached
			if (link_.v.linked())
				link_.v.unlink();
		} else {
			drop_own_callback();
		}
		watch_ = watch_none;
	}
	[[gnu::noinline]] void drop_own_callback() noexcept { on_stop_.v.~own_callback(); }

	// From the stop callback: never throws, never resumes.
	void on_stop() noexcept
	{
		if (!pending_)
			return;
		if (waiting_) {
			// Abandon the wait; the event, if it comes, is the next
			// awaiter's. The timer (if any) is removed, else the loop's
			// next turn resumes the waiter.
			waiting_ = false;
			stopped_ = true;
			want_aux();
			pending_--; // the event, no longer awaited (never 0 here)
			return;
		}
		if (target_live_)
			want_aux(); // cancel the request
	}

	// Ask for the auxiliary request (the cancel of target_) once: now if
	// the SQ has room, else from the loop's next turn. It is counted in
	// pending_ from now on, so the waiter cannot resume before it.
	void want_aux() noexcept
	{
		if (aux_wanted_)
			return;
		aux_wanted_ = true;
		pending_++;
		io_uring_sqe *s = target_live_ ? ring_->try_get_sqe() : nullptr;
		if (s) {
			issue_cancel(s);
		} else {
			init_deferred(); // here, not per operation: it is rare
			ring_->defer(deferred_.v);
		}
	}

	void issue_cancel(io_uring_sqe *s) noexcept
	{
		io_uring_prep_cancel64(s, target_, 0);
		io_uring_sqe_set_data64(s, encode(this, tag_aux));
	}

	// From the loop: the cancel is still needed, or only the count.
	void issue_deferred()
	{
		if (target_live_) {
			issue_cancel(ring_->get_sqe());
			return;
		}
		if (--pending_ == 0)
			finish();
	}

	// The CQE of a request watching a stop, without timeout: its only
	// one unless the stop issued a cancel.
	static void on_cqe_watched_(completion *c, const cqe &e, unsigned tag)
	{
		auto *self = static_cast<op_control *>(c);
		if (self->aux_wanted_) [[unlikely]]
			return on_cqe_(c, e, tag);
		self->target_live_ = false;
		self->res_ = e.res;
		self->flags_ = e.flags;
		self->finish();
	}

	// The CQE of a request with neither timeout nor stop: its only one.
	static void on_cqe_lean_(completion *c, const cqe &e, unsigned)
	{
		auto *self = static_cast<op_control *>(c);
		self->res_ = e.res;
		self->flags_ = e.flags;
		self->finish();
	}

	static void on_cqe_(completion *c, const cqe &e, unsigned tag)
	{
		auto *self = static_cast<op_control *>(c);
		if (tag == tag_main) {
			// The request's CQE, or the wait's timer.
			self->target_live_ = false;
			if (self->wait_mode_) {
				if (e.res == -ETIME && self->waiting_) {
					self->waiting_ = false;
					self->timed_out_ = true;
					self->pending_--; // the event, no longer awaited
				}
			} else {
				self->res_ = e.res;
				self->flags_ = e.flags;
			}
		} else if (e.res == -ETIME) {
			// only a linked timeout that fired completes with -ETIME
			self->timed_out_ = true;
		}
		if (--self->pending_ == 0)
			self->finish();
	}

	void finish() noexcept { waiter_.resume(); }

	enum : std::uint8_t { watch_none, watch_hub, watch_own };

	enum : std::uint8_t { src_none, src_pinned, src_copied };

	stop_hub::pin_t pin_;          // src_pinned: the token's entry in the ring's table
	lazy<std::stop_token> token_;  // src_copied: the table had no room
	lazy<own_callback> on_stop_;   // watch_own
	lazy<stop_link> link_;       // watch_hub: in the ring's stop_hub while it waits
	lazy<deferred> deferred_;    // once want_aux() found the SQ full
	__kernel_timespec ts_;       // set, and read, only with has_timeout_
	std::uint64_t target_;       // the request a cancel names (target_live_)
	unsigned pending_;           // CQEs (and a cancel) still to come, once guarded
	std::uint8_t watch_ = watch_none;
	std::uint8_t stop_src_ = src_none;
	bool has_timeout_ = false;
	bool guarded_ = false; // a timeout or a stop token: not the lean path
	bool target_live_ = false; // target_ is in the kernel
	bool aux_wanted_ = false;
	bool timed_out_ = false;
	bool wait_mode_ = false; // waiting for an event, not a request
	bool waiting_ = false;   // for an event, not abandoned
	bool got_event_ = false; // the event came
	bool stopped_ = false;   // a stop ended the wait
};

// What co_await uses for awaitable D: a pointer to it. GCC copies (moves)
// an awaiter that is not a prvalue into the coroutine frame, so
// `co_await op.stop_with(st)` would move the whole operation once more;
// a prvalue proxy is built in place, and D stays where it is (a
// temporary of the co_await's full expression, which lives until the
// expression ends, across the suspension).
template <class D>
struct awaiter_ref {
	D *d;
	[[gnu::always_inline]] bool await_ready() noexcept(noexcept(d->await_ready()))
	{
		return d->await_ready();
	}
	template <class H>
	[[gnu::always_inline]] decltype(auto) await_suspend(H h)
	{
		return d->await_suspend(h);
	}
	[[gnu::always_inline]] decltype(auto) await_resume() noexcept(noexcept(d->await_resume()))
	{
		return d->await_resume();
	}
};

// The .timeout() and .stop_with() of awaitable D.
template <class D>
class cancellable : public op_control {
public:
	awaiter_ref<D> operator co_await() && noexcept { return {static_cast<D *>(this)}; }
	awaiter_ref<D> operator co_await() & noexcept { return {static_cast<D *>(this)}; }

	// End with operation_canceled when @st is stopped, unless the
	// awaitable completed first.
	D &&stop_with(const std::stop_token &st) &&noexcept
	{
		set_stop(st);
		return static_cast<D &&>(*this);
	}

	// End with timed_out if not completed after @d.
	template <class Rep, class Period>
	D &&timeout(std::chrono::duration<Rep, Period> d) &&noexcept
	{
		set_timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
		return static_cast<D &&>(*this);
	}

protected:
	using op_control::op_control;
	// Movable as op_control is (declared because the destructor is).
	cancellable(cancellable &&) noexcept = default;
	// Inline like the rest of an operation's path: GCC stopped inlining
	// it once a translation unit held more kinds of awaitable.
	[[gnu::always_inline]] ~cancellable() = default;
};

} // namespace detail

// How a CQE becomes the operation's value.
template <class R>
struct res_as {
	static result<R> convert(int res, std::uint32_t) noexcept { return from_res<R>(res); }
};

template <class Prep, class R = int, class Conv = res_as<R>>
class [[nodiscard]] operation : public detail::cancellable<operation<Prep, R, Conv>> {
	using base = detail::cancellable<operation<Prep, R, Conv>>;

public:
	operation(ring &r, Prep prep) noexcept : base(r), prep_(std::move(prep)) {}
	operation(operation &&o) noexcept : base(std::move(o)), prep_(std::move(o.prep_)) {}
	[[gnu::always_inline]] ~operation() = default;

	[[gnu::always_inline]] bool await_ready() noexcept
	{
		if (this->stop_requested()) {
			this->res_ = -ECANCELED;
			this->flags_ = 0;
			return true;
		}
		return false;
	}

	[[gnu::always_inline]] void await_suspend(std::coroutine_handle<> h)
	{
		io_uring_sqe *s = this->request_sqe();
		prep_(s);
		this->request_started(h, s, detail::encode(this, detail::tag_main));
	}

	[[gnu::always_inline]] result<R> await_resume() noexcept
	{
		this->settle();
		return Conv::convert(this->request_res(), this->flags_);
	}

	// The CQE flags of the completion (IORING_CQE_F_*).
	std::uint32_t cqe_flags() const noexcept { return this->flags_; }

private:
	Prep prep_;
};

// An operation of result type R from a callable that preps the SQE.
template <class R, class Conv = res_as<R>, class Prep>
operation<Prep, R, Conv> make_operation(ring &r, Prep prep) noexcept
{
	return operation<Prep, R, Conv>(r, std::move(prep));
}

} // namespace zcuring
