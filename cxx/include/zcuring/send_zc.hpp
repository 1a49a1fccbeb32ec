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
// open closes it at once (a zero-length send with the flush flag).
//
// A release that is dropped unawaited is fine: the notification is then
// consumed by the ring. Nothing here allocates per send once the tables
// have grown to the number of sends in flight.
#pragma once

#include <liburing.h>

#include <zcuring/zc_slots.h>

#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

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
	std::optional<unsigned> buf_index;
	// Ask the kernel whether it had to copy (detail::send_zc_report_usage).
	bool report_usage = true;
};

namespace detail {

// Since Linux 6.2 and in the zcuring series; liburing 2.3's io_uring.h
// predates them.
inline constexpr unsigned send_zc_report_usage = 1u << 3;        // IORING_SEND_ZC_REPORT_USAGE
inline constexpr std::uint32_t notif_usage_zc_copied = 1u << 31; // IORING_NOTIF_USAGE_ZC_COPIED
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

// Slots: state per slot, indexed by the upper bits of the slot's tag
// (tag 3). Lives as long as the ring, so late notifications are safe.
struct zc_slot_table final : extension {
	static constexpr unsigned tag = 3;

	struct waiter_node {
		std::uint32_t gen;
		std::coroutine_handle<> h;
		waiter_node *next;
	};

	struct slot {
		std::uint32_t open_gen = 0;  // the generation sends join now
		unsigned in_open = 0;        // sends in it
		std::uint32_t done_base = 0; // every generation before it is done
		std::vector<std::uint64_t> done_bits = std::vector<std::uint64_t>(1);
		std::uint64_t notifications = 0; // generations completed
		std::uint64_t copied = 0;        // of which some data was copied
		int last_fd = -1;
		bool last_fixed = false;
		unsigned flush_every = 32;
		waiter_node *waiters = nullptr;
	};

	explicit zc_slot_table(ring &r) : r_(r) {}

	static std::uint32_t dist(std::uint32_t a, std::uint32_t b) noexcept
	{
		return (a - b) & gen_mask;
	}

	bool done(const slot &s, std::uint32_t g) const noexcept
	{
		std::uint32_t d = dist(g, s.done_base);
		if (d >= gen_mask / 2)
			return true; // before done_base
		if (d >= s.done_bits.size() * 64)
			return false;
		std::uint32_t b = g % (s.done_bits.size() * 64);
		return s.done_bits[b / 64] >> (b % 64) & 1;
	}

	void mark_done(slot &s, std::uint32_t g)
	{
		std::uint32_t d = dist(g, s.done_base);
		if (d >= gen_mask / 2)
			return;
		while (d >= s.done_bits.size() * 64)
			grow(s);
		std::size_t n = s.done_bits.size() * 64;
		std::uint32_t b = g % n;
		s.done_bits[b / 64] |= std::uint64_t(1) << (b % 64);
		for (;;) {
			std::uint32_t c = s.done_base % n;
			if (!(s.done_bits[c / 64] >> (c % 64) & 1))
				break;
			s.done_bits[c / 64] &= ~(std::uint64_t(1) << (c % 64));
			s.done_base = (s.done_base + 1) & gen_mask;
		}
	}

	// Double the window, keeping each generation at g % size.
	void grow(slot &s)
	{
		std::size_t n = s.done_bits.size() * 64;
		std::vector<std::uint64_t> nb(s.done_bits.size() * 2);
		for (std::uint32_t d = 0; d < n; d++) {
			std::uint32_t g = (s.done_base + d) & gen_mask;
			if (s.done_bits[(g % n) / 64] >> ((g % n) % 64) & 1)
				nb[(g % (2 * n)) / 64] |= std::uint64_t(1) << ((g % (2 * n)) % 64);
		}
		s.done_bits = std::move(nb);
	}

	void on_cqe(const cqe &c) override
	{
		auto i = static_cast<std::size_t>(c.user_data >> tag_bits);
		if (i >= slots_.size())
			return;
		slot &s = slots_[i];
		std::uint32_t g = static_cast<std::uint32_t>(c.res) & gen_mask;
		s.notifications++;
		if (static_cast<std::uint32_t>(c.res) & detail::notif_usage_zc_copied)
			s.copied++;
		mark_done(s, g);
		// Unlink the waiters this completes before resuming any of them:
		// a resumed coroutine may add waiters of its own.
		waiter_node *ready = nullptr, **pp = &s.waiters;
		while (*pp) {
			waiter_node *w = *pp;
			if (done(s, w->gen)) {
				*pp = w->next;
				w->next = ready;
				ready = w;
			} else {
				pp = &w->next;
			}
		}
		while (ready) {
			waiter_node *w = ready;
			ready = w->next;
			w->h.resume();
		}
	}

