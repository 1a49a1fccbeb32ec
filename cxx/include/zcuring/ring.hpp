// SPDX-License-Identifier: MIT
// ring: one io_uring and the event loop that drives it, for one thread.
//
// Lifetimes: the rules of the whole library, stated once here.
//  1. What the kernel points at outlives the request. An awaitable (an
//     operation, a stream's next(), a zero-copy send) resumes its coroutine
//     only after every CQE that names it has come, its cancel's and its
//     timeout's included: once co_await returns, nothing in the kernel
//     points into the coroutine's frame.
//  2. A task that has started is destroyed only once it has finished, or
//     by its ring's destructor. Destroying it earlier terminates the
//     program with a message (task.hpp). run(t) keeps the rule for its own
//     @t: when the loop throws while @t is suspended, the ring takes @t
//     over, as if spawned and detached.
//  3. The ring frees what is left when it goes: its destructor closes the
//     io_uring first (the kernel then points at nothing), then destroys
//     the spawned tasks that have not finished (their locals with them)
//     and the states of released streams.
//  4. Handles may outlive the ring, and then do nothing harmful: a
//     join_handle becomes empty; a stream's state, a zcrx pool and its
//     chunks are shared with the ring, which detaches them when it goes
//     (a chunk given back then is only unmapped with the pool; its bytes
//     stay readable until then). Nothing that needs the ring works after
//     it is gone: zcrx::receive() throws. Awaitables are not handles: one
//     given .stop_with() holds its token's entry in the ring's table, and
//     a ring destroyed before it terminates the program with a message.
//  5. A stop callback never throws and never resumes a coroutine: a stop
//     request queues a cancel (the loop's next turn issues it when the SQ
//     is full), and the awaitable waits for its CQE.
//  6. One thread: a ring, its awaitables and their stop requests belong
//     to the thread that runs the loop (the ring is SINGLE_ISSUER).
//
// Discipline:
//  - An operation takes its SQE when it starts (in await_suspend), never
//    when the awaitable is built. A full SQ is submitted and the SQE taken
//    again; SQEs are otherwise submitted in one batch when the loop waits.
//  - Every CQE is copied out and the CQ head advanced before any
//    coroutine is resumed, so a resumed coroutine can neither see a
//    recycled CQE nor keep the kernel from posting.
//  - CQ overflow: the kernel keeps overflowed CQEs (IORING_FEAT_NODROP);
//    reaping flushes them, and a submit refused with -EBUSY reaps first.
//
// user_data: the low 3 bits say what the rest is. 0 and 1: a pointer to a
// detail::completion (1: an auxiliary CQE of it, such as its cancel or
// link timeout); 2..7: an extension of the ring (zero-copy notifications)
// that decodes the upper bits. user_data 0 is ignored.
#pragma once

#include <liburing.h>
#include <sys/resource.h>

#include <array>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <zcuring/detail/fifo.hpp>
#include <zcuring/detail/stop_hub.hpp>
#include <zcuring/detail/syscall.hpp>
#include <zcuring/result.hpp>
#include <zcuring/task.hpp>

