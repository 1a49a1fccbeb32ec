// SPDX-License-Identifier: MIT
// Zero-copy send in two phases:
//
//   auto sent = co_await async_send_zc(r, fd, buf);   // the send's result
//   ...                                               // buf must stay put
//   auto note = co_await std::move(sent.release);     // buf reusable now
//
// With per-request notifications (stock IORING_OP_SEND_ZC) every send gets
// one. With notification slots (the zcuring series) the sends bound to a
// slot share a notification per generation; the slot closes a generation
// every flush_every sends, and awaiting the release of a generation still
// open closes it at once with IORING_OP_SEND_ZC_FLUSH (no socket, nothing
// on the wire).
//
// A send takes .timeout() and .stop_with() as every operation does
// (operation.hpp). A slot send that was cancelled or timed out still
// belongs to its generation (the kernel's rule: it joined when it was
// prepared), so its release is awaited like any other.
//
// A release that is dropped unawaited is fine: the notification is then
// consumed by the ring. Nothing here allocates per send once the tables
// have grown to the number of sends in flight.
#pragma once

#include <liburing.h>

#include <zcuring/zc_slots.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <system_error>
#include <utility>
#include <vector>

#include <zcuring/features.hpp>
#include <zcuring/ops.hpp>

namespace zcuring {

// What a notification says.
struct zc_notification {
	// Per-request: the kernel copied some of the data (REPORT_USAGE).
	// Slots report copies per slot instead (zc_slots::stats()).
	bool copied = false;
};

struct zc_options {
	int msg_flags = 0;
	// The data lies in registered buffer buf_index (IORING_RECVSEND_FIXED_BUF).
	std::optional<unsigned> buf_index{};
	// Ask the kernel whether it had to copy (detail::send_zc_report_usage).
	bool report_usage = true;
	// Wait for the socket to be writable before trying to send
	// (IORING_RECVSEND_POLL_FIRST).
	bool poll_first = false;
};

namespace detail {

// Since Linux 6.2 and in the zcuring series; liburing 2.3's io_uring.h
// predates them.
inline constexpr unsigned send_zc_report_usage = IORING_SEND_ZC_REPORT_USAGE; // <zcuring/compat.h>
inline constexpr std::uint32_t notif_usage_zc_copied = IORING_NOTIF_USAGE_ZC_COPIED;
inline constexpr std::uint32_t gen_mask = 0x7fffffffu;           // REPORT_USAGE takes bit 31

// Per-request notifications: entries indexed by the upper bits of the
// user_data of SEND_ZC requests (tag 2). An entry lives from the send's
// start until both its notification has come and its release is gone.
struct zc_notif_table final : extension {
	static constexpr unsigned tag = 2;
	static constexpr std::uint32_t none = UINT32_MAX;

	struct entry {
		completion *sender = nullptr;
		std::coroutine_handle<> waiter;
		std::int32_t res = 0;
		bool notified = false;
		bool dropped = false; // its release is gone
		std::uint32_t next_free = none;
	};

	explicit zc_notif_table(ring &) {}

	std::uint32_t alloc(completion *sender)
	{
		std::uint32_t i = free_;
		if (i == none) {
			i = static_cast<std::uint32_t>(e_.size());
			e_.emplace_back();
		} else {
			free_ = e_[i].next_free;
		}
		e_[i] = entry{};
		e_[i].sender = sender;
		return i;
	}

	void free(std::uint32_t i) noexcept
	{
		e_[i].next_free = free_;
		free_ = i;
	}

	entry &at(std::uint32_t i) noexcept { return e_[i]; }

	static std::uint64_t user_data(std::uint32_t i) noexcept
	{
		return (std::uint64_t(i) << tag_bits) | tag;
	}

	void on_cqe(const cqe &c) override
	{
		auto i = static_cast<std::uint32_t>(c.user_data >> tag_bits);
		entry &e = e_[i];
		if (c.flags & IORING_CQE_F_NOTIF) {
			e.notified = true;
			e.res = c.res;
			if (e.dropped)
				free(i);
			else if (auto w = std::exchange(e.waiter, {}))
				w.resume();
			return;
		}
		// The send's own CQE. Without F_MORE no notification follows.
		if (!(c.flags & IORING_CQE_F_MORE))
			e.notified = true;
		completion *s = std::exchange(e.sender, nullptr);
		s->on_cqe(s, c, tag_main);
	}

