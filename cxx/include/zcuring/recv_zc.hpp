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
// gone, so a chunk can outlive the object it came from, and the ring too
// (giving it back then does nothing; see the lifetime rules in ring.hpp).
// next() takes .timeout() and .stop_with() (operation.hpp).
//
// Two modes, the same streams and chunks:
//   - device-less (the default): works on any TCP socket; the kernel
//     copies what it receives into the pool;
//   - device mode (zcrx_options::if_index): the pool is bound to a NIC's
//     receive queue and the NIC writes TCP payload into it, so nothing is
//     copied. What the NIC cannot place (headers the stack pulled, small
//     segments, data from other devices) is still copied into the pool.
//     zcrx_options::fallback says what happens when the device cannot.
// zcrx::counters() says how many bytes arrived either way.
//
// The ring must have 32-byte CQEs (ring_options::cqe32) and DEFER_TASKRUN.
// Errors that say what went wrong (a socket that is no connected TCP one,
// a pool too small for its streams, a device that cannot) are recv_errc
// (errors.hpp). Where the kernel has no zero-copy receive (probe()),
// recv_buf.hpp receives into provided buffers with streams and chunks of
// the same shape, and receiver.hpp picks one of the two at run time.
//
// When the pool runs out (-ENOMEM), a stream goes on by itself: after its
// queued chunks are consumed, straight away once, and then as soon as any
// received memory comes back. An application that holds every chunk of
// the pool while it waits for the next one waits for ever: hold less than
// the pool.
#pragma once

#include <fcntl.h>
#include <net/if.h>
#include <sys/mman.h>
#include <unistd.h>

#include <liburing.h>

#include <zcuring/zcrx.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <zcuring/errors.hpp>
#include <zcuring/features.hpp>
#include <zcuring/result.hpp>
#include <zcuring/detail/recv_stream.hpp>