namespace zcuring {

struct ring_options {
	unsigned entries = 256;    // SQ entries
	unsigned cq_entries = 0;   // 0: the kernel's default, twice the SQ
	bool cqe32 = false;        // 32-byte CQEs: needed by zero-copy receive
	bool defer_taskrun = true; // SINGLE_ISSUER | DEFER_TASKRUN when the kernel has them
	// Register the ring's own fd (IORING_REGISTER_RING_FDS, 5.18), so that
	// io_uring_enter() does no file lookup; kept off quietly where the
	// kernel refuses. ring::ring_fd_registered() says which.
	bool register_ring_fd = true;
	// A sparse table of this many direct descriptors (fixed files), for
	// accept_direct_stream and fixed_file operations; 0: none. The kernel
	// allows no more than RLIMIT_NOFILE. liburing raises the soft limit
	// by the table's size, which fails near the hard limit (a VM's 1024
	// soft, 4096 hard refuses 4096); then the soft limit goes up to this
	// many, or to the hard limit and the table shrinks to it. Kept off
	// quietly where the kernel still refuses; ring::fixed_files() says
	// how many.
	unsigned fixed_files = 0;
};

// A CQE, copied out of the ring.
struct cqe {
	std::uint64_t user_data = 0;
	std::int32_t res = 0;
	std::uint32_t flags = 0;
	std::uint64_t big[2] = {}; // the upper half of a 32-byte CQE
};

class ring;

namespace detail {

// What a CQE is delivered to. Lives until its last CQE has arrived.
struct alignas(8) completion {
	using handler = void (*)(completion *, const cqe &, unsigned tag);
	explicit completion(handler h) noexcept : on_cqe(h) {}
	handler on_cqe;
};

inline constexpr unsigned tag_bits = 3;
inline constexpr std::uint64_t tag_mask = (1u << tag_bits) - 1;
inline constexpr unsigned tag_main = 0;
inline constexpr unsigned tag_aux = 1;

inline std::uint64_t encode(completion *c, unsigned tag) noexcept
{
	return reinterpret_cast<std::uintptr_t>(c) | tag;
}

// CQEs whose user_data tag is 2..7 go to the ring extension of that tag.
struct extension {
	virtual ~extension() = default;
	virtual void on_cqe(const cqe &c) = 0;
};

// Something the ring frees when it is destroyed, unless it was unlinked
// first: a spawned coroutine that has not finished, the state of a
// released stream still waiting for its final CQE.
struct ring_node {
	using destroyer = void (*)(ring_node *) noexcept;
	ring_node *prev = nullptr;
	ring_node *next = nullptr;
	destroyer destroy_with_ring = nullptr;
	bool linked() const noexcept { return next && next != this; }
};

struct node_list {
	ring_node head_{};

	node_list() noexcept { head_.prev = head_.next = &head_; }
	void link(ring_node *n) noexcept
	{
		n->next = head_.next;
		n->prev = &head_;
		head_.next->prev = n;
		head_.next = n;
	}
	static void unlink(ring_node *n) noexcept
	{
		n->prev->next = n->next;
		n->next->prev = n->prev;
		n->prev = n->next = n;
	}
	void destroy_all() noexcept
	{
		while (head_.next != &head_) {
			ring_node *n = head_.next;
			unlink(n);
			n->destroy_with_ring(n);
		}
	}
};

// Work that wanted an SQE when none could be had without submitting (a
// cancel asked for by a stop callback, which must not throw): the loop's
// next turn calls issue(), where taking an SQE may submit. The owner keeps
// it linked until then, and unlinks it if it goes first.
struct deferred {
	deferred *prev = nullptr;
	deferred *next = nullptr;
	void (*issue)(deferred *) = nullptr;
	void *owner = nullptr;
	bool linked() const noexcept { return next != nullptr; }
	void unlink() noexcept
	{
		if (!next)
			return;
		prev->next = next;
		next->prev = prev;
		prev = next = nullptr;
	}
};

template <class T>
struct spawn_promise;

// A coroutine that owns itself: it frees its frame when done, or the ring
// frees it (with its locals) when the ring goes first.
struct detached {
	struct promise_type;
	using handle = std::coroutine_handle<promise_type>;

