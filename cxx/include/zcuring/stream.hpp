// SPDX-License-Identifier: MIT
// multishot: the state behind a stream of CQEs from one multishot request
// (accept, recv into provided buffers, zero-copy receive).
//
// The kernel keeps posting to the request's user_data until a CQE without
// IORING_CQE_F_MORE, which may come after the stream object is gone. So
// the state lives on the heap (once per stream, never per CQE), queues
// CQEs nobody awaits yet, and is freed by whichever comes last: the
// owner's release or the final CQE. CQEs that arrive for a released
// stream go to drop(), which gives back what they carry (a descriptor, a
// buffer, a zero-copy chunk).
//
// The state is the ring's node from the start: if the ring goes first, it
// frees a released state, and detaches an owned one (which then does
// nothing, as its request is gone with the ring).
//
// A stream's next() takes .timeout() and .stop_with() like every
// awaitable (operation.hpp): they end the wait, not the request, which
// goes on; what it delivers later is the next call's. cancel() ends the
// request.
#pragma once

#include <coroutine>
#include <system_error>
#include <utility>

#include <zcuring/operation.hpp>

namespace zcuring::detail {

class multishot : public completion, public ring_node {
public:
	explicit multishot(ring &r) : completion(&multishot::on_cqe_), ring_(&r)
	{
		destroy_with_ring = [](ring_node *n) noexcept {
			auto *self = static_cast<multishot *>(n);
			if (self->owned_)
				self->detach();
			else
				delete self;
		};
		cancel_later_.owner = this;
		cancel_later_.issue = [](deferred *d) {
			static_cast<multishot *>(d->owner)->issue_cancel();
		};
		r.adopt(this);
	}
	multishot(const multishot &) = delete;
	multishot &operator=(const multishot &) = delete;
	virtual ~multishot()
	{
		cancel_later_.unlink();
		if (linked())
			node_list::unlink(this);
	}

	// Start (or restart) the request.
	void arm()
	{
		io_uring_sqe *s = ring_->get_sqe();
		prep(s);
		io_uring_sqe_set_data64(s, encode(this, tag_main));
		armed_ = true;
		cancel_issued_ = false;
		cancel_later_.unlink(); // one for the request before, if any
	}

	// Ask the kernel to end the request; its final CQE still comes.
	// Never throws: with the SQ full, the loop's next turn issues it.
	void cancel() noexcept
	{
		if (!armed_ || cancel_issued_ || !ring_ || ring_->closed())
			return;
		cancel_issued_ = true;
		if (io_uring_sqe *s = ring_->try_get_sqe())
			prep_cancel(s);
		else
			ring_->defer(cancel_later_);
	}

	// The owner is done: cancel, give back what is queued, and free the
	// state now or at the final CQE.
	void release() noexcept
	{
		owned_ = false;
		waiter_ = nullptr;
		cancel();
		while (!queue_.empty())
			drop(queue_.pop(), true);
		if (!armed_ || !ring_ || ring_->closed())
			delete this;
		// else freed by the final CQE, or by the ring
	}

	bool armed() const noexcept { return armed_; }
	bool ready() const noexcept { return !queue_.empty(); }
	cqe pop() noexcept { return queue_.pop(); }
	// @w's event() is called when the next CQE is queued.
	void wait(op_control *w) noexcept { waiter_ = w; }
	void unwait(op_control *w) noexcept
	{
		if (waiter_ == w)
			waiter_ = nullptr;
	}
	// Null once the ring is gone.
	ring *owner_ring() const noexcept { return ring_; }

protected:
	virtual void prep(io_uring_sqe *s) = 0;
	// A CQE that no one will take: give back what it carries. @queued:
	// it had passed take() and waited in the queue.
	virtual void drop(const cqe &, bool queued) noexcept { (void)queued; }
	// Look at a CQE before it is queued for the owner; false: it was
	// handled here (for example by re-arming) and is not queued.
	virtual bool take(const cqe &) { return true; }

private:
	void prep_cancel(io_uring_sqe *s) noexcept
	{
		io_uring_prep_cancel64(s, encode(this, tag_main), 0);
		io_uring_sqe_set_data64(s, 0);
	}

	// From the loop, for a cancel the SQ had no room for.
	void issue_cancel()
	{
		if (armed_ && ring_ && !ring_->closed())
			prep_cancel(ring_->get_sqe());
	}

	// The ring is going: nothing of the request is left.
	void detach() noexcept
	{
		ring_ = nullptr;
		armed_ = false;
		waiter_ = nullptr;
	}

	static void on_cqe_(completion *c, const cqe &e, unsigned)
	{
		auto *self = static_cast<multishot *>(c);
		if (!(e.flags & IORING_CQE_F_MORE))
			self->armed_ = false;
		if (!self->owned_) {
			self->drop(e, false);
			if (!self->armed_)
				delete self;
			return;
		}
		if (!self->take(e))
			return;
		self->queue_.push(e);
		if (auto *w = std::exchange(self->waiter_, nullptr))
			w->event();
	}

	ring *ring_;
	fifo<cqe> queue_{16};
	op_control *waiter_ = nullptr;
	deferred cancel_later_;
	bool armed_ = false;
	bool owned_ = true;
	bool cancel_issued_ = false;
};

// The awaitable of a stream's next(): D provides
//   bool at_end()       nothing more will come (no wait, no re-arm)
//   void start()        (re)arm the request
//   T await_resume()    calling wait_error() first.
template <class D, class S>
class next_awaiter : public cancellable<D> {
public:
	explicit next_awaiter(S &s) noexcept : cancellable<D>(*s.owner_ring()), s_(&s) {}
	next_awaiter(next_awaiter &&o) noexcept : cancellable<D>(std::move(o)), s_(o.s_) {}

	bool await_ready()
	{
		if (s_->ready() || static_cast<D *>(this)->at_end())
			return true;
		if (this->stop_requested()) {
			this->stopped_early();
			return true;
		}
		if (!s_->armed())
			static_cast<D *>(this)->start();
		return false;
	}

	void await_suspend(std::coroutine_handle<> h)
	{
		this->wait_started(h);
		s_->wait(this);
	}

protected:
	// Why the wait ended without a CQE (timed_out, operation_canceled),
	// or no error.
	std::error_code wait_error() noexcept
	{
		this->settle();
		s_->unwait(this);
		int r = this->wait_res();
		return r ? errno_code(-r) : std::error_code{};
	}

	S *s_;
};

// Owns a multishot state of type S: releases it when destroyed.
template <class S>
class stream_handle {
public:
	stream_handle() = default;
	explicit stream_handle(S *s) noexcept : s_(s) {}
	stream_handle(stream_handle &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
	stream_handle &operator=(stream_handle &&o) noexcept
	{
		if (this != &o) {
			reset();
			s_ = std::exchange(o.s_, nullptr);
		}
		return *this;
	}
	~stream_handle() { reset(); }
	S *operator->() const noexcept { return s_; }
	S &operator*() const noexcept { return *s_; }
	explicit operator bool() const noexcept { return s_; }

private:
	void reset() noexcept
	{
		if (s_)
			std::exchange(s_, nullptr)->release();
	}
	S *s_ = nullptr;
};

} // namespace zcuring::detail
