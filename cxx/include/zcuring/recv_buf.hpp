// SPDX-License-Identifier: MIT
// Receive into provided buffers: multishot recv (IORING_RECV_MULTISHOT,
// Linux 6.0) that picks its buffers from a ring of them
// (IORING_REGISTER_PBUF_RING, 5.19). It is the fallback for kernels
// without zero-copy receive, with the shape of recv_zc.hpp:
//
//   zcuring::buf_pool bufs(r);                  // buffers + their ring
//   auto in = bufs.receive(fd);                 // multishot, re-armed as needed
//   while (auto c = co_await in.next())
//           use(c->data());                     // the kernel copied into it
//   // in.status(): end_of_stream, or the error that ended it
//
// A buf_chunk is a move-only view of one buffer; destroying it puts the
// buffer back on the ring, where the kernel takes it for later data. The
// memory lives until the buf_pool, every stream and every chunk are gone,
// so a chunk may outlive the pool object, its streams and the ring (giving
// a buffer back is a store to memory this library owns, no system call).
// The buf_pool and its streams must not outlive the ring.
//
// zcuring::receiver (receiver.hpp) picks zero copy or this at run time.
//
// When the ring has no buffer (-ENOBUFS), a stream goes on by itself:
// after its queued chunks are consumed, straight away once, and then as
// soon as any buffer comes back. An application that holds every buffer
// while it waits for the next one waits for ever: hold fewer.
//
// Unlike rx_stream there is no byte limit: a multishot recv has none, and
// bytes past a limit in a buffer could not be handed back to the socket.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <zcuring/errors.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/result.hpp>
#include <zcuring/detail/recv_stream.hpp>

namespace zcuring {

struct buf_pool_options {
	std::size_t buffer_bytes = 16384; // each buffer: the most one chunk holds
	unsigned buffers = 256;           // a power of two, at most 32768
	// The buffer group id (IOSQE_BUFFER_SELECT); -1: the lowest one free
	// on this ring.
	int group = -1;
};

class buf_pool;
class buf_chunk;
class buf_stream;

namespace detail {

// The buffers and their ring, shared by the owner, its streams and chunks.
// refs_ keeps the memory (owner, streams, chunks); users_ keeps the
// registration (owner, streams). The ring tells it when the ring goes
// (ring_node), after which nothing here touches the ring.
class buf_pool_state final : public ring_node, public recv_pool {
public:
	buf_pool_state(ring &r, const buf_pool_options &o) : r_(&r)
	{
		if (!o.buffers || (o.buffers & (o.buffers - 1)) || o.buffers > 32768)
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "buf_pool: buffers must be a power of two from 1 "
			                        "to 32768, not " +
			                                std::to_string(o.buffers));
		if (!o.buffer_bytes || o.buffer_bytes > (1u << 30))
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "buf_pool: buffer_bytes must be from 1 to 1 GiB, not " +
			                                std::to_string(o.buffer_bytes));
		if (o.group < -1 || o.group > 0xffff)
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "buf_pool: group must be -1 or from 0 to 65535, not " +
			                                std::to_string(o.group));
		long page = ::sysconf(_SC_PAGESIZE);
		size_ = static_cast<std::uint32_t>(o.buffer_bytes);
		count_ = o.buffers;
		mem_len_ = (std::size_t{count_} * size_ + page - 1) / page * page;
		br_len_ = (count_ * sizeof(io_uring_buf) + page - 1) / page * page;
		mem_ = map(mem_len_);
		br_ = static_cast<io_uring_buf_ring *>(map(br_len_));
		if (!mem_ || !br_) {
			unmap();
			throw std::system_error(errno_code(ENOMEM), "buf_pool: mmap of the buffers");
		}
		io_uring_buf_ring_init(br_);
		for (unsigned i = 0; i < count_; i++)
			io_uring_buf_ring_add(br_, addr(static_cast<std::uint16_t>(i)), size_,
			                      static_cast<unsigned short>(i), mask(), static_cast<int>(i));
		io_uring_buf_ring_advance(br_, static_cast<int>(count_));