	struct promise_type final : ring_node {
		promise_type() noexcept
		{
			destroy_with_ring = [](ring_node *n) noexcept {
				handle::from_promise(*static_cast<promise_type *>(n)).destroy();
			};
		}
		detached get_return_object() noexcept { return {handle::from_promise(*this)}; }
		std::suspend_always initial_suspend() const noexcept { return {}; }
		auto final_suspend() const noexcept
		{
			struct awaiter {
				bool await_ready() const noexcept { return false; }
				void await_suspend(handle self) const noexcept
				{
					node_list::unlink(&self.promise());
					self.destroy();
				}
				void await_resume() const noexcept {}
			};
			return awaiter{};
		}
		void return_void() const noexcept {}
		void unhandled_exception() const noexcept { std::terminate(); }
	};
	handle h;
};

// Waits for a task already started elsewhere, without resuming it.
template <class P>
struct done_awaiter {
	std::coroutine_handle<P> h;
	bool await_ready() const noexcept { return h.done(); }
	void await_suspend(std::coroutine_handle<> c) const noexcept
	{
		h.promise().continuation = c;
	}
	void await_resume() const noexcept {}
};

} // namespace detail

template <class T = void>
class join_handle;

class ring {
public:
	explicit ring(const ring_options &o = {})
	{
		io_uring_params p;
		std::memset(&p, 0, sizeof(p));
		if (o.cq_entries) {
			p.flags |= IORING_SETUP_CQSIZE;
			p.cq_entries = o.cq_entries;
		}
		if (o.cqe32)
			p.flags |= IORING_SETUP_CQE32;
		int ret = -EINVAL;
		if (o.defer_taskrun) {
			io_uring_params q = p;
			q.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
			ret = io_uring_queue_init_params(o.entries, &ring_, &q);
			if (!ret)
				p = q;
		}
		if (ret == -EINVAL)
			ret = io_uring_queue_init_params(o.entries, &ring_, &p);
		if (ret < 0)
			throw std::system_error(errno_code(-ret), "io_uring_setup");
		features_ = p.features;
		flags_ = p.flags;
		// get_sqe() takes SQEs as io_uring_get_sqe() does for this setup.
		static_assert(sizeof(io_uring_sqe) == 64);
		if (flags_ & (IORING_SETUP_SQPOLL | IORING_SETUP_SQE128)) {
			io_uring_queue_exit(&ring_);
			throw std::system_error(errno_code(EINVAL), "io_uring_setup: unexpected flags");
		}
		// Both are optimisations: a kernel without them (or out of
		// RLIMIT_NOFILE for the table) still gets a working ring.
		if (o.register_ring_fd)
			ring_fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
		// enter() enters by ring_.enter_ring_fd: the registered index
		// once registered.
		enter_flags_ = IORING_ENTER_GETEVENTS |
		               (ring_fd_registered_ ? IORING_ENTER_REGISTERED_RING : 0u);
		if (o.fixed_files)
			fixed_files_ = register_sparse_files(o.fixed_files);
	}
	ring(const ring &) = delete;
	ring &operator=(const ring &) = delete;
	// Closes the io_uring first, so the kernel no longer points at
	// anything, then frees spawned tasks that have not finished (their
	// join_handles become empty) and the states of released streams,
	// detaches the states of streams and pools still owned (lifetime rule
	// 4), then frees the extensions.
	~ring()
	{
		io_uring_queue_exit(&ring_);
		closed_ = true;
		// What waits for an SQE lives in frames freed below.
		while (deferred_.next != &deferred_)
			deferred_.next->unlink();
		detail::teardown_depth++;
		nodes_.destroy_all();
		detail::teardown_depth--;
		// Every awaitable of the ring is gone now, unless one outlives
		// it (rule 4): it would unpin a freed table.
		if (stops_.pinned())
			detail::die_outlived_ring();
		stops_.detach_all();
	}

	// True once the destructor has closed the io_uring: destructors that
	// would cancel a request skip it then.
	bool closed() const noexcept { return closed_; }

	// The stop tokens its awaitables watch (detail/stop_hub.hpp).
	detail::stop_hub &stops() noexcept { return stops_; }

	// Keep @n until it unlinks itself (node_list::unlink) or the ring goes.
	void adopt(detail::ring_node *n) noexcept { nodes_.link(n); }

