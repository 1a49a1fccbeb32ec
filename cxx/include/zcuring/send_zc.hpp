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
// (on_notification). Generation numbers are the kernel's: they advance by
// one for each closed generation that held sends, modulo 2^31.
//
// CQEs of the slot carry tag 3 and the slot's index above it (its
// registered tag); a flush's CQE also carries, from bit 32, the
// generation it was issued to close.
class zc_slot_state {
public:
	static constexpr unsigned tag = 3;

	// (Re)start numbering at @first for a registration of the slots.
	void start(ring &r, std::uint16_t index, std::uint32_t first, unsigned flush_every)
	{
		r_ = &r;
		index_ = index;
		flush_every_ = flush_every ? flush_every : 1;
		in_open_ = 0;
		if (done_base_ == open_) {
			// nothing outstanding: jump
			std::fill(done_bits_.begin(), done_bits_.end(), 0);
			done_base_ = open_ = first;
			return;
		}
		// Generations of the last registration may still be outstanding;
		// the numbers skipped up to @first are done (never used).
		for (; open_ != first; open_ = (open_ + 1) & gen_mask)
			mark_done(open_);
	}

	// Unregistering closed the open generation in the kernel.
	void stop() noexcept { close(); }

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
		zcuring_prep_send_zc_flush(sqe, index_, 1);
		io_uring_sqe_set_data64(sqe, (std::uint64_t(open_) << 32) | tag_of());
		close();
		return true;
	}

	// Nothing can still use the pages of generation @g's sends.
	bool released(std::uint32_t g) const noexcept
	{
		// An open generation with no sends is one whose sends the kernel
		// refused (see on_flush): none of them joined.
		return done(g) || (g == open_ && !in_open_);
	}

	// Wait for generation @g, closing it first if it is still open.
	void wait(zc_slot_waiter &w, std::uint32_t g, std::coroutine_handle<> h)
	{
		if (g == open_)
			flush();
		w = {g, h, waiters_, 0};
		waiters_ = &w;
	}

	// Generation @g's notification.
	void on_notification(std::uint32_t g, bool copied)
	{
		notifications_++;
		if (copied)
			copied_++;
		mark_done(g);
		wake_done(0);
	}

	// The CQE of the flush issued to close generation @g.
	void on_flush(std::uint32_t g, int res)
	{
		if (res >= 0)
			return; // the notification comes (or came) as for any generation
		if (res == -ENODATA && open_ == ((g + 1) & gen_mask) && !in_open_) {
			// The kernel had no sends in @g: those counted were refused
			// when prepared (they never join). Nothing joined since, so
			// the kernel's open generation is still @g: number it so
			// again, and let @g's waiters go.
			open_ = g;
			wake_gen(g, 0);
			return;
		}
		// -ENODATA with sends counted since (they are in the kernel's
		// @g; numbering stays one ahead), or a failed flush: nothing will
		// complete @g, so end it here; a failure reaches the waiters.
		mark_done(g);
		wake_done(res == -ENODATA ? 0 : res);
	}

	std::uint32_t open_generation() const noexcept { return open_; }
	std::uint64_t notifications() const noexcept { return notifications_; }
	std::uint64_t copied() const noexcept { return copied_; }

private:
	static std::uint32_t dist(std::uint32_t a, std::uint32_t b) noexcept
	{
		return (a - b) & gen_mask;
	}

	void close() noexcept
	{
		if (!in_open_)
			return;
		in_open_ = 0;
		open_ = (open_ + 1) & gen_mask;
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

	// Unlink the waiters to wake before resuming any of them: a resumed
	// coroutine may add waiters of its own.
	template <class Pred>
	void wake(Pred pred, int err)
	{
		zc_slot_waiter *ready = nullptr, **pp = &waiters_;
		while (*pp) {
			zc_slot_waiter *w = *pp;
			if (pred(w->gen)) {
				*pp = w->next;
				w->next = ready;
				w->err = err;
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
	void wake_done(int err)
	{
		wake([this](std::uint32_t g) { return done(g); }, err);
	}
	void wake_gen(std::uint32_t gen, int err)
	{
		wake([gen](std::uint32_t g) { return g == gen; }, err);
	}

	ring *r_ = nullptr;
	std::uint16_t index_ = 0;
	unsigned flush_every_ = 32;
	std::uint32_t open_ = 0;      // the generation sends join now
	unsigned in_open_ = 0;        // sends counted in it
	std::uint32_t done_base_ = 0; // every generation before it is done
	std::vector<std::uint64_t> done_bits_ = std::vector<std::uint64_t>(1);
	std::uint64_t notifications_ = 0; // generations completed
	std::uint64_t copied_ = 0;        // of which some data was copied
	zc_slot_waiter *waiters_ = nullptr;
};

// The ring's slots (tag 3). Lives as long as the ring, so late
// notifications and flush CQEs are safe.
struct zc_slot_table final : extension {
	static constexpr unsigned tag = zc_slot_state::tag;

	explicit zc_slot_table(ring &) {}

	zc_slot_state *find(unsigned i) noexcept { return i < nr_ ? &slots_[i] : nullptr; }

	void on_cqe(const cqe &c) override
	{
		auto i = static_cast<std::size_t>((c.user_data >> tag_bits) & 0x1fffffff);
		if (i >= slots_.size())
			return;
		auto res = static_cast<std::uint32_t>(c.res);
		if (c.flags & IORING_CQE_F_NOTIF)
			slots_[i].on_notification(res & gen_mask, res & notif_usage_zc_copied);
		else
			slots_[i].on_flush(static_cast<std::uint32_t>(c.user_data >> 32) & gen_mask,
			                   c.res);
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
	// still queued are submitted first, to the slots they were made for.
	~zc_slots()
	{
		if (r_.closed())
			return;
		if (io_uring_sq_ready(r_.native()))
			io_uring_submit(r_.native());
		zcuring_zc_slots_unregister(r_.native());
		auto &t = *r_.find_extension<detail::zc_slot_table>();
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
			send_ud_ = detail::encode(this, detail::tag_main);
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
