// SPDX-License-Identifier: MIT
// Zero-copy receive (IORING_OP_RECV_ZC into a zcrx buffer pool):
//
//   zcuring::zcrx rx(r);                        // pool + fill ring
//   auto in = rx.receive(fd);                   // multishot, re-armed as needed
//   while (auto c = co_await in.next())
//           use(c->data());                     // pool memory, no copy
//   // in.status(): end_of_stream, or the error that ended it
//
// A chunk is a move-only view of pool memory; destroying it puts exactly
// one entry on the fill ring, which gives the memory back to the kernel.
// The pool lives until the zcrx object, every stream and every chunk are
// gone, so a chunk can outlive the object it came from.
//
// The ring must have 32-byte CQEs (ring_options::cqe32).
//
// When the pool runs out (-ENOMEM), a stream goes on by itself: after its
// queued chunks are consumed, straight away once, and then as soon as any
// received memory comes back. An application that holds every chunk of
// the pool while it waits for the next one waits for ever: hold less than
// the pool.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>

#include <zcuring/zcrx.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <zcuring/stream.hpp>

namespace zcuring {

struct zcrx_options {
	std::size_t pool_bytes = 16u << 20; // rounded up to pages
	unsigned rq_entries = 4096;         // fill-ring entries, a power of two
	// Device mode: the NIC queue to receive from. Unset: device-less.
	std::optional<unsigned> if_index;
	unsigned rx_queue = 0;
};

class zcrx;
class rx_stream;

namespace detail {

class rx_state;

// The pool and fill ring, shared by the owner, its streams and chunks.
class zcrx_state {
public:
	zcrx_state(ring &r, const zcrx_options &o) : r_(r)
	{
		if (!r.cqe32())
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "zero-copy receive needs a ring with 32-byte CQEs "
			                        "(ring_options::cqe32)");
		io_uring_query_zcrx q;
		int ret = zcrx_query(&q);
		if (ret < 0)
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "IORING_OP_RECV_ZC needs the zcuring kernel series, or "
			        "Linux 7.1 for device-less mode");
		if (!o.if_index && !(q.register_flags & ZCRX_REG_NODEV))
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "this kernel's zero-copy receive has no device-less "
			        "mode (ZCRX_REG_NODEV)");
		long page = ::sysconf(_SC_PAGESIZE);
		pool_len_ = (o.pool_bytes + page - 1) / page * page;
		rq_len_ = (zcrx_rq_bytes(&q, o.rq_entries) + page - 1) / page * page;
		pool_ = map(pool_len_);
		rq_mem_ = map(rq_len_);
		if (!pool_ || !rq_mem_) {
			unmap();
			throw std::system_error(errno_code(ENOMEM), "mmap of the zcrx pool");
		}
		if (o.if_index)
			ret = register_device(*o.if_index, o.rx_queue, o.rq_entries);
		else
			ret = zcrx_register_nodev(r.fd(), pool_, pool_len_, rq_mem_, rq_len_,
			                          o.rq_entries, &reg_, &rq_);
		if (ret < 0) {
			unmap();
			std::string what = "IORING_REGISTER_ZCRX_IFQ";
			if (ret == -ENOMEM)
				what += " (the pool is charged to RLIMIT_MEMLOCK)";
			if (o.if_index && (ret == -EOPNOTSUPP || ret == -ENODEV))
				throw std::system_error(make_error_code(errc::unsupported),
				                        what + ": device mode is not available on "
				                               "this kernel or NIC");
			throw std::system_error(errno_code(-ret), what);
		}
	}
	zcrx_state(const zcrx_state &) = delete;
	zcrx_state &operator=(const zcrx_state &) = delete;
	~zcrx_state() { unmap(); }

	void ref() noexcept { refs_++; }
	void unref() noexcept
	{
		if (--refs_ == 0)
			delete this;
	}

	ring &owner_ring() const noexcept { return r_; }
	std::uint32_t id() const noexcept { return reg_.zcrx_id; }
	std::byte *pool() const noexcept { return static_cast<std::byte *>(pool_); }
	std::size_t pool_len() const noexcept { return pool_len_; }
	const std::byte *at(std::uint64_t off) const noexcept
	{
		return pool() + (off & ~IORING_ZCRX_AREA_MASK);
	}

	// Give one data CQE's memory back: one fill-ring entry.
	void put(std::uint64_t off, std::uint32_t len) noexcept
	{
		if (!zcrx_rq_space(&rq_) && !r_.closed()) {
			// Full: the kernel takes every queued entry now.
			zcrx_flush(r_.fd(), id());
		}
		if (zcrx_rq_space(&rq_)) {
			zcrx_rq_return(&rq_, off, len);
			zcrx_rq_publish(&rq_);
		}
		returned_++;
		held_--;
		if (!starved_.empty() && !r_.closed())
			wake_starved();
	}

	// Data CQEs delivered by the kernel and not yet given back, whether
	// queued in a stream or alive as chunks.
	void held_more() noexcept { held_++; }
	std::uint64_t held() const noexcept { return held_; }

	std::uint64_t returned() const noexcept { return returned_; }

	void starve(rx_state *s) { starved_.push_back(s); }
	void unstarve(rx_state *s) noexcept
	{
		for (auto &p : starved_)
			if (p == s)
				p = nullptr;
	}
	inline void wake_starved() noexcept;