	std::vector<entry> e_;
	std::uint32_t free_ = none;
};

// A coroutine waiting for a slot's generation; lives in its zc_release.
struct zc_slot_waiter {
	std::uint32_t gen = 0;
	std::coroutine_handle<> h;
	zc_slot_waiter *next = nullptr;
	int err = 0; // the flush that was to close the generation failed
};

// One notification slot as user space follows it, and the whole slot
// protocol: a send joins the open generation (join), a generation is
// closed by the flush flag of a send or by IORING_OP_SEND_ZC_FLUSH
// (close, the only place that ends a generation here; flush), a release
// waits for its generation (wait), and the notification completes it
// (on_notification).
//
// Two numberings. Releases and waiters hold *user* numbers, which advance
// by one at every close made here. Notifications carry the *kernel's*
// numbers, which advance only when the kernel really closed a generation
// that held sends. They differ after a send the kernel refused when it
// prepared it (-EINVAL, -EFAULT, -ENOMEM...): it joined nothing, so its
// flush flag closed nothing there (a "phantom" close), and neither does a
// flush of a generation whose only sends were refused (-ENODATA). Every
// kernel close is a close here, so each user generation's sends lie in
// one kernel generation, and kernel = user - d with a d that only grows.
//
// d is known at anchors: the CQE of a flush says which kernel generation
// it closed, so a flush issued to close user generation u that answers k
// pins u to k. Between two anchors (u0,k0) and (u1,k1) there are
// p = (u1-u0) - (k1-k0) phantom closes; with p = 0 the mapping is exact,
// else user generation u0+j lies in one of the kernel generations
// k0+1+max(0,j-1-p) .. k0+1+min(j-1,k1-k0-1), and its release waits for
// all of them (late, never early; all are closed at the anchor). After
// the last anchor the mapping is exact, kernel = user - d_.
//
// A CQE that may tell of a refusal (an ambiguous error of a slot send,
// -ENODATA from a flush; the kernel posts it when it refuses, before any
// later generation can complete) makes the slot resynchronise: a marker
// send (fd -1, no data: it joins, then fails with -EBADF at issue) and a
// flush right after it, which therefore always closes a generation and
// answers its number: a new anchor. Until that CQE comes, the generations
// after the previous anchor wait. This costs two SQEs and three CQEs (the
// marker generation's notification too) per error; the error-free path
// is the one of before plus one compare, and allocates nothing.
//
// CQEs of the slot carry tag 3. Notifications: the slot's registered tag
// (its index above the tag bits) and F_NOTIF. The slot's own SQEs (flush,
// marker): bit 63, the index, bit 31 for the marker, and from bit 32 the
// user generation they close. Slot sends: the zc_send_op, bit 63 clear.
class zc_slot_state {
public:
	static constexpr unsigned tag = 3;
	static constexpr std::uint64_t ud_own = std::uint64_t(1) << 63;
	static constexpr std::uint64_t ud_marker = std::uint64_t(1) << 31;

	// (Re)start numbering at @first for a registration of the slots. The
	// kernel numbers from @first too; @first is past every user number
	// used before, so past every kernel number as well.
	void start(ring &r, std::uint16_t index, std::uint32_t first, unsigned flush_every)
	{
		r_ = &r;
		index_ = index;
		flush_every_ = flush_every ? flush_every : 1;
		registered_ = true;
		in_open_ = 0;
		std::uint32_t e = (first - 1) & gen_mask;
		anchor ep{e, e, true, false, false, 0};
		if (anchors_.empty() || quiet()) {
			// nothing outstanding: jump
			std::fill(done_bits_.begin(), done_bits_.end(), 0);
			anchors_.clear();
			done_base_ = first;
		} else if (!anchors_.back().pending && !anchors_.back().failed) {
			// The kernel numbers after the last anchor were never
			// used (stop resynchronised, or nothing joined since it).
			mark_range((anchors_.back().k + 1) & gen_mask, first);
		} // else: marked when that last resynchronisation answers
		anchors_.push_back(ep);
		open_ = first;
		d_ = 0;
	}

	// Before the slots are unregistered: if anything joined since the
	// last anchor, resynchronise, so that the CQEs of this registration
	// still to come (a refusal among them) find everything anchored.
	void retire()
	{
		const anchor &b = anchors_.back();
		if (in_open_ || b.pending || open_ != ((b.u + 1) & gen_mask))
			resync();
	}

