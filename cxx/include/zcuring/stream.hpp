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
#pragma once

#include <coroutine>
#include <utility>

#include <zcuring/ring.hpp>

namespace zcuring::detail {

class multishot : public completion, public ring_node {
public:
	explicit multishot(ring &r) : completion(&multishot::on_cqe_), ring_(r)
	{
		destroy_with_ring = [](ring_node *n) noexcept {
			delete static_cast<multishot *>(n);
		};
	}
	multishot(const multishot &) = delete;
	multishot &operator=(const multishot &) = delete;
	virtual ~multishot() = default;

	// Start (or restart) the request.
	void arm()
	{
		io_uring_sqe *s = ring_.get_sqe();
		prep(s);
		io_uring_sqe_set_data64(s, encode(this, tag_main));
		armed_ = true;
		cancel_issued_ = false;
	}

	// Ask the kernel to end the request; its final CQE still comes.
	void cancel()
	{
		if (!armed_ || cancel_issued_ || ring_.closed())
			return;
		cancel_issued_ = true;
		io_uring_sqe *s = ring_.get_sqe();
		io_uring_prep_cancel64(s, encode(this, tag_main), 0);
		io_uring_sqe_set_data64(s, 0);
	}

	// The owner is done: cancel, give back what is queued, and free the
	// state now or at the final CQE.
	void release() noexcept
	{
		owned_ = false;
		try {
			cancel();
		} catch (...) {
			// The ring is broken; its teardown ends the request.
		}
		while (!queue_.empty())
			drop(queue_.pop(), true);
		if (!armed_ || ring_.closed())
			delete this;
		else
			ring_.adopt(this); // freed by the final CQE or the ring
	}

	bool armed() const noexcept { return armed_; }
	bool ready() const noexcept { return !queue_.empty(); }
	cqe pop() noexcept { return queue_.pop(); }
	void wait(std::coroutine_handle<> h) noexcept { waiter_ = h; }
	ring &owner_ring() const noexcept { return ring_; }

protected:
	virtual void prep(io_uring_sqe *s) = 0;
	// A CQE that no one will take: give back what it carries. @queued:
	// it had passed take() and waited in the queue.
	virtual void drop(const cqe &, bool queued) noexcept { (void)queued; }
	// Look at a CQE before it is queued for the owner; false: it was
	// handled here (for example by re-arming) and is not queued.
	virtual bool take(const cqe &) { return true; }

private:
	static void on_cqe_(completion *c, const cqe &e, unsigned)
	{
		auto *self = static_cast<multishot *>(c);
		if (!(e.flags & IORING_CQE_F_MORE))
			self->armed_ = false;
		if (!self->owned_) {
			self->drop(e, false);
			if (!self->armed_) {
				node_list::unlink(self);
				delete self;
			}
			return;
		}
		if (!self->take(e))
			return;
		self->queue_.push(e);
		if (auto w = std::exchange(self->waiter_, {}))
			w.resume();
	}

	ring &ring_;
	fifo<cqe> queue_{16};
	std::coroutine_handle<> waiter_;
	bool armed_ = false;
	bool owned_ = true;
	bool cancel_issued_ = false;
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