namespace zcuring {

// What a zcrx asked for device mode does when the device cannot have it.
enum class zcrx_fallback {
	none,        // device mode, or the constructor throws
	device_less, // device mode if the device can, else device-less
};

enum class zcrx_mode {
	device_less, // the kernel copies every byte into the pool
	device,      // the NIC writes payload into the pool
};

struct zcrx_options {
	std::size_t pool_bytes = 16u << 20; // rounded up to pages
	unsigned rq_entries = 4096;         // fill-ring entries, a power of two
	// Device mode: the NIC (if_nametoindex()) and its receive queue.
	// Unset: device-less.
	std::optional<unsigned> if_index{};
	unsigned rx_queue = 0;
	// When the device cannot (recv_errc, errors.hpp): no_such_device
	// (-ENODEV), device_unsupported (-EOPNOTSUPP: a driver that cannot
	// fill a queue from a pool: lo, veth, virtio-net...), no_header_split
	// (-EINVAL: e.g. e1000e with an MTU of 1500), no_such_queue (-ERANGE),
	// or queue_busy (-EEXIST still after device_wait: another instance
	// has the queue). Any other error
	// (-EPERM without CAP_NET_ADMIN, -ENOMEM over RLIMIT_MEMLOCK) throws
	// whatever this says, as device-less would fail the same way.
	zcrx_fallback fallback = zcrx_fallback::none;
	// Binding resets the NIC: the constructor waits up to this long for
	// its carrier (/sys/class/net/IF/carrier) before it returns, and as
	// long for a queue whose previous instance is still being torn down
	// (a ring's exit unbinds asynchronously: -EEXIST meanwhile).
	std::chrono::milliseconds device_wait{10000};
};

// Bytes RECV_ZC delivered from this instance since it was registered, as
// the kernel counts them (the ring's fdinfo).
struct zcrx_counters {
	std::uint64_t bytes_zc = 0;     // the NIC put them in the pool: never copied
	std::uint64_t bytes_copied = 0; // the kernel copied them into the pool
};

class zcrx;
class chunk;
class rx_stream;

namespace detail {

// The pool and fill ring, shared by the owner, its streams and chunks.
class zcrx_state : public ring_node, public recv_pool {
public:
	zcrx_state(ring &r, const zcrx_options &o) : r_(&r)
	{
		// The ring, when it goes first, detaches the pool (zcrx::zcrx
		// links it): chunks and streams may outlive the ring.
		destroy_with_ring = [](ring_node *n) noexcept {
			static_cast<zcrx_state *>(n)->r_ = nullptr;
		};
		if (!r.cqe32())
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "zero-copy receive needs a ring with 32-byte CQEs "
			                        "(ring_options::cqe32)");
		if (!(r.setup_flags() & IORING_SETUP_DEFER_TASKRUN))
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "zero-copy receive needs a ring with "
			                        "IORING_SETUP_DEFER_TASKRUN (ring_options::defer_taskrun)");
		long page = ::sysconf(_SC_PAGESIZE);
		io_uring_query_zcrx q;
		int ret = zcuring_zcrx_query(&q);
		if (ret < 0) {
			// No answer: a kernel without zcrx, or mainline 6.15 to 7.0
			// (device mode only; the query came in 6.18 and may not know
			// zcrx). Such a kernel does not say how big the refill
			// ring's header is: a page is more than any has.
			if (!o.if_index || !has_opcode(r, IORING_OP_RECV_ZC))
				throw std::system_error(
				        make_error_code(errc::unsupported),
				        has_opcode(r, IORING_OP_RECV_ZC)
				                ? "this kernel's zero-copy receive has device mode only "
				                  "(mainline before 7.1): device-less mode needs the "
				                  "zcuring kernel series or Linux 7.1"
				                : "IORING_OP_RECV_ZC needs the zcuring kernel series, or "
				                  "Linux 6.15 for device mode and 7.1 for device-less "
				                  "mode");
			std::memset(&q, 0, sizeof(q));
			q.rq_hdr_size = static_cast<std::uint32_t>(page);
		}
		bool nodev_ok = q.register_flags & ZCRX_REG_NODEV;
		if (!o.if_index && !nodev_ok)
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "this kernel's zero-copy receive has device mode only (no "
			        "ZCRX_REG_NODEV: mainline before 7.1): give it a NIC receive queue "
			        "(zcrx_options::if_index)");
		pool_len_ = (o.pool_bytes + page - 1) / page * page;
		rq_len_ = (zcuring_zcrx_rq_bytes(&q, o.rq_entries) + page - 1) / page * page;
		pool_ = map(pool_len_);
		rq_mem_ = map(rq_len_);
		if (!pool_ || !rq_mem_) {
			unmap();
			throw std::system_error(errno_code(ENOMEM), "mmap of the zcrx pool");
		}
		std::string what = "IORING_REGISTER_ZCRX_IFQ";
		if (o.if_index) {
			// 0 (if_nametoindex() of an unknown name) is no device;
			// zcuring_zcrx_register() would take it for device-less.
			ret = *o.if_index ? register_device(*o.if_index, o.rx_queue, o.rq_entries,
			                                    o.device_wait)
			                  : -ENODEV;
			if (!ret) {
				mode_ = zcrx_mode::device;
				wait_carrier(*o.if_index, o.device_wait);
				return;
			}
			device_error_ = detail::device_error(-ret);
			bool cannot = ret == -ENODEV || ret == -EOPNOTSUPP || ret == -EINVAL ||
			              ret == -ERANGE || ret == -EEXIST;
			if (!cannot || o.fallback == zcrx_fallback::none || !nodev_ok) {
				unmap();
				if (cannot)
					// recv_errc: what the device cannot, in words
					throw std::system_error(device_error_,
					                        device_where(*o.if_index, o.rx_queue));
				throw_register(device_where(*o.if_index, o.rx_queue), ret);
			}
			// What the kernel may have written of the fill ring is
			// not to be found by the device-less instance.
			std::memset(rq_mem_, 0, rq_len_);
			what += " (device-less, after device mode: " +
			        device_what(ret, *o.if_index, o.rx_queue) + ")";
		}
		ret = zcuring_zcrx_register_nodev(r.native(), pool_, pool_len_, rq_mem_, rq_len_, o.rq_entries,
		                          &reg_, &rq_);
		if (ret < 0) {
			unmap();
			throw_register(what, ret);
		}
		mode_ = zcrx_mode::device_less;
	}
	zcrx_state(const zcrx_state &) = delete;
	zcrx_state &operator=(const zcrx_state &) = delete;
	~zcrx_state()
	{
		if (linked())
			node_list::unlink(this);
		unmap();
	}

	void ref() noexcept { refs_++; }
	void unref() noexcept
	{
		if (--refs_ == 0)
			delete this;
	}

	// Null once the ring is gone.
	ring *owner_ring() const noexcept { return r_; }
	bool ring_open() const noexcept { return r_ && !r_->closed(); }
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
		if (!zcuring_zcrx_rq_space(&rq_) && ring_open()) {
			// Full: the kernel takes every queued entry now.
			zcuring_zcrx_flush(r_->native(), id());
		}
		if (zcuring_zcrx_rq_space(&rq_)) {
			zcuring_zcrx_rq_return(&rq_, off, len);
			zcuring_zcrx_rq_publish(&rq_);
		}
		gave_back(r_);
	}

	// Streams of this pool whose request may still run: each may keep a
	// partly filled chunk of it.
	void stream_more() noexcept { streams_++; }
	void stream_less() noexcept { streams_--; }
	std::size_t streams() const noexcept { return streams_; }

	zcrx_mode mode() const noexcept { return mode_; }
	std::error_code device_error() const noexcept { return device_error_; }

	// The instance's line of the ring's fdinfo ("ZcrxIfqs:", then
	// "    N: ... bytes_zc X bytes_copied Y"), read through a buffer on
	// the stack: no allocation.
	result<zcrx_counters> counters() const noexcept
	{
		if (!ring_open())
			return errno_code(EBADF);
		char path[64];
		std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", r_->fd());
		int fd = ::open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno_code(errno);
		char buf[1024], line[256];
		std::size_t len = 0;
		fdinfo_scan scan{id(), false, false, {}};
		for (;;) {
			ssize_t n = ::read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;
				::close(fd);
				return errno_code(err);
			}
			if (n == 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != '\n') {
					if (len < sizeof(line) - 1)
						line[len++] = buf[i];
					continue;
				}
				line[len] = '\0';
				len = 0;
				scan.line(line);
			}
		}
		::close(fd);
		if (!scan.found)
			// A kernel that does not show them (mainline), or one that
			// could not take the ring's lock for this read.
			return errc::unsupported;
		return scan.c;
	}