	// The liburing ring. Do not register or unregister its fd through
	// it: the loop enters by the registered index when the constructor
	// registered it (ring_fd_registered()), and by the fd otherwise.
	io_uring *native() noexcept { return &ring_; }
	int fd() const noexcept { return ring_.ring_fd; }
	std::uint32_t features() const noexcept { return features_; }
	// ring_options::register_ring_fd took effect.
	bool ring_fd_registered() const noexcept { return ring_fd_registered_; }
	// Size of the direct descriptor table (ring_options::fixed_files); 0:
	// none, fixed_file operations and accept_direct_stream cannot be used.
	unsigned fixed_files() const noexcept { return fixed_files_; }
	std::uint32_t setup_flags() const noexcept { return flags_; }
	bool cqe32() const noexcept { return flags_ & IORING_SETUP_CQE32; }

	// An SQE for an operation starting now; submits a full SQ first.
	[[gnu::always_inline]] io_uring_sqe *get_sqe()
	{
		io_uring_sqe *s = try_get_sqe();
		if (!s) [[unlikely]]
			s = get_sqes(1);
		return s;
	}

	// The first of @n adjacent SQEs (a linked pair must not be split by a
	// submit): the caller takes the other n-1 with io_uring_get_sqe().
	[[gnu::noinline]] io_uring_sqe *get_sqes(unsigned n)
	{
		while (io_uring_sq_space_left(&ring_) < n)
			flush_sq();
		io_uring_sqe *s = io_uring_get_sqe(&ring_);
		io_uring_sqe_set_data64(s, 0);
		return s;
	}

	// An SQE if the SQ has room, else null; never submits, never throws
	// (for stop callbacks: see defer()).
	[[gnu::always_inline]] io_uring_sqe *try_get_sqe() noexcept
	{
		// io_uring_get_sqe() for this ring's setup (no SQPOLL, 64-byte
		// SQEs: the constructor checks), inline.
		io_uring_sq &sq = ring_.sq;
		unsigned tail = sq.sqe_tail;
		if (tail + 1 - IO_URING_READ_ONCE(*sq.khead) > sq.ring_entries) [[unlikely]]
			return nullptr;
		io_uring_sqe *s = &sq.sqes[tail & sq.ring_mask];
		sq.sqe_tail = tail + 1;
		io_uring_sqe_set_data64(s, 0);
		return s;
	}

	// Call @d->issue from the loop's next turn, before it submits.
	void defer(detail::deferred &d) noexcept
	{
		if (d.linked())
			return;
		d.prev = deferred_.prev;
		d.next = &deferred_;
		deferred_.prev->next = &d;
		deferred_.prev = &d;
		stats_.deferred++;
	}

	// Resume @h from the loop, after what is already queued.
	void post(std::coroutine_handle<> h) { ready_.push(h); }

	// Start @t on this ring now (it runs from the loop's next turn) and
	// return its handle: co_await it for @t's value (or exception), or
	// drop it (or detach()) to let @t run on. An exception that leaves a
	// detached task is rethrown from run() and step().
	template <class T>
	join_handle<T> spawn(task<T> t);

	// Run the loop until @t completes; its value or exception comes back.
	// If the loop throws first (a detached task failed), @t is left to
	// the ring, as a detached task (lifetime rule 2).
	template <class T>
	T run(task<T> t)
	{
		auto h = t.handle();
		post(h);
		try {
			while (!h.done())
				step();
		} catch (...) {
			if (!h.done())
				take_over(std::move(t));
			throw;
		}
		return std::move(t).operator co_await().await_resume();
	}

	// Run the loop until every spawned task has finished; rethrow the
	// first exception of a detached task.
	void run()
	{
		while (live_)
			step();
		rethrow_failure();
	}

	// Spawned tasks not yet finished.
	std::size_t live() const noexcept { return live_; }

