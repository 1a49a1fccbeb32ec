// SPDX-License-Identifier: MIT
// What the two receive streams share. rx_stream (recv_zc.hpp: zero copy
// into a zcrx pool) and buf_stream (recv_buf.hpp: provided buffers) have
// the same shape, so that receiver.hpp can pick one at run time, and the
// same logic behind that shape:
//   - recv_pool: what a pool counts (memory the application holds or a
//     stream has queued, memory given back), and the streams that wait
//     for memory to come back, linked through the streams themselves:
//     waiting allocates nothing;
//   - recv_state: the multishot request of one stream: its bytes, its end,
//     its re-arms, and what it does when the pool runs dry;
//   - recv_chunk: a move-only hold on one piece of a pool's memory, which
//     gives it back when destroyed;
//   - recv_stream: the stream its owner holds, and its next().
// What differs stays with each pool: how memory goes back to the kernel,
// how a CQE names it, and how a chunk reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <utility>

#include <zcuring/errors.hpp>
#include <zcuring/result.hpp>
#include <zcuring/stream.hpp>

namespace zcuring::detail {

class recv_state;

// The counting part of a pool, shared by its owner, streams and chunks.
class recv_pool {
public:
	recv_pool() = default;
	recv_pool(const recv_pool &) = delete;
	recv_pool &operator=(const recv_pool &) = delete;

	// Memory the kernel filled and the application has not given back,
	// queued in a stream or alive as chunks.
	void held_more() noexcept { held_++; }
	std::uint64_t held() const noexcept { return held_; }
	// Pieces given back so far: one per chunk.
	std::uint64_t returned() const noexcept { return returned_; }

	// @s waits until some memory comes back (once, however often asked);
	// unstarve(): no longer (a stream that goes).
	inline void starve(recv_state *s) noexcept;
	inline void unstarve(recv_state *s) noexcept;

protected:
	~recv_pool() = default;

	// One piece went back to the kernel: count it, and start again the
	// streams waiting for memory, if the pool's ring @r (null once gone)
	// is still open.
	inline void gave_back(ring *r) noexcept;

private:
	std::uint64_t held_ = 0;
	std::uint64_t returned_ = 0;
	recv_state *starved_ = nullptr; // through recv_state::next_starved_
};

// The multishot request of one stream. The derived state prepares the
// SQE, gives back what a dropped CQE carries, and for recv_stream says
// which CQEs carry data (has_data()) and makes their chunk (chunk_of()).
class recv_state : public multishot {
public:
	// @dry: the errno with which the kernel ends the request when the
	// pool has no memory for it.
	recv_state(ring &r, recv_pool &p, int dry) : multishot(r), pool_(p), dry_(dry) {}

	std::size_t received_ = 0;
	bool eof_ = false;
	std::error_code error_;
	// Requests started: the first and every re-arm.
	std::uint64_t arms_ = 0;

	void rearm()
	{
		arms_++;
		arm();
	}

	// What next() gives for a CQE without data: the end of the stream, or
	// the error that ended the request (recv_errc::pool_too_small when
	// the pool ran dry with nothing of it held). Kept for status().
	std::error_code end(int res) noexcept
	{
		if (res >= 0) {
			eof_ = true;
			error_ = make_error_code(errc::end_of_stream);
		} else {
			error_ = res == -dry_ ? make_error_code(recv_errc::pool_too_small)
			                      : recv_error(-res);
		}
		return error_;
	}

protected:
	// For take(): a CQE with @n bytes, to be queued for the owner.
	bool took(std::size_t n) noexcept
	{
		pool_.held_more();
		received_ += n;
		dry_rearmed_ = false;
		return true;
	}

	// For take(): a CQE without data. False: nothing to deliver (more
	// comes, or the pool ran dry and the stream goes on by itself).
	bool no_data(const cqe &e)
	{
		if (e.flags & IORING_CQE_F_MORE)
			return false;
		if (e.res == -dry_)
			return !ran_dry();
		return true;
	}

private:
	friend class recv_pool;

	// The pool had no memory when the kernel ended the request. True:
	// handled (the stream goes on); false: deliver the error to the owner.
	bool ran_dry()
	{
		// Queued data first; next() re-arms once the queue is consumed.
		if (ready())
			return true;
		// Memory given back since the kernel posted this may be waiting
		// for it: try once more straight away, and again whenever some
		// came back since the last try (a give-back before starve()
		// would wake no one).
		if (!dry_rearmed_ || pool_.returned() != returned_at_rearm_) {
			dry_rearmed_ = true;
			returned_at_rearm_ = pool_.returned();
			rearm();
			return true;
		}
		// Still none: wait until memory held by the application (a chunk
		// alive, or queued in a stream) comes back. With none held, what
		// the kernel keeps (a zcrx request's partly filled pages) holds the
		// whole pool: it is too small for its streams, which only the owner
		// can change.
		if (pool_.held()) {
			pool_.starve(this);
			return true;
		}
		return false;
	}