private:
	static void *map(std::size_t len) noexcept
	{
		void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		                 -1, 0);
		return p == MAP_FAILED ? nullptr : p;
	}
	void unmap() noexcept
	{
		if (pool_)
			::munmap(std::exchange(pool_, nullptr), pool_len_);
		if (rq_mem_)
			::munmap(std::exchange(rq_mem_, nullptr), rq_len_);
	}

	int register_device(unsigned ifindex, unsigned rxq, unsigned entries) noexcept
	{
		io_uring_zcrx_area_reg area{};
		io_uring_region_desc rd{};
		area.addr = reinterpret_cast<std::uintptr_t>(pool_);
		area.len = pool_len_;
		rd.user_addr = reinterpret_cast<std::uintptr_t>(rq_mem_);
		rd.size = rq_len_;
		rd.flags = IORING_MEM_REGION_TYPE_USER;
		reg_ = {};
		reg_.if_idx = ifindex;
		reg_.if_rxq = rxq;
		reg_.rq_entries = entries;
		reg_.area_ptr = reinterpret_cast<std::uintptr_t>(&area);
		reg_.region_ptr = reinterpret_cast<std::uintptr_t>(&rd);
		int ret = zcrx_register(r_.fd(), &reg_);
		reg_.area_ptr = reg_.region_ptr = 0;
		if (!ret)
			zcrx_rq_init(&rq_, rq_mem_, &reg_);
		return ret;
	}

	ring &r_;
	unsigned refs_ = 1;
	void *pool_ = nullptr;
	void *rq_mem_ = nullptr;
	std::size_t pool_len_ = 0;
	std::size_t rq_len_ = 0;
	io_uring_zcrx_ifq_reg reg_{};
	zcrx_rq rq_{};
	std::uint64_t returned_ = 0;
	std::uint64_t held_ = 0;
	std::vector<rx_state *> starved_;
};

// The multishot RECV_ZC request of one stream.
class rx_state final : public multishot {
public:
	rx_state(zcrx_state &z, int fd, std::size_t limit)
	    : multishot(z.owner_ring()), z_(z), fd_(fd)
	{
		z_.ref();
		limit_ = limit;
	}
	~rx_state() override
	{
		z_.unstarve(this);
		z_.unref();
	}

	zcrx_state &pool() const noexcept { return z_; }

	// Bytes still to come before the byte limit (0: no limit).
	std::size_t limit_ = 0;
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

protected:
	void prep(io_uring_sqe *s) override
	{
		unsigned len = 0;
		if (limit_)
			len = static_cast<unsigned>(limit_ - received_);
		io_uring_prep_recv_zc(s, fd_, len, z_.id());
	}

	void drop(const cqe &e, bool queued) noexcept override
	{
		if (e.res <= 0)
			return;
		if (!queued)
			z_.held_more();
		z_.put(e.big[0], static_cast<std::uint32_t>(e.res));
	}

	bool take(const cqe &e) override
	{
		if (e.res > 0) {
			z_.held_more();
			received_ += static_cast<std::size_t>(e.res);
			enomem_rearmed_ = false;
			return true;
		}
		if (e.flags & IORING_CQE_F_MORE)
			return false; // nothing to deliver
		if (e.res == -ENOSPC) {
			// The CQ was full: everything posted is in; go on.
			rearm();
			return false;
		}
		if (e.res == -ENOMEM)
			return !out_of_memory();
		return true;
	}

private:
	// The pool had no free chunk when the kernel ended the request. True:
	// handled (the stream goes on); false: deliver -ENOMEM to the owner.
	bool out_of_memory()
	{
		// Queued data first; next() re-arms once the queue is consumed.
		if (ready())
			return true;
		// Chunks given back since the kernel posted this may be waiting
		// in the fill ring: try once more straight away, and again
		// whenever some came back since the last try (a put before
		// starve() would wake no one).
		if (!enomem_rearmed_ || z_.returned() != returned_at_rearm_) {
			enomem_rearmed_ = true;
			returned_at_rearm_ = z_.returned();
			rearm();
			return true;
		}
		// Still none: wait until some received memory (queued in another
		// stream, or a chunk alive) comes back. With none out, the kernel's
		// partly filled chunks of other streams hold the whole pool: it is
		// too small for its streams, which only the owner can change.
		if (z_.held()) {
			z_.starve(this);
			return true;
		}
		return false;
	}

	zcrx_state &z_;
	int fd_;
	// Re-armed after -ENOMEM with no data since, when the pool had
	// taken back returned_at_rearm_ fill-ring entries in all.
	bool enomem_rearmed_ = false;
	std::uint64_t returned_at_rearm_ = 0;
};