		io_uring_buf_reg reg{};
		reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
		reg.ring_entries = count_;
		int ret = -EEXIST;
		for (int g = o.group < 0 ? 0 : o.group; ret == -EEXIST && g <= 0xffff; g++) {
			reg.bgid = static_cast<std::uint16_t>(g);
			ret = io_uring_register_buf_ring(r.native(), &reg, 0);
			if (o.group >= 0)
				break;
		}
		if (ret < 0) {
			unmap();
			std::string what = "IORING_REGISTER_PBUF_RING (buffer group " +
			                   std::to_string(reg.bgid) + ")";
			if (ret == -EINVAL)
				what += ": a ring of provided buffers needs Linux 5.19 or later";
			else if (ret == -EEXIST)
				what += ": the group is taken";
			else if (ret == -ENOMEM)
				what += ": its pages are charged to RLIMIT_MEMLOCK";
			throw std::system_error(errno_code(-ret), what);
		}
		group_ = reg.bgid;
		destroy_with_ring = [](ring_node *n) noexcept {
			static_cast<buf_pool_state *>(n)->r_ = nullptr;
		};
		r.adopt(this);
	}
	buf_pool_state(const buf_pool_state &) = delete;
	buf_pool_state &operator=(const buf_pool_state &) = delete;
	~buf_pool_state() { unmap(); }

	void ref() noexcept { refs_++; }
	void unref() noexcept
	{
		if (--refs_ == 0)
			delete this;
	}
	// The owner or a stream: the registration lives while one does.
	void use() noexcept
	{
		users_++;
		ref();
	}
	void unuse() noexcept
	{
		if (--users_ == 0 && r_) {
			if (!r_->closed())
				io_uring_unregister_buf_ring(r_->native(), group_);
			node_list::unlink(this);
			r_ = nullptr;
		}
		unref();
	}

	// The ring, or null once it is gone.
	ring *owner() const noexcept { return r_; }
	std::uint16_t group() const noexcept { return group_; }
	std::uint32_t buffer_bytes() const noexcept { return size_; }
	unsigned buffers() const noexcept { return count_; }
	std::byte *addr(std::uint16_t bid) const noexcept
	{
		return static_cast<std::byte *>(mem_) + std::size_t{bid} * size_;
	}
	std::span<std::byte> memory() const noexcept
	{
		return {static_cast<std::byte *>(mem_), std::size_t{count_} * size_};
	}

	// Give buffer @bid back to the ring: one entry, visible at once,
	// for the whole buffer whatever length it held. The ring has a slot
	// for every buffer, so it is never full.
	void put(std::uint16_t bid, std::uint32_t = 0) noexcept
	{
		io_uring_buf_ring_add(br_, addr(bid), size_, bid, mask(), 0);
		io_uring_buf_ring_advance(br_, 1);
		gave_back(r_);
	}

private:
	int mask() const noexcept { return io_uring_buf_ring_mask(count_); }

	static void *map(std::size_t len) noexcept
	{
		void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		                 -1, 0);
		return p == MAP_FAILED ? nullptr : p;
	}
	void unmap() noexcept
	{
		if (mem_)
			::munmap(std::exchange(mem_, nullptr), mem_len_);
		if (br_)
			::munmap(std::exchange(br_, nullptr), br_len_);
	}

	ring *r_;
	unsigned refs_ = 1;  // the owner's
	unsigned users_ = 1; // the owner's
	void *mem_ = nullptr;
	io_uring_buf_ring *br_ = nullptr;
	std::size_t mem_len_ = 0, br_len_ = 0;
	std::uint32_t size_ = 0;
	unsigned count_ = 0;
	std::uint16_t group_ = 0;
};

// The multishot recv of one stream.
class buf_rx_state final : public recv_state {
public:
	// @fixed: @fd is an index into the ring's registered files.
	buf_rx_state(ring &r, buf_pool_state &p, int fd, bool fixed)
	    : recv_state(r, p, ENOBUFS), p_(p), fd_(fd), fixed_(fixed)
	{
		p_.use();
	}
	~buf_rx_state() override
	{
		p_.unstarve(this);
		p_.unuse();
	}

	// For recv_stream.
	static bool has_data(const cqe &e) noexcept
	{
		return (e.flags & IORING_CQE_F_BUFFER) && e.res > 0;
	}
	inline buf_chunk chunk_of(const cqe &e) noexcept;

protected:
	void prep(io_uring_sqe *s) override
	{
		io_uring_prep_recv_multishot(s, fd_, nullptr, 0, 0);
		s->flags |= IOSQE_BUFFER_SELECT | (fixed_ ? IOSQE_FIXED_FILE : 0);
		s->buf_group = p_.group();
	}

	static std::uint16_t bid(const cqe &e) noexcept
	{
		return static_cast<std::uint16_t>(e.flags >> IORING_CQE_BUFFER_SHIFT);
	}