	// Unregistered: the kernel closed its open generation.
	void stop() noexcept
	{
		registered_ = false;
		close();
	}

	std::uint64_t tag_of() const noexcept { return (std::uint64_t(index_) << tag_bits) | tag; }

	struct joined {
		std::uint32_t gen;
		bool flush; // the send's SQE closes the generation (SLOT_FLUSH)
	};

	// A send bound to the slot is being submitted: it joins the open
	// generation, and closes it if it is the flush_every-th.
	joined join() noexcept
	{
		joined j{open_, ++in_open_ >= flush_every_};
		if (j.flush)
			close();
		return j;
	}

	// Close the open generation now with IORING_OP_SEND_ZC_FLUSH. False
	// if it holds no sends (nothing to close: the kernel would answer
	// -ENODATA). The SQE is taken before anything changes.
	bool flush()
	{
		if (!in_open_)
			return false;
		io_uring_sqe *sqe = r_->get_sqe();
		prep_flush(sqe);
		close();
		return true;
	}

	// Nothing can still use the pages of generation @g's sends.
	bool released(std::uint32_t g) const noexcept { return state(g) != 0; }

	// Wait for generation @g, closing it first if it is still open.
	void wait(zc_slot_waiter &w, std::uint32_t g, std::coroutine_handle<> h)
	{
		if (g == open_)
			flush();
		w = {g, h, waiters_, 0};
		waiters_ = &w;
	}

	// Kernel generation @k's notification.
	void on_notification(std::uint32_t k, bool copied)
	{
		notifications_++;
		if (copied)
			copied_++;
		mark_done(k);
		if (anchors_.size() > 1)
			prune();
		wake_settled();
	}

	// The CQE of a slot send of user generation @g, before the send sees
	// it. These errors can come from the checks made before a send joins
	// (io_init_req and the prep; the CQE alone does not tell whether the
	// send failed there or later, when it had joined).
	void on_send_result(std::uint32_t g, int res)
	{
		if (res == -EINVAL || res == -EFAULT || res == -ENOMEM || res == -EOPNOTSUPP ||
		    res == -EACCES || res == -EPERM)
			doubt(g);
	}

	// The CQE of a flush (or @marker) the slot issued to close user
	// generation @g.
	void on_flush(std::uint32_t g, int res, bool marker = false)
	{
		if (marker)
			return; // -EBADF after joining; the flush after it tells
		if (res >= 0) {
			if (!anchors_.back().pending && after(g, anchors_.back().u) &&
			    static_cast<std::uint32_t>(res) == ((g - d_) & gen_mask))
				return; // as numbered; the notification comes
			set_anchor(g, static_cast<std::uint32_t>(res));
			wake_settled();
			return;
		}
		std::size_t i = find(g);
		bool mine = i < anchors_.size() && anchors_[i].u == g && anchors_[i].pending;
		auto at = anchors_.begin() + static_cast<std::ptrdiff_t>(i);
		if (res == -ENODATA) {
			// Some sends counted here were refused (if this was a
			// resynchronisation of ours, its marker too): ask again.
			if (mine)
				at = anchors_.erase(at);
			if (doubt(g)) {
				wake_settled();
				return;
			}
			// Unregistered: nobody can tell any more.
			if (mine)
				anchors_.insert(at, anchor{g, 0, false, false, true, res});
		} else if (mine) {
			at->pending = false;
			at->failed = true;
			at->err = res;
		}
		// Nothing will complete these generations: the failure reaches
		// their waiters.
		wake([&](std::uint32_t u) { return u == g ? res : state(u); });
	}

	std::uint32_t open_generation() const noexcept { return open_; }
	std::uint64_t notifications() const noexcept { return notifications_; }
	std::uint64_t copied() const noexcept { return copied_; }
	// Anchors kept (1 on the error-free path); for tests.
	std::size_t anchors() const noexcept { return anchors_.size(); }

private:
	// User generation u's close was the kernel's close of generation k
	// (epoch: the start of a registration, numbering from k + 1).
	struct anchor {
		std::uint32_t u, k;
		bool epoch, pending, failed;
		int err;
	};

	static std::uint32_t dist(std::uint32_t a, std::uint32_t b) noexcept
	{
		return (a - b) & gen_mask;
	}
	// a comes after b (within half the number space)
	static bool after(std::uint32_t a, std::uint32_t b) noexcept
	{
		std::uint32_t d = dist(a, b);
		return d && d < gen_mask / 2;
	}