	// One turn of the loop: resume what is ready, then submit and reap
	// (waiting only when nothing was ready), then dispatch copied CQEs.
	void step()
	{
		bool ran = !ready_.empty();
		for (std::size_t n = ready_.size(); n; n--)
			ready_.pop().resume();
		rethrow_failure();
		if (pending_.empty()) {
			if (run_deferred())
				ran = true;
			// Issuing a deferred SQE may have reaped (a full SQ):
			// those CQEs go first, and the loop's enter can wait.
			if (pending_.empty()) {
				enter(!ran && ready_.empty());
				reap_and_dispatch();
			}
		}
		while (!pending_.empty())
			dispatch(pending_.pop());
		rethrow_failure();
	}

	// Submit queued SQEs now.
	void submit() { flush_sq(); }

	// The ring extension of type E (its tag is E::tag), made on first use.
	template <class E>
	E &extension()
	{
		static_assert(E::tag >= 2 && E::tag <= detail::tag_mask);
		auto &p = ext_[E::tag];
		if (!p)
			p = std::make_unique<E>(*this);
		return static_cast<E &>(*p);
	}
	template <class E>
	E *find_extension() noexcept
	{
		return static_cast<E *>(ext_[E::tag].get());
	}

	// Counters, for tests and benchmarks.
	struct counters {
		std::uint64_t cqes = 0;
		std::uint64_t enters = 0;
		std::uint64_t sq_full = 0;
		std::uint64_t busy = 0;
		std::uint64_t deferred = 0; // SQEs left to the next turn (SQ full)
	};
	const counters &stats() const noexcept { return stats_; }

private:
	template <class T>
	friend struct detail::spawn_promise;
	template <class T>
	friend class join_handle;

	// Keep a started task that run() gives up on until it finishes.
	template <class T>
	static detail::detached keep_running(ring &r, task<T> t)
	{
		co_await detail::done_awaiter<typename task<T>::promise_type>{t.handle()};
		try {
			(void)std::move(t).operator co_await().await_resume();
		} catch (...) {
			r.fail(std::current_exception());
		}
		--r.live_;
	}

	template <class T>
	void take_over(task<T> t) noexcept
	{
		auto d = keep_running(*this, std::move(t));
		++live_;
		adopt(&d.h.promise());
		d.h.resume(); // only waits
	}

	// The table of ring_options::fixed_files: its size, 0 if refused.
	// Out of RLIMIT_NOFILE (-EMFILE): the soft limit goes up to @n, or
	// to the hard limit and the table shrinks to it.
	unsigned register_sparse_files(unsigned n) noexcept
	{
		int ret = io_uring_register_files_sparse(&ring_, n);
		rlimit rl;
		if (ret != -EMFILE || ::getrlimit(RLIMIT_NOFILE, &rl))
			return ret == 0 ? n : 0;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
			n = static_cast<unsigned>(rl.rlim_max);
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n) {
			rl.rlim_cur = n;
			if (::setrlimit(RLIMIT_NOFILE, &rl))
				return 0;
		}
		return n && io_uring_register_files_sparse(&ring_, n) == 0 ? n : 0;
	}

	void fail(std::exception_ptr e) noexcept
	{
		if (!failure_)
			failure_ = std::move(e);
	}

	bool run_deferred()
	{
		if (deferred_.next == &deferred_)
			return false;
		while (deferred_.next != &deferred_) {
			detail::deferred *d = deferred_.next;
			d->unlink();
			d->issue(d);
		}
		return true;
	}

	void rethrow_failure()
	{
		if (failure_)
			std::rethrow_exception(std::exchange(failure_, nullptr));
	}

	void flush_sq()
	{
		if (!io_uring_sq_space_left(&ring_))
			stats_.sq_full++;
		for (;;) {
			int ret = io_uring_submit(&ring_);
			stats_.enters++;
			if (ret >= 0)
				return;
			if (ret == -EINTR)
				continue;
			if (ret == -EBUSY || ret == -EAGAIN) {
				// The CQ (and its overflow list) is full: make room.
				stats_.busy++;
				reap();
				continue;
			}
			throw std::system_error(errno_code(-ret), "io_uring_enter");
		}
	}