private:
	// The lines of the ring's fdinfo, one at a time.
	struct fdinfo_scan {
		std::uint32_t id;
		bool in_section = false, found = false;
		zcrx_counters c;

		void line(const char *l) noexcept
		{
			if (!std::strcmp(l, "ZcrxIfqs:")) {
				in_section = true;
				return;
			}
			if (!in_section)
				return;
			unsigned i;
			int end = 0;
			if (std::sscanf(l, " %u:%n", &i, &end) != 1 || !end) {
				in_section = false; // the next section
				return;
			}
			const char *p = std::strstr(l, "bytes_zc ");
			unsigned long long zc, cp;
			if (i == id && p &&
			    std::sscanf(p, "bytes_zc %llu bytes_copied %llu", &zc, &cp) == 2) {
				c.bytes_zc = zc;
				c.bytes_copied = cp;
				found = true;
			}
		}
	};

	[[noreturn]] static void throw_register(std::string what, int ret)
	{
		if (ret == -ENOMEM)
			what += " (the pool is charged to RLIMIT_MEMLOCK)";
		if (ret == -EPERM)
			what += " (zero-copy receive needs CAP_NET_ADMIN, device-less mode too)";
		if (ret == -EOPNOTSUPP || ret == -ENODEV)
			throw std::system_error(make_error_code(errc::unsupported), what);
		throw std::system_error(errno_code(-ret), what);
	}

	// "device mode on eth1 rx queue 0"
	static std::string device_where(unsigned ifindex, unsigned rxq)
	{
		char name[IF_NAMESIZE] = "?";
		if (!::if_indextoname(ifindex, name))
			std::snprintf(name, sizeof(name), "#%u", ifindex);
		return std::string("device mode on ") + name + " rx queue " + std::to_string(rxq);
	}

	static std::string device_what(int ret, unsigned ifindex, unsigned rxq)
	{
		return device_where(ifindex, rxq) + ": " + detail::device_error(-ret).message();
	}

	// Binding takes the NIC down and up: its first SYNs would be lost.
	// Best effort: a link that stays down is the application's to see.
	static void wait_carrier(unsigned ifindex, std::chrono::milliseconds limit) noexcept
	{
		char name[IF_NAMESIZE], path[64 + IF_NAMESIZE];
		if (!::if_indextoname(ifindex, name))
			return;
		std::snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
		auto end = std::chrono::steady_clock::now() + limit;
		for (;;) {
			char c = '0';
			int fd = ::open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (::read(fd, &c, 1) != 1)
					c = '0';
				::close(fd);
			}
			if (c == '1' || std::chrono::steady_clock::now() >= end)
				return;
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
	}

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

	// Bind the pool to queue @rxq of @ifindex; a queue still held by a
	// ring on its way out (-EEXIST) is tried again until @limit.
	int register_device(unsigned ifindex, unsigned rxq, unsigned entries,
	                    std::chrono::milliseconds limit) noexcept
	{
		auto end = std::chrono::steady_clock::now() + limit;
		for (;;) {
			int ret = zcuring_zcrx_register(r_->native(), ifindex, rxq, pool_, pool_len_, rq_mem_,
			                             rq_len_, entries, &reg_, &rq_);
			if (ret != -EEXIST || std::chrono::steady_clock::now() >= end)
				return ret;
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
	}

	ring *r_; // null once the ring is gone
	unsigned refs_ = 1;
	void *pool_ = nullptr;
	void *rq_mem_ = nullptr;
	std::size_t pool_len_ = 0;
	std::size_t rq_len_ = 0;
	io_uring_zcrx_ifq_reg reg_{};
	io_uring_zcrx_rq rq_{};
	std::size_t streams_ = 0;
	zcrx_mode mode_ = zcrx_mode::device_less;
	std::error_code device_error_;
};