	void close() noexcept
	{
		if (!in_open_)
			return;
		in_open_ = 0;
		open_ = (open_ + 1) & gen_mask;
	}

	void prep_flush(io_uring_sqe *sqe) noexcept
	{
		zcuring_prep_send_zc_flush(sqe, index_, 1);
		io_uring_sqe_set_data64(sqe, ud_own | (std::uint64_t(open_) << 32) | tag_of());
	}

	// A CQE of user generation @g may tell of a refusal: ask the kernel
	// where it is, unless an anchor at or after @g answers already. False
	// if it cannot (unregistered).
	bool doubt(std::uint32_t g)
	{
		if (!after(g, anchors_.back().u))
			return true;
		if (!registered_)
			return false;
		resync();
		return true;
	}

	// The marker joins the open generation, the flush closes it: the
	// flush's CQE is the anchor of user generation open_. SQEs are taken
	// before anything changes; anchors_ may grow (error path only).
	void resync()
	{
		io_uring_sqe *m = r_->get_sqes(2);
		io_uring_sqe *f = io_uring_get_sqe(r_->native());
		anchors_.reserve(anchors_.size() + 1);
		io_uring_prep_send_zc(m, -1, nullptr, 0, MSG_NOSIGNAL, 0);
		zcuring_sqe_set_zc_slot(m, index_, 0);
		io_uring_sqe_set_data64(m, ud_own | ud_marker | (std::uint64_t(open_) << 32) |
		                                   tag_of());
		in_open_++;
		prep_flush(f);
		anchors_.push_back({open_, 0, false, true, false, 0});
		close();
	}

	// The first anchor at or after user generation @u (size() if none).
	std::size_t find(std::uint32_t u) const noexcept
	{
		std::size_t i = anchors_.size();
		while (i > 0 && !after(u, anchors_[i - 1].u))
			i--;
		return i;
	}

	void set_anchor(std::uint32_t u, std::uint32_t k)
	{
		std::size_t i = find(u);
		if (i == anchors_.size() || anchors_[i].u != u)
			anchors_.insert(anchors_.begin() + static_cast<std::ptrdiff_t>(i),
			                anchor{u, k, false, false, false, 0});
		anchor &a = anchors_[i];
		a.k = k;
		a.pending = a.failed = false;
		if (i + 1 < anchors_.size() && anchors_[i + 1].epoch)
			mark_range((k + 1) & gen_mask, (anchors_[i + 1].k + 1) & gen_mask);
		if (i + 1 == anchors_.size())
			d_ = (u - k) & gen_mask;
		prune();
	}

	// Drop anchors nothing needs: every user generation up to the
	// second one is done once every kernel generation up to its k is.
	void prune()
	{
		std::size_t n = 0;
		while (n + 1 < anchors_.size() && !anchors_[n].pending && !anchors_[n].failed &&
		       !anchors_[n + 1].pending && !anchors_[n + 1].failed &&
		       after(done_base_, anchors_[n + 1].k))
			n++;
		if (n)
			anchors_.erase(anchors_.begin(), anchors_.begin() + static_cast<std::ptrdiff_t>(n));
	}

	bool quiet() const noexcept
	{
		for (auto &a : anchors_)
			if (a.pending || a.failed)
				return false;
		const anchor &b = anchors_.back();
		return open_ == ((b.u + 1) & gen_mask) && !in_open_ &&
		       done_base_ == ((b.k + 1) & gen_mask);
	}

	// User generation @u: 1 done, 0 not yet, < 0 failed (-errno).
	int state(std::uint32_t u) const noexcept
	{
		const anchor &b = anchors_.back();
		if (after(u, b.u)) // the error-free path
			return b.pending ? 0 : done((u - d_) & gen_mask);
		std::size_t i = find(u);
		if (i == 0)
			return 1; // before every anchor: pruned, done
		const anchor &lo = anchors_[i - 1], &hi = anchors_[i];
		if (hi.failed || lo.failed)
			return hi.failed ? hi.err : lo.err;
		if (hi.pending || lo.pending)
			return 0;
		if (hi.epoch)
			return 1; // numbers between registrations: never used
		std::uint32_t n = dist(hi.u, lo.u), m = dist(hi.k, lo.k), j = dist(u, lo.u);
		std::uint32_t first = 0, last = m - 1; // offsets from lo.k + 1
		if (m && m <= n) {
			std::uint32_t p = n - m;
			first = j - 1 > p ? j - 1 - p : 0;
			last = std::min(j - 1, m - 1);
		} // else: inconsistent, so every kernel generation in between
		for (std::uint32_t x = first; x <= last && x < m; x++)
			if (!done((lo.k + 1 + x) & gen_mask))
				return 0;
		return 1;
	}