	// Close slot @i's open generation now, if it holds sends.
	void flush(std::uint32_t i)
	{
		slot &s = slots_[i];
		if (!s.in_open)
			return;
		io_uring_sqe *sqe = r_.get_sqe();
		io_uring_prep_send_zc(sqe, s.last_fd, nullptr, 0, MSG_NOSIGNAL,
		                      detail::send_zc_report_usage);
		if (s.last_fixed)
			sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_zc_slot(sqe, static_cast<std::uint16_t>(i), 1);
		io_uring_sqe_set_data64(sqe, 0); // its own CQE says nothing new
		s.in_open = 0;
		s.open_gen = (s.open_gen + 1) & gen_mask;
	}

	ring &r_;
	std::vector<slot> slots_;
	bool registered_ = false;
};

} // namespace detail

// The release of a zero-copy send's buffer: co_await it (once) for the
// notification. Move-only; dropping it unawaited is allowed.
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
			return slots().done(slots().slots_[idx_], gen_);
		return notifs().at(idx_).notified;
	}

	bool await_ready() const noexcept { return ready(); }
	void await_suspend(std::coroutine_handle<> h)
	{
		if (slot_) {
			auto &t = slots();
			auto &s = t.slots_[idx_];
			if (gen_ == s.open_gen)
				t.flush(idx_);
			node_ = {gen_, h, s.waiters};
			s.waiters = &node_;
		} else {
			notifs().at(idx_).waiter = h;
		}
	}
	result<zc_notification> await_resume() noexcept
	{
		zc_notification n;
		if (!r_)
			return n;
		if (!slot_) {
			n.copied = static_cast<std::uint32_t>(notifs().at(idx_).res) &
			           detail::notif_usage_zc_copied;
			notifs().free(idx_);
		}
		r_ = nullptr;
		return n;
	}

private:
	friend class zc_send_op;
	zc_release(ring *r, std::uint32_t idx, std::uint32_t gen, bool slot) noexcept
	    : r_(r), idx_(idx), gen_(gen), slot_(slot)
	{
	}

	detail::zc_notif_table &notifs() const noexcept
	{
		return *r_->find_extension<detail::zc_notif_table>();
	}
	detail::zc_slot_table &slots() const noexcept
	{
		return *r_->find_extension<detail::zc_slot_table>();
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
	detail::zc_slot_table::waiter_node node_{};
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
	// without slots: fall back to per-request notifications.
	zc_slots(ring &r, unsigned nr, options o = {}) : r_(r)
	{
		if (!(r.features() & IORING_FEAT_SEND_ZC_SLOTS))
			throw std::system_error(
			        make_error_code(errc::unsupported),
			        "SEND_ZC notification slots need the zcuring kernel "
			        "series (IORING_FEAT_SEND_ZC_SLOTS)");
		auto &t = r.extension<detail::zc_slot_table>();
		if (t.registered_)
			throw std::system_error(make_error_code(std::errc::device_or_resource_busy),
			                        "this ring already has notification slots");
		// Numbering continues across registrations of the same ring.
		std::uint32_t first = 0;
		for (auto &s : t.slots_)
			first = std::max(first, s.open_gen + 1) & detail::gen_mask;
		std::vector<std::uint64_t> tags(nr);
		for (unsigned i = 0; i < nr; i++)
			tags[i] =
			        (std::uint64_t(i) << detail::tag_bits) | detail::zc_slot_table::tag;
		if (t.slots_.size() < nr)
			t.slots_.resize(nr);
		int ret = zc_slots_register(r.fd(), tags.data(), nr, first);
		if (ret < 0)
			throw std::system_error(errno_code(-ret), "IORING_REGISTER_SEND_ZC_SLOTS");
		for (unsigned i = 0; i < nr; i++) {
			auto &s = t.slots_[i];
			s.open_gen = first;
			s.done_base = first;
			s.in_open = 0;
			s.flush_every = o.flush_every ? o.flush_every : 1;
		}
		t.registered_ = true;
		nr_ = nr;
	}
	zc_slots(const zc_slots &) = delete;
	zc_slots &operator=(const zc_slots &) = delete;
	// Unregistering closes every open generation; their notifications
	// still come, and the ring's slot table takes them.
	~zc_slots()
	{
		if (r_.closed())
			return;
		zc_slots_unregister(r_.fd());
		auto &t = *r_.find_extension<detail::zc_slot_table>();
		for (unsigned i = 0; i < nr_; i++) {
			auto &s = t.slots_[i];
			if (s.in_open) {
				s.in_open = 0;
				s.open_gen = (s.open_gen + 1) & detail::gen_mask;
			}
		}
		t.registered_ = false;
	}

	unsigned size() const noexcept { return nr_; }

	struct slot_stats {
		std::uint64_t notifications; // generations completed
		std::uint64_t copied;        // of those, ones with copied data
	};
	slot_stats stats(unsigned i) const noexcept
	{
		auto &s = r_.find_extension<detail::zc_slot_table>()->slots_[i];
		return {s.notifications, s.copied};
	}

	// Close slot @i's open generation now.
	void flush(unsigned i) { r_.find_extension<detail::zc_slot_table>()->flush(i); }

private:
	ring &r_;
	unsigned nr_ = 0;
};