// The multishot RECV_ZC request of one stream.
class rx_state final : public recv_state {
public:
	rx_state(zcrx_state &z, int fd, std::size_t limit)
	    : recv_state(*z.owner_ring(), z, ENOMEM), z_(z), fd_(fd), limit_(limit)
	{
		z_.ref();
		z_.stream_more();
	}
	~rx_state() override
	{
		z_.unstarve(this);
		z_.stream_less();
		z_.unref();
	}

	// For recv_stream.
	static bool has_data(const cqe &e) noexcept { return e.res > 0; }
	inline chunk chunk_of(const cqe &e) noexcept;

protected:
	void prep(io_uring_sqe *s) override
	{
		unsigned len = 0;
		if (limit_)
			len = static_cast<unsigned>(limit_ - received_);
		zcuring_prep_recv_zc(s, fd_, len, z_.id());
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
		if (e.res > 0)
			return took(static_cast<std::size_t>(e.res));
		if (e.res == -ENOSPC && !(e.flags & IORING_CQE_F_MORE)) {
			// The CQ was full: everything posted is in; go on.
			rearm();
			return false;
		}
		// -ENOMEM: the pool had no free chunk.
		return no_data(e);
	}

private:
	zcrx_state &z_;
	int fd_;
	// Bytes to receive before the stream ends (0: no limit).
	std::size_t limit_;
};

} // namespace detail

// Pool memory holding received bytes; returns itself to the fill ring.
// Move-only; size(), and reset() to give the memory back now.
class chunk : public detail::recv_chunk<detail::zcrx_state, std::uint64_t> {
public:
	chunk() = default;

	std::span<const std::byte> data() const noexcept { return {p_->at(id_), len_}; }
	// Where the bytes lie in the pool (zcrx::pool()): for sending them
	// on from a registered buffer.
	std::size_t pool_offset() const noexcept { return id_ & ~IORING_ZCRX_AREA_MASK; }

private:
	friend class detail::rx_state;
	chunk(detail::zcrx_state *z, std::uint64_t off, std::uint32_t len) noexcept
	    : recv_chunk(z, off, len)
	{
	}
};

// A chunk of pool memory for the CQE @e with data.
inline chunk detail::rx_state::chunk_of(const cqe &e) noexcept
{
	if (limit_ && received_ >= limit_)
		eof_ = true;
	return chunk(&z_, e.big[0], static_cast<std::uint32_t>(e.res));
}