	bool done(std::uint32_t g) const noexcept
	{
		std::uint32_t d = dist(g, done_base_);
		if (d >= gen_mask / 2)
			return true; // before done_base
		if (d >= done_bits_.size() * 64)
			return false;
		std::uint32_t b = g % (done_bits_.size() * 64);
		return done_bits_[b / 64] >> (b % 64) & 1;
	}

	void mark_done(std::uint32_t g)
	{
		std::uint32_t d = dist(g, done_base_);
		if (d >= gen_mask / 2)
			return;
		while (d >= done_bits_.size() * 64)
			grow();
		std::size_t n = done_bits_.size() * 64;
		std::uint32_t b = g % n;
		done_bits_[b / 64] |= std::uint64_t(1) << (b % 64);
		for (;;) {
			std::uint32_t c = done_base_ % n;
			if (!(done_bits_[c / 64] >> (c % 64) & 1))
				break;
			done_bits_[c / 64] &= ~(std::uint64_t(1) << (c % 64));
			done_base_ = (done_base_ + 1) & gen_mask;
		}
	}

	// Kernel numbers [@a, @b) that no generation used.
	void mark_range(std::uint32_t a, std::uint32_t b)
	{
		if (!after(b, a))
			return;
		if (a == done_base_) {
			// the usual case: nothing done past done_base
			bool clear = true;
			for (auto w : done_bits_)
				clear = clear && !w;
			if (clear) {
				done_base_ = b;
				return;
			}
		}
		for (; a != b; a = (a + 1) & gen_mask)
			mark_done(a);
	}

	// Double the window, keeping each generation at g % size.
	void grow()
	{
		std::size_t n = done_bits_.size() * 64;
		std::vector<std::uint64_t> nb(done_bits_.size() * 2);
		for (std::uint32_t d = 0; d < n; d++) {
			std::uint32_t g = (done_base_ + d) & gen_mask;
			if (done_bits_[(g % n) / 64] >> ((g % n) % 64) & 1)
				nb[(g % (2 * n)) / 64] |= std::uint64_t(1) << ((g % (2 * n)) % 64);
		}
		done_bits_ = std::move(nb);
	}

	// Resume the waiters for which @st (a state()) is no longer 0.
	// Unlink them all before resuming any: a resumed coroutine may add
	// waiters of its own.
	template <class St>
	void wake(St st)
	{
		zc_slot_waiter *ready = nullptr, **pp = &waiters_;
		while (*pp) {
			zc_slot_waiter *w = *pp;
			int s = st(w->gen);
			if (s) {
				*pp = w->next;
				w->next = ready;
				w->err = s < 0 ? s : 0;
				ready = w;
			} else {
				pp = &w->next;
			}
		}
		while (ready) {
			zc_slot_waiter *w = ready;
			ready = w->next;
			w->h.resume();
		}
	}
	void wake_settled()
	{
		wake([this](std::uint32_t u) { return state(u); });
	}

	ring *r_ = nullptr;
	std::uint16_t index_ = 0;
	bool registered_ = false;
	unsigned flush_every_ = 32;
	std::uint32_t open_ = 0;      // the user generation sends join now
	unsigned in_open_ = 0;        // sends counted in it
	std::uint32_t d_ = 0;         // user - kernel after the last anchor
	std::vector<anchor> anchors_; // by u; the last one is the newest
	std::uint32_t done_base_ = 0; // every kernel generation before it is done
	std::vector<std::uint64_t> done_bits_ = std::vector<std::uint64_t>(1);
	std::uint64_t notifications_ = 0; // generations completed
	std::uint64_t copied_ = 0;        // of which some data was copied
	zc_slot_waiter *waiters_ = nullptr;
};

struct zc_slot_table;
// A slot send's own CQE (its user_data: the zc_send_op, tag 3).
inline void zc_slot_send_cqe(zc_slot_table &t, const cqe &c);

// The ring's slots (tag 3). Lives as long as the ring, so late
// notifications and flush CQEs are safe.
struct zc_slot_table final : extension {
	static constexpr unsigned tag = zc_slot_state::tag;