	// The loop's io_uring_enter: what io_uring_submit_and_wait(1) (or
	// io_uring_submit_and_get_events()) does for this ring's setup, inline:
	// no SQPOLL (the constructor refuses it), and an SQ array that is the
	// identity (liburing 2.3 to 2.5 set it up so at init) or none
	// (IORING_SETUP_NO_SQARRAY, liburing 2.6 on newer kernels).
	// liburing's generic path cost about 28 instructions more a call
	// (host callgrind, g++ -O2), and the loop enters once or twice a
	// request at low load.
	void enter(bool wait)
	{
		io_uring_sq &sq = ring_.sq;
		unsigned tail = sq.sqe_tail;
		if (sq.sqe_head != tail) {
			sq.sqe_head = tail;
			// The SQEs are written before the kernel sees the tail.
			io_uring_smp_store_release(sq.ktail, tail);
		}
		// The kernel moves the head only inside io_uring_enter.
		unsigned n = tail - *sq.khead;
		if (!wait && !n && !(flags_ & IORING_SETUP_DEFER_TASKRUN))
			return;
		int ret = detail::sys_io_uring_enter(ring_.enter_ring_fd, n, wait, enter_flags_);
		stats_.enters++;
		if (ret >= 0) [[likely]]
			return;
		if (ret == -EBUSY || ret == -EAGAIN)
			stats_.busy++;
		else if (ret != -EINTR && ret != -ETIME)
			throw std::system_error(errno_code(-ret), "io_uring_enter");
	}