// One socket's zero-copy receive, as a stream of chunks:
//   next_op next()           co_await gives result<chunk>; at the end, an
//                            error: errc::end_of_stream after EOF (or the
//                            byte limit), else what ended the request.
//                            .timeout() and .stop_with() (operation.hpp)
//                            end the wait with timed_out or
//                            operation_canceled; the request goes on, and
//                            what it delivers later is the next call's.
//   std::error_code status() why the stream ended: errc::end_of_stream,
//                            or an error
//   bool eof(), std::size_t bytes()
//   std::uint64_t rearms()   times the request was started again (after
//                            -ENOSPC or -ENOMEM)
//   void cancel()            end the request early; next() then returns
//                            its final result
class rx_stream : public detail::recv_stream<detail::rx_state, chunk> {
public:
	rx_stream(rx_stream &&) noexcept = default;
	rx_stream &operator=(rx_stream &&) noexcept = default;

private:
	friend class zcrx;
	explicit rx_stream(detail::rx_state *s) noexcept : recv_stream(s) {}
};

// A zero-copy receive instance: its pool and fill ring.
class zcrx {
public:
	// Throws std::system_error: errc::unsupported (with the reason) on a
	// kernel without it (see probe()), std::errc::invalid_argument for a
	// ring without 32-byte CQEs or DEFER_TASKRUN, the recv_errc of a
	// device that cannot have device mode (with zcrx_fallback::none, or on
	// a kernel with device mode only), else the registration's error. In
	// device mode it returns once the NIC has its carrier again (or after
	// zcrx_options::device_wait).
	explicit zcrx(ring &r, const zcrx_options &o = {}) : z_(new detail::zcrx_state(r, o))
	{
		r.adopt(z_);
	}
	zcrx(const zcrx &) = delete;
	zcrx &operator=(const zcrx &) = delete;
	~zcrx() { z_->unref(); }

	// Receive from TCP socket @fd; @limit > 0 ends after that many bytes.
	// Throws std::system_error (recv_errc::pool_too_small, with the
	// sizes) when the pool has no more pages than it would have streams:
	// each stream's request may keep a partly filled page, and the pool
	// could run dry with none of it held by the application.
	rx_stream receive(int fd, std::size_t limit = 0)
	{
		if (!z_->ring_open())
			throw std::system_error(errno_code(EBADF), "zcrx::receive(): its ring is gone");
		long page = ::sysconf(_SC_PAGESIZE);
		std::size_t pages = z_->pool_len() / static_cast<std::size_t>(page);
		std::size_t streams = z_->streams() + 1;
		if (pages <= streams)
			throw std::system_error(
			        make_error_code(recv_errc::pool_too_small),
			        "zcrx::receive(): a pool of " + std::to_string(z_->pool_len()) +
			                " bytes (" + std::to_string(pages) + " pages) for " +
			                std::to_string(streams) +
			                " streams: it needs more pages than streams, at least " +
			                std::to_string((streams + 1) * static_cast<std::size_t>(page)) +
			                " bytes (zcrx_options::pool_bytes)");
		return rx_stream(new detail::rx_state(*z_, fd, limit));
	}

	std::uint32_t id() const noexcept { return z_->id(); }
	// The pool, e.g. to register it as a fixed buffer for send_zc.
	std::span<std::byte> pool() const noexcept { return {z_->pool(), z_->pool_len()}; }
	// Received memory not yet given back (chunks alive, CQEs queued).
	std::uint64_t outstanding() const noexcept { return z_->held(); }
	// Fill-ring entries written so far: one per chunk.
	std::uint64_t returned() const noexcept { return z_->returned(); }
	// Streams whose request may still run (released ones included until
	// their last CQE): each may keep a partly filled page of the pool.
	std::size_t streams() const noexcept { return z_->streams(); }

	// Device mode, or device-less (asked for, or fallen back to).
	zcrx_mode mode() const noexcept { return z_->mode(); }
	// Why device mode was asked for and not had (zcrx_fallback::device_less),
	// else no error.
	std::error_code device_error() const noexcept { return z_->device_error(); }
	// Bytes received not copied and copied, since registration, as the
	// kernel counts them (from the ring's fdinfo: one small read, no
	// allocation). errc::unsupported: a kernel whose fdinfo does not show
	// them. Take the difference of two readings for one stretch of time.
	result<zcrx_counters> counters() const noexcept { return z_->counters(); }

private:
	detail::zcrx_state *z_;
};

} // namespace zcuring