	void drop(const cqe &e, bool queued) noexcept override
	{
		if (!(e.flags & IORING_CQE_F_BUFFER))
			return;
		if (queued && e.res <= 0)
			return; // take() gave it back already
		if (!queued)
			p_.held_more();
		p_.put(bid(e));
	}

	bool take(const cqe &e) override
	{
		if (e.flags & IORING_CQE_F_BUFFER) {
			if (e.res > 0)
				// Data; without F_MORE the request ended with it
				// (its CQE went to the overflow list): next()
				// re-arms once the queue is consumed.
				return took(static_cast<std::size_t>(e.res));
			// A buffer with nothing in it: straight back.
			p_.held_more();
			p_.put(bid(e));
		}
		// -ENOBUFS: the ring had no buffer.
		return no_data(e);
	}

private:
	buf_pool_state &p_;
	int fd_;
	bool fixed_;
};

} // namespace detail

// One buffer holding received bytes; goes back to the ring when destroyed.
// Move-only; size(), and reset() to give the buffer back now.
class buf_chunk : public detail::recv_chunk<detail::buf_pool_state, std::uint16_t> {
public:
	buf_chunk() = default;

	std::span<const std::byte> data() const noexcept { return {p_->addr(id_), len_}; }
	// The buffer's id in its group (the CQE's IORING_CQE_BUFFER_SHIFT bits).
	std::uint16_t buffer_id() const noexcept { return id_; }

private:
	friend class detail::buf_rx_state;
	buf_chunk(detail::buf_pool_state *p, std::uint16_t bid, std::uint32_t len) noexcept
	    : recv_chunk(p, bid, len)
	{
	}
};

// A chunk for the CQE @e with data: its buffer.
inline buf_chunk detail::buf_rx_state::chunk_of(const cqe &e) noexcept
{
	return buf_chunk(&p_, bid(e), static_cast<std::uint32_t>(e.res));
}

// One socket's receive into provided buffers, as a stream of buf_chunk,
// with the members of rx_stream (recv_zc.hpp): next() (co_await gives
// result<buf_chunk>, with .timeout() and .stop_with()), status(), eof(),
// bytes(), rearms(), cancel(). There is no byte limit; a ring that runs
// dry with no buffer held by the application ends the stream with
// recv_errc::pool_too_small; rearms() counts the restarts after -ENOBUFS,
// or after the request ended with data.
class buf_stream : public detail::recv_stream<detail::buf_rx_state, buf_chunk> {
public:
	buf_stream(buf_stream &&) noexcept = default;
	buf_stream &operator=(buf_stream &&) noexcept = default;

private:
	friend class buf_pool;
	explicit buf_stream(detail::buf_rx_state *s) noexcept : recv_stream(s) {}
};

// Buffers for receiving, and the ring that offers them to the kernel.
class buf_pool {
public:
	// Throws std::system_error: invalid options, or the registration's
	// error (with what() saying why).
	explicit buf_pool(ring &r, const buf_pool_options &o = {})
	    : p_(new detail::buf_pool_state(r, o))
	{
	}
	buf_pool(const buf_pool &) = delete;
	buf_pool &operator=(const buf_pool &) = delete;
	~buf_pool() { p_->unuse(); }

	// Receive from stream socket @fd, or from the socket that is the
	// ring's registered file @f (a direct descriptor, as
	// accept_direct_stream gives). Throws once the ring is gone.
	buf_stream receive(int fd) { return start(fd, false); }
	buf_stream receive(fixed_file f) { return start(static_cast<int>(f.index), true); }

	std::uint16_t group() const noexcept { return p_->group(); }
	std::size_t buffer_bytes() const noexcept { return p_->buffer_bytes(); }
	unsigned buffers() const noexcept { return p_->buffers(); }
	// All the buffers, e.g. to register them as fixed buffers.
	std::span<std::byte> memory() const noexcept { return p_->memory(); }
	// Buffers filled and not yet given back (chunks alive, CQEs queued).
	std::uint64_t outstanding() const noexcept { return p_->held(); }
	// Buffers given back so far: one per chunk.
	std::uint64_t returned() const noexcept { return p_->returned(); }

private:
	buf_stream start(int fd, bool fixed)
	{
		ring *r = p_->owner();
		if (!r || r->closed())
			throw std::system_error(errno_code(EBADF), "buf_pool::receive(): its ring is gone");
		return buf_stream(new detail::buf_rx_state(*r, *p_, fd, fixed));
	}

	detail::buf_pool_state *p_;
};

} // namespace zcuring