	// The CQ is read in place: each CQE is copied out and the head
	// advanced past it before its completion runs (the discipline at the
	// top), with no batch in between. The kernel may hold CQEs back
	// (overflow; task work under DEFER_TASKRUN): an empty CQ flushes them
	// once, as io_uring_peek_batch_cqe() would.
	bool cq_held_back() const noexcept
	{
		return IO_URING_READ_ONCE(*ring_.sq.kflags) &
		       (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
	}

	// The CQ's shared words and entries, read once per reap into locals
	// (completions run in between: members would be reloaded each time).
	struct cq_view {
		const io_uring_cqe *cqes;
		unsigned *khead;
		const unsigned *ktail;
		unsigned mask;
		bool big; // 32-byte CQEs

		explicit cq_view(io_uring &r) noexcept
		    : cqes(r.cq.cqes), khead(r.cq.khead), ktail(r.cq.ktail), mask(r.cq.ring_mask),
		      big(r.flags & IORING_SETUP_CQE32)
		{
		}
		unsigned head() const noexcept { return *khead; }
		unsigned tail() const noexcept { return io_uring_smp_load_acquire(ktail); }
		// Copy the CQE at @h out and advance the CQ past it.
		void take(unsigned h, cqe &out) const noexcept
		{
			const io_uring_cqe *c = &cqes[(h & mask) << big];
			out.user_data = c->user_data;
			out.res = c->res;
			out.flags = c->flags;
			if (big) {
				out.big[0] = c->big_cqe[0];
				out.big[1] = c->big_cqe[1];
			}
			io_uring_smp_store_release(khead, h + 1);
		}
	};

	// The CQ is empty: flush what the kernel holds back, once per reap.
	bool refill(bool &flushed)
	{
		if (flushed || !cq_held_back())
			return false;
		io_uring_get_events(&ring_);
		flushed = true;
		return true;
	}

	// Take CQEs one at a time, each copied out and the head advanced
	// past it before @f sees it, until the CQ is empty (what the kernel
	// held back flushed once). With @Dispatching (the loop's reap), also
	// stop once a completion has reaped the rest into pending_ (a full
	// SQ): step() dispatches those next, in CQ order. A completion that
	// throws leaves the CQEs after its own in the CQ, for the next turn.
	// Inline: the loop's reap is most of a turn's own work, and called it
	// costs a frame and the CQ's words loaded again (about 35
	// instructions a turn).
	template <bool Dispatching, class F>
	[[gnu::always_inline]] void drain_cq(F &&f)
	{
		const cq_view cq(ring_);
		bool flushed = false;
		unsigned head = cq.head();
		for (;;) {
			unsigned tail = cq.tail();
			if (head == tail) {
				if (refill(flushed))
					continue;
				return;
			}
			do {
				cqe c;
				cq.take(head, c);
				stats_.cqes++;
				f(c);
				// Only a completion that ran the loop (run() from
				// a coroutine) or reaped (a full SQ) moves the head:
				// maybe past this tail, so read both again. Only a
				// reap fills pending_, so it is looked at only here.
				if (cq.head() != ++head) [[unlikely]] {
					if (Dispatching && !pending_.empty())
						return;
					head = cq.head();
					break;
				}
			} while (head != tail);
		}
	}

	// Copy every available CQE out to pending_ and advance the CQ (when
	// taking an SQE finds the SQ full: nothing is dispatched here).
	void reap()
	{
		drain_cq<false>([this](const cqe &c) { pending_.push(c); });
	}

	// The loop's reap: each CQE dispatched as it is taken.
	[[gnu::always_inline]] void reap_and_dispatch()
	{
		drain_cq<true>([this](const cqe &c) { dispatch(c); });
	}

	void dispatch(const cqe &c)
	{
		unsigned tag = c.user_data & detail::tag_mask;
		if (tag <= detail::tag_aux) [[likely]] {
			auto *comp = reinterpret_cast<detail::completion *>(
			        static_cast<std::uintptr_t>(c.user_data & ~detail::tag_mask));
			if (comp) // user_data 0 (and 1) name no one
				comp->on_cqe(comp, c, tag);
		} else if (ext_[tag]) {
			ext_[tag]->on_cqe(c);
		}
	}

	io_uring ring_{};
	bool closed_ = false;
	detail::node_list nodes_;
	std::uint32_t features_ = 0;
	bool ring_fd_registered_ = false;
	unsigned fixed_files_ = 0;
	std::uint32_t flags_ = 0;
	unsigned enter_flags_ = IORING_ENTER_GETEVENTS; // enter()'s
	detail::fifo<std::coroutine_handle<>> ready_{64};
	detail::fifo<cqe> pending_{256};
	std::size_t live_ = 0;
	std::exception_ptr failure_;
	detail::deferred deferred_{&deferred_, &deferred_, nullptr, nullptr};
	detail::stop_hub stops_;
	counters stats_;
	std::array<std::unique_ptr<detail::extension>, detail::tag_mask + 1> ext_;
};

namespace detail {

// Where a spawned task's value waits for its join.
template <class T>
struct spawn_value {
	template <class U>
	void return_value(U &&v)
	{
		value.emplace(std::forward<U>(v));
	}
	T take() { return std::move(*value); }
	std::optional<T> value;
};
template <>
struct spawn_value<void> {
	void return_void() const noexcept {}
	void take() const noexcept {}
};

// The frame that runs a spawned task: the ring's (a ring_node) until it
// is freed, by its own end when detached, by its join_handle once
// finished and joined or dropped, or by the ring's destructor.
template <class T>
struct spawned {
	using promise_type = spawn_promise<T>;
	std::coroutine_handle<promise_type> h;
};

template <class T>
struct spawn_promise final : ring_node, spawn_value<T> {
	using handle = std::coroutine_handle<spawn_promise>;