	explicit zc_slot_table(ring &) {}

	zc_slot_state *find(unsigned i) noexcept { return i < nr_ ? &slots_[i] : nullptr; }

	void on_cqe(const cqe &c) override
	{
		if (!(c.flags & IORING_CQE_F_NOTIF) && !(c.user_data & zc_slot_state::ud_own)) {
			zc_slot_send_cqe(*this, c);
			return;
		}
		auto i = static_cast<std::size_t>((c.user_data >> tag_bits) & 0xfffffff);
		if (i >= slots_.size())
			return;
		auto res = static_cast<std::uint32_t>(c.res);
		if (c.flags & IORING_CQE_F_NOTIF)
			slots_[i].on_notification(res & gen_mask, res & notif_usage_zc_copied);
		else
			slots_[i].on_flush(static_cast<std::uint32_t>(c.user_data >> 32) & gen_mask,
			                   c.res, c.user_data & zc_slot_state::ud_marker);
	}

	std::vector<zc_slot_state> slots_;
	unsigned nr_ = 0; // registered now
};

} // namespace detail

// The release of a zero-copy send's buffer: co_await it (once) for the
// notification. Move-only; dropping it unawaited is allowed. The result is
// an error only if the slot flush that was to close the generation failed.
class [[nodiscard]] zc_release {
public:
	zc_release() = default;
	zc_release(zc_release &&o) noexcept
	    : r_(std::exchange(o.r_, nullptr)), idx_(o.idx_), gen_(o.gen_), slot_(o.slot_)
	{
	}
	zc_release &operator=(zc_release &&o) noexcept
	{
		if (this != &o) {
			reset();
			r_ = std::exchange(o.r_, nullptr);
			idx_ = o.idx_;
			gen_ = o.gen_;
			slot_ = o.slot_;
		}
		return *this;
	}
	~zc_release() { reset(); }

	// True when awaiting would not suspend.
	bool ready() const noexcept
	{
		if (!r_)
			return true;
		if (slot_)
			return slot().released(gen_);
		return notifs().at(idx_).notified;
	}

	bool await_ready() const noexcept { return ready(); }
	void await_suspend(std::coroutine_handle<> h)
	{
		if (slot_)
			slot().wait(node_, gen_, h);
		else
			notifs().at(idx_).waiter = h;
	}
	result<zc_notification> await_resume() noexcept
	{
		zc_notification n;
		if (!r_)
			return n;
		int err = 0;
		if (slot_) {
			err = std::exchange(node_.err, 0);
		} else {
			n.copied = static_cast<std::uint32_t>(notifs().at(idx_).res) &
			           detail::notif_usage_zc_copied;
			notifs().free(idx_);
		}
		r_ = nullptr;
		if (err)
			return errno_code(-err);
		return n;
	}

private:
	friend class zc_send_op;
	friend class zc_slots;
	zc_release(ring *r, std::uint32_t idx, std::uint32_t gen, bool slot) noexcept
	    : r_(r), idx_(idx), gen_(gen), slot_(slot)
	{
	}

	detail::zc_notif_table &notifs() const noexcept
	{
		return *r_->find_extension<detail::zc_notif_table>();
	}
	detail::zc_slot_state &slot() const noexcept
	{
		return r_->find_extension<detail::zc_slot_table>()->slots_[idx_];
	}

	void reset() noexcept
	{
		if (!r_ || slot_) {
			r_ = nullptr;
			return;
		}
		auto &e = notifs().at(idx_);
		if (e.notified)
			notifs().free(idx_);
		else
			e.dropped = true;
		r_ = nullptr;
	}

	ring *r_ = nullptr;
	std::uint32_t idx_ = 0;
	std::uint32_t gen_ = 0;
	bool slot_ = false;
	detail::zc_slot_waiter node_{};
};

// What co_await async_send_zc() gives: the send's result now, the buffer's
// release later.
struct zc_sent {
	result<std::size_t> bytes;
	zc_release release;
};

struct zc_slots_options {
	unsigned flush_every = 32; // close a generation after this many sends
};

// Notification slots, registered for the lifetime of this object.
class zc_slots {
public:
	using options = zc_slots_options;