	recv_pool &pool_;
	int dry_;
	// Re-armed after running dry with no data since, when the pool had
	// taken back returned_at_rearm_ pieces in all.
	bool dry_rearmed_ = false;
	std::uint64_t returned_at_rearm_ = 0;
	// In the pool's list of streams waiting for memory.
	bool starved_ = false;
	recv_state *next_starved_ = nullptr;
};

inline void recv_pool::starve(recv_state *s) noexcept
{
	if (s->starved_)
		return;
	s->starved_ = true;
	s->next_starved_ = starved_;
	starved_ = s;
}

inline void recv_pool::unstarve(recv_state *s) noexcept
{
	for (recv_state **p = &starved_; *p; p = &(*p)->next_starved_) {
		if (*p == s) {
			*p = s->next_starved_;
			break;
		}
	}
	s->starved_ = false;
	s->next_starved_ = nullptr;
}

inline void recv_pool::gave_back(ring *r) noexcept
{
	returned_++;
	held_--;
	if (!starved_ || !r || r->closed())
		return;
	// The list is taken whole first: a stream that cannot re-arm goes
	// back on it, to wait for the next piece. (Taking an SQE may submit,
	// never complete: no state is freed meanwhile.)
	recv_state *list = std::exchange(starved_, nullptr);
	while (list) {
		recv_state *s = list;
		list = std::exchange(s->next_starved_, nullptr);
		s->starved_ = false;
		if (s->armed())
			continue;
		try {
			s->rearm();
		} catch (...) {
			// No SQE now (the ring is failing): wait for the next piece.
			starve(s);
		}
	}
}

// One piece of the memory of pool P (a recv_pool with ref(), unref() and
// put(id, len)), as a CQE named it: @id and @len. Moving it moves the
// hold; destroying or resetting it gives the piece back, once, and lets
// go of the pool, which lives until its last chunk is gone.
template <class P, class Id>
class recv_chunk {
public:
	recv_chunk() = default;
	recv_chunk(recv_chunk &&o) noexcept
	    : p_(std::exchange(o.p_, nullptr)), id_(o.id_), len_(o.len_)
	{
	}
	recv_chunk &operator=(recv_chunk &&o) noexcept
	{
		if (this != &o) {
			reset();
			p_ = std::exchange(o.p_, nullptr);
			id_ = o.id_;
			len_ = o.len_;
		}
		return *this;
	}
	~recv_chunk() { reset(); }

	std::size_t size() const noexcept { return len_; }

	// Give the memory back now.
	void reset() noexcept
	{
		if (!p_)
			return;
		P *p = std::exchange(p_, nullptr);
		p->put(id_, len_);
		p->unref();
	}

protected:
	recv_chunk(P *p, Id id, std::uint32_t len) noexcept : p_(p), id_(id), len_(len)
	{
		p_->ref();
	}

	P *p_ = nullptr;
	Id id_{};
	std::uint32_t len_ = 0;
};

// The stream its owner holds, of state S (a recv_state) and chunk C.
template <class S, class C>
class recv_stream {
public:
	recv_stream(recv_stream &&) noexcept = default;
	recv_stream &operator=(recv_stream &&) noexcept = default;

	// co_await gives the next chunk; at the end, an error:
	// errc::end_of_stream, or what ended the request.
	class [[nodiscard]] next_op : public next_awaiter<next_op, S> {
	public:
		using next_awaiter<next_op, S>::next_awaiter;
		result<C> await_resume() noexcept
		{
			if (auto ec = this->wait_error())
				return ec;
			S *s = this->s_;
			if (!s->ready())
				return s->end(0); // at the end already: EOF, or a byte limit
			cqe e = s->pop();
			if (S::has_data(e))
				return s->chunk_of(e);
			return s->end(e.res);
		}

	private:
		friend class next_awaiter<next_op, S>;
		bool at_end() const noexcept { return this->s_->eof_; }
		void start() { this->s_->rearm(); }
	};

	next_op next() noexcept { return next_op(*s_); }

	// Why the stream ended: errc::end_of_stream, or an error.
	std::error_code status() const noexcept { return s_->error_; }
	bool eof() const noexcept { return s_->eof_; }
	std::size_t bytes() const noexcept { return s_->received_; }
	// Times the request was started again.
	std::uint64_t rearms() const noexcept { return s_->arms_ ? s_->arms_ - 1 : 0; }

	// End the request early; next() then returns its final result.
	void cancel() noexcept { s_->cancel(); }

protected:
	explicit recv_stream(S *s) noexcept : s_(s) {}
	~recv_stream() = default;

private:
	stream_handle<S> s_;
};

} // namespace zcuring::detail