// A slot of a zc_slots, for async_send_zc.
struct zc_slot {
	unsigned index;
};

class [[nodiscard]] zc_send_op : detail::completion {
public:
	zc_send_op(ring &r, int fd, bool fixed_file, std::span<const std::byte> buf,
	           const zc_options &o, std::optional<zc_slot> slot) noexcept
	    : completion(&zc_send_op::on_cqe_), r_(r), fd_(fd), fixed_(fixed_file), buf_(buf),
	      opt_(o), slot_(slot)
	{
	}
	zc_send_op(zc_send_op &&o) noexcept
	    : completion(&zc_send_op::on_cqe_), r_(o.r_), fd_(o.fd_), fixed_(o.fixed_),
	      buf_(o.buf_), opt_(o.opt_), slot_(o.slot_)
	{
	}
	zc_send_op &operator=(zc_send_op &&) = delete;

	bool await_ready() const noexcept { return false; }

	void await_suspend(std::coroutine_handle<> h)
	{
		waiter_ = h;
		io_uring_sqe *s = r_.get_sqe();
		unsigned zc = opt_.report_usage ? detail::send_zc_report_usage : 0;
		io_uring_prep_send_zc(s, fd_, buf_.data(), buf_.size(),
		                      opt_.msg_flags | MSG_NOSIGNAL, zc);
		if (fixed_)
			s->flags |= IOSQE_FIXED_FILE;
		if (opt_.buf_index) {
			s->ioprio |= IORING_RECVSEND_FIXED_BUF;
			s->buf_index = static_cast<std::uint16_t>(*opt_.buf_index);
		}
		if (slot_) {
			auto &t = *r_.find_extension<detail::zc_slot_table>();
			auto &sl = t.slots_[slot_->index];
			gen_ = sl.open_gen;
			bool flush = ++sl.in_open >= sl.flush_every;
			io_uring_sqe_set_zc_slot(s, static_cast<std::uint16_t>(slot_->index),
			                         flush);
			sl.last_fd = fd_;
			sl.last_fixed = fixed_;
			if (flush) {
				sl.in_open = 0;
				sl.open_gen = (sl.open_gen + 1) & detail::gen_mask;
			}
			io_uring_sqe_set_data64(s, detail::encode(this, detail::tag_main));
		} else {
			auto &t = r_.extension<detail::zc_notif_table>();
			idx_ = t.alloc(this);
			io_uring_sqe_set_data64(s, (std::uint64_t(idx_) << detail::tag_bits) |
			                                   detail::zc_notif_table::tag);
		}
	}

	zc_sent await_resume() noexcept
	{
		zc_sent out{from_res<std::size_t>(res_), zc_release{}};
		if (slot_)
			out.release = zc_release(&r_, slot_->index, gen_, true);
		else
			out.release = zc_release(&r_, idx_, 0, false);
		return out;
	}

private:
	static void on_cqe_(detail::completion *c, const cqe &e, unsigned)
	{
		auto *self = static_cast<zc_send_op *>(c);
		self->res_ = e.res;
		self->waiter_.resume();
	}

	ring &r_;
	int fd_;
	bool fixed_;
	std::span<const std::byte> buf_;
	zc_options opt_;
	std::optional<zc_slot> slot_;
	std::coroutine_handle<> waiter_;
	int res_ = 0;
	std::uint32_t idx_ = 0;
	std::uint32_t gen_ = 0;
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