	// Throws std::system_error (zcuring::errc::unsupported) on a kernel
	// without slots or without IORING_OP_SEND_ZC_FLUSH (probe() says
	// which): fall back to per-request notifications.
	zc_slots(ring &r, unsigned nr, options o = {}) : r_(r)
	{
		if (!(r.features() & IORING_FEAT_SEND_ZC_SLOTS))
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "SEND_ZC notification slots need the zcuring kernel "
			        "series (IORING_FEAT_SEND_ZC_SLOTS)");
		if (!detail::has_opcode(r, IORING_OP_SEND_ZC_FLUSH))
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "this kernel has SEND_ZC notification slots but not "
			        "IORING_OP_SEND_ZC_FLUSH (zcuring kernel series, patch 0026)");
		if (nr > UINT16_MAX + 1u)
			throw std::system_error(make_error_code(std::errc::invalid_argument),
			                        "more notification slots than a u16 index");
		auto &t = r.extension<detail::zc_slot_table>();
		if (t.nr_)
			throw std::system_error(make_error_code(std::errc::device_or_resource_busy),
			                        "this ring already has notification slots");
		// Numbering continues across registrations of the same ring, past
		// every generation a slot has used.
		std::uint32_t first = 0;
		for (auto &s : t.slots_)
			first = std::max(first, s.open_generation());
		std::vector<std::uint64_t> tags(nr);
		if (t.slots_.size() < nr)
			t.slots_.resize(nr);
		for (unsigned i = 0; i < nr; i++)
			tags[i] = (std::uint64_t(i) << detail::tag_bits) | detail::zc_slot_table::tag;
		int ret = zcuring_zc_slots_register(r.native(), tags.data(), nr, first);
		if (ret < 0)
			throw std::system_error(errno_code(-ret), "IORING_REGISTER_SEND_ZC_SLOTS");
		for (unsigned i = 0; i < nr; i++)
			t.slots_[i].start(r, static_cast<std::uint16_t>(i), first, o.flush_every);
		t.nr_ = nr;
	}
	zc_slots(const zc_slots &) = delete;
	zc_slots &operator=(const zc_slots &) = delete;
	// Unregistering closes every open generation; their notifications
	// still come, and the ring's slot table takes them. Sends and flushes
	// still queued are submitted first, to the slots they were made for,
	// and each slot used since its last anchor is resynchronised (a
	// marker send and a flush, zc_slot_state), so that a refusal whose
	// CQE is still to come cannot leave a release waiting.
	~zc_slots()
	{
		if (r_.closed())
			return;
		auto &t = *r_.find_extension<detail::zc_slot_table>();
		for (unsigned i = 0; i < t.nr_; i++) {
			try {
				t.slots_[i].retire();
			} catch (...) {
				// no SQE to be had (io_uring_enter failed): the
				// generations of this slot may wait for nothing
			}
		}
		if (io_uring_sq_ready(r_.native()))
			io_uring_submit(r_.native());
		zcuring_zc_slots_unregister(r_.native());
		for (unsigned i = 0; i < t.nr_; i++)
			t.slots_[i].stop();
		t.nr_ = 0;
	}

	unsigned size() const noexcept { return table().nr_; }

	struct slot_stats {
		std::uint64_t notifications; // generations completed
		std::uint64_t copied;        // of those, ones with copied data
	};
	slot_stats stats(unsigned i) const noexcept
	{
		auto &s = table().slots_[i];
		return {s.notifications(), s.copied()};
	}

	// Close slot @i's open generation now (IORING_OP_SEND_ZC_FLUSH) and
	// return its release; an empty one if the generation held no sends.
	zc_release flush(unsigned i)
	{
		auto &s = table().slots_.at(i);
		std::uint32_t g = s.open_generation();
		if (!s.flush())
			return {};
		return zc_release(&r_, i, g, true);
	}

private:
	detail::zc_slot_table &table() const noexcept
	{
		return *r_.find_extension<detail::zc_slot_table>();
	}

	ring &r_;
};

// A slot of a zc_slots, for async_send_zc.
struct zc_slot {
	unsigned index;
};

// co_await gives a zc_sent. Like operation (operation.hpp): the SQE is
// taken when it starts, and it resumes only after every CQE that names it
// (the send's, its cancel's, its linked timeout's) has come.
class [[nodiscard]] zc_send_op : public detail::cancellable<zc_send_op> {
public:
	zc_send_op(ring &r, int fd, bool fixed_file, std::span<const std::byte> buf,
	           const zc_options &o, std::optional<zc_slot> slot) noexcept
	    : cancellable(r), fd_(fd), fixed_(fixed_file), buf_(buf), opt_(o), slot_(slot)
	{
	}
	zc_send_op(zc_send_op &&o) noexcept
	    : cancellable(std::move(o)), fd_(o.fd_), fixed_(o.fixed_), buf_(o.buf_),
	      opt_(o.opt_), slot_(o.slot_)
	{
	}