	spawn_promise() noexcept
	{
		destroy_with_ring = [](ring_node *n) noexcept {
			auto *p = static_cast<spawn_promise *>(n);
			if (p->owner)
				p->owner->p_ = nullptr;
			handle::from_promise(*p).destroy();
		};
	}
	spawned<T> get_return_object() noexcept { return {handle::from_promise(*this)}; }
	std::suspend_always initial_suspend() const noexcept { return {}; }
	auto final_suspend() const noexcept
	{
		struct awaiter {
			bool await_ready() const noexcept { return false; }
			std::coroutine_handle<> await_suspend(handle self) const noexcept
			{
				spawn_promise &p = self.promise();
				p.finished = true;
				--p.r->live_;
				if (!p.owner) {
					// detached: a failure goes to run()
					if (p.error)
						p.r->fail(p.error);
					node_list::unlink(&p);
					self.destroy();
					return std::noop_coroutine();
				}
				if (p.joiner)
					return std::exchange(p.joiner, {});
				return std::noop_coroutine();
			}
			void await_resume() const noexcept {}
		};
		return awaiter{};
	}
	void unhandled_exception() noexcept { error = std::current_exception(); }

	// Free a finished frame (its join_handle's part).
	void free() noexcept
	{
		node_list::unlink(this);
		handle::from_promise(*this).destroy();
	}

	ring *r = nullptr;
	join_handle<T> *owner = nullptr; // null: detached
	std::coroutine_handle<> joiner;  // the coroutine awaiting the join
	std::exception_ptr error;
	bool finished = false;
};

template <class T>
spawned<T> run_spawned(task<T> t)
{
	if constexpr (std::is_void_v<T>)
		co_await std::move(t);
	else
		co_return co_await std::move(t);
}

} // namespace detail

// A spawned task: co_await it (once) for the task's value, or its
// exception; or detach() it, or drop it, which detaches. Empty once joined
// or detached, and when the ring is destroyed before the task finished.
template <class T>
class join_handle {
public:
	join_handle() = default;
	join_handle(join_handle &&o) noexcept : p_(std::exchange(o.p_, nullptr))
	{
		if (p_)
			p_->owner = this;
	}
	join_handle &operator=(join_handle &&o) noexcept
	{
		if (this != &o) {
			detach();
			p_ = std::exchange(o.p_, nullptr);
			if (p_)
				p_->owner = this;
		}
		return *this;
	}
	join_handle(const join_handle &) = delete;
	join_handle &operator=(const join_handle &) = delete;
	~join_handle() { detach(); }

	// Not joined, not detached, and the ring is still there.
	bool valid() const noexcept { return p_ != nullptr; }
	// The task has finished; co_await will not suspend.
	bool done() const noexcept { return p_ && p_->finished; }

	// Let the task run on its own. Its exception, if it has one or gets
	// one, comes out of the ring's run() and step().
	void detach() noexcept
	{
		auto *p = std::exchange(p_, nullptr);
		if (!p)
			return;
		p->owner = nullptr;
		if (!p->finished)
			return;
		if (p->error)
			p->r->fail(p->error);
		p->free();
	}

	// The task's value, or its exception rethrown. The handle must be
	// valid(); it is empty afterwards.
	auto operator co_await() &&noexcept
	{
		struct awaiter {
			join_handle *self;
			bool await_ready() const noexcept { return self->p_->finished; }
			void await_suspend(std::coroutine_handle<> c) const noexcept
			{
				self->p_->joiner = c;
			}
			T await_resume()
			{
				auto *p = std::exchange(self->p_, nullptr);
				struct freer {
					detail::spawn_promise<T> *p;
					~freer() { p->free(); }
				} f{p};
				if (p->error)
					std::rethrow_exception(p->error);
				return p->take();
			}
		};
		return awaiter{this};
	}

private:
	friend struct detail::spawn_promise<T>;
	friend class ring;
	detail::spawn_promise<T> *p_ = nullptr;
};

template <class T>
join_handle<T> ring::spawn(task<T> t)
{
	auto s = detail::run_spawned(std::move(t));
	auto &p = s.h.promise();
	p.r = this;
	++live_;
	adopt(&p);
	post(s.h);
	join_handle<T> j;
	j.p_ = &p;
	p.owner = &j;
	return j; // a move (or elision) sets owner again
}

} // namespace zcuring