inline void zcrx_state::wake_starved() noexcept
{
	auto list = std::move(starved_);
	starved_.clear();
	for (rx_state *s : list) {
		if (!s || s->armed())
			continue;
		try {
			s->rearm();
		} catch (...) {
			starved_.push_back(s);
		}
	}
}

} // namespace detail

// Pool memory holding received bytes; returns itself to the fill ring.
class chunk {
public:
	chunk() = default;
	chunk(chunk &&o) noexcept : z_(std::exchange(o.z_, nullptr)), off_(o.off_), len_(o.len_) {}
	chunk &operator=(chunk &&o) noexcept
	{
		if (this != &o) {
			reset();
			z_ = std::exchange(o.z_, nullptr);
			off_ = o.off_;
			len_ = o.len_;
		}
		return *this;
	}
	~chunk() { reset(); }

	std::span<const std::byte> data() const noexcept { return {z_->at(off_), len_}; }
	std::size_t size() const noexcept { return len_; }
	// Where the bytes lie in the pool (zcrx::pool()): for sending them
	// on from a registered buffer.
	std::size_t pool_offset() const noexcept { return off_ & ~IORING_ZCRX_AREA_MASK; }

	// Give the memory back now.
	void reset() noexcept
	{
		if (!z_)
			return;
		detail::zcrx_state *z = std::exchange(z_, nullptr);
		z->put(off_, len_);
		z->unref();
	}

private:
	friend class rx_stream;
	chunk(detail::zcrx_state *z, std::uint64_t off, std::uint32_t len) noexcept
	    : z_(z), off_(off), len_(len)
	{
		z_->ref();
	}

	detail::zcrx_state *z_ = nullptr;
	std::uint64_t off_ = 0;
	std::uint32_t len_ = 0;
};

// One socket's zero-copy receive, as a stream of chunks.
class rx_stream {
public:
	rx_stream(rx_stream &&) noexcept = default;
	rx_stream &operator=(rx_stream &&) noexcept = default;

	// The next chunk; at the end, an error: errc::end_of_stream after EOF
	// (or the byte limit), else what ended the request.
	auto next() noexcept
	{
		struct awaiter {
			detail::rx_state *s;
			bool await_ready()
			{
				if (s->ready() || s->eof_)
					return true;
				if (!s->armed())
					s->rearm();
				return false;
			}
			void await_suspend(std::coroutine_handle<> h) noexcept { s->wait(h); }
			result<chunk> await_resume() noexcept
			{
				if (!s->ready())
					return errc::end_of_stream;
				cqe e = s->pop();
				if (e.res > 0) {
					if (s->limit_ && s->received_ >= s->limit_)
						s->eof_ = true;
					chunk c(&s->pool(), e.big[0],
					        static_cast<std::uint32_t>(e.res));
					return c;
				}
				if (e.res == 0) {
					s->eof_ = true;
					s->error_ = make_error_code(errc::end_of_stream);
					return errc::end_of_stream;
				}
				s->error_ = errno_code(-e.res);
				return s->error_;
			}
		};
		return awaiter{&*s_};
	}

	// Why the stream ended: errc::end_of_stream, or an error.
	std::error_code status() const noexcept { return s_->error_; }
	bool eof() const noexcept { return s_->eof_; }
	std::size_t bytes() const noexcept { return s_->received_; }
	// Times the request was started again (after -ENOSPC or -ENOMEM).
	std::uint64_t rearms() const noexcept { return s_->arms_ ? s_->arms_ - 1 : 0; }

	// End the request early; next() then returns its final result.
	void cancel() { s_->cancel(); }

private:
	friend class zcrx;
	explicit rx_stream(detail::rx_state *s) noexcept : s_(s) {}
	detail::stream_handle<detail::rx_state> s_;
};

// A zero-copy receive instance: its pool and fill ring.
class zcrx {
public:
	// Throws std::system_error: errc::unsupported (with the reason) on a
	// kernel without it, else the registration's error.
	explicit zcrx(ring &r, const zcrx_options &o = {}) : z_(new detail::zcrx_state(r, o)) {}
	zcrx(const zcrx &) = delete;
	zcrx &operator=(const zcrx &) = delete;
	~zcrx() { z_->unref(); }

	// Receive from TCP socket @fd; @limit > 0 ends after that many bytes.
	rx_stream receive(int fd, std::size_t limit = 0)
	{
		return rx_stream(new detail::rx_state(*z_, fd, limit));
	}

	std::uint32_t id() const noexcept { return z_->id(); }
	// The pool, e.g. to register it as a fixed buffer for send_zc.
	std::span<std::byte> pool() const noexcept { return {z_->pool(), z_->pool_len()}; }
	// Received memory not yet given back (chunks alive, CQEs queued).
	std::uint64_t outstanding() const noexcept { return z_->held(); }
	// Fill-ring entries written so far: one per chunk.
	std::uint64_t returned() const noexcept { return z_->returned(); }

private:
	detail::zcrx_state *z_;
};

} // namespace zcuring