	// Sends that do not start (stopped already, or a slot that is not
	// registered) complete at once, and have nothing to release.
	bool await_ready() noexcept
	{
		if (stop_requested()) {
			res_ = -ECANCELED;
			return true;
		}
		if (slot_) {
			auto *t = owner().find_extension<detail::zc_slot_table>();
			if (!t || !t->find(slot_->index)) {
				res_ = -EINVAL;
				return true;
			}
		}
		return false;
	}

	void await_suspend(std::coroutine_handle<> h)
	{
		ring &r = owner();
		detail::zc_notif_table *notifs = nullptr;
		if (!slot_) {
			notifs = &r.extension<detail::zc_notif_table>();
			idx_ = notifs->alloc(this);
		}
		io_uring_sqe *s;
		try {
			s = request_sqe();
		} catch (...) {
			if (notifs)
				notifs->free(idx_);
			throw;
		}
		// Nothing below throws.
		unsigned zc = opt_.report_usage ? detail::send_zc_report_usage : 0;
		io_uring_prep_send_zc(s, fd_, buf_.data(), buf_.size(),
		                      opt_.msg_flags | MSG_NOSIGNAL, zc);
		if (fixed_)
			s->flags |= IOSQE_FIXED_FILE;
		if (opt_.poll_first)
			s->ioprio |= IORING_RECVSEND_POLL_FIRST;
		if (opt_.buf_index) {
			s->ioprio |= IORING_RECVSEND_FIXED_BUF;
			s->buf_index = static_cast<std::uint16_t>(*opt_.buf_index);
		}
		if (slot_) {
			auto j = r.find_extension<detail::zc_slot_table>()->slots_[slot_->index].join();
			gen_ = j.gen;
			zcuring_sqe_set_zc_slot(s, static_cast<std::uint16_t>(slot_->index), j.flush);
			// through the slot table, which sees a refusal first
			send_ud_ = detail::encode(this, detail::zc_slot_table::tag);
		} else {
			send_ud_ = detail::zc_notif_table::user_data(idx_);
		}
		started_ = true;
		request_started(h, s, send_ud_);
	}

	zc_sent await_resume() noexcept
	{
		settle();
		zc_sent out{from_res<std::size_t>(request_res()), zc_release{}};
		if (started_)
			out.release = zc_release(&owner(), slot_ ? slot_->index : idx_, gen_, !!slot_);
		return out;
	}

private:
	friend void detail::zc_slot_send_cqe(detail::zc_slot_table &, const cqe &);

	int fd_;
	bool fixed_;
	std::span<const std::byte> buf_;
	zc_options opt_;
	std::optional<zc_slot> slot_;
	std::uint32_t idx_ = 0;
	std::uint32_t gen_ = 0;
	std::uint64_t send_ud_ = 0;
	bool started_ = false;
};

namespace detail {
inline void zc_slot_send_cqe(zc_slot_table &t, const cqe &c)
{
	auto *comp = reinterpret_cast<completion *>(static_cast<std::uintptr_t>(c.user_data & ~tag_mask));
	auto *op = static_cast<zc_send_op *>(comp);
	if (c.res < 0)
		t.slots_[op->slot_->index].on_send_result(op->gen_, c.res);
	comp->on_cqe(comp, c, tag_main);
}
} // namespace detail

// A zero-copy send with its own notification.
template <file_ref F>
zc_send_op async_send_zc(ring &r, F f, std::span<const std::byte> buf, zc_options o = {}) noexcept
{
	return zc_send_op(r, detail::raw_fd(f), std::same_as<F, fixed_file>, buf, o, std::nullopt);
}

// A zero-copy send that joins @slot's open generation.
template <file_ref F>
zc_send_op async_send_zc(ring &r, F f, std::span<const std::byte> buf, zc_slot slot,
                         zc_options o = {}) noexcept
{
	return zc_send_op(r, detail::raw_fd(f), std::same_as<F, fixed_file>, buf, o, slot);
}

} // namespace zcuring
