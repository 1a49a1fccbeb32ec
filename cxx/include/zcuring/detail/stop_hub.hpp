// SPDX-License-Identifier: MIT
// stop_hub: one std::stop_callback per stop token a ring's awaitables
// watch, instead of one per awaitable.
//
// Registering a std::stop_callback takes the stop state's lock and a
// reference (atomic read-modify-writes, a call into the library), and
// deregistering takes them again: per operation, that is about as many
// instructions as the rest of the operation's user-space work. Most
// operations of a ring watch one of a few tokens (a connection's, a
// scope's), so the ring keeps a small table of tokens, each with one
// registered callback and an intrusive list of the awaitables that watch
// it: watching and unwatching are a compare and two links. A token that
// finds no room (every entry has watchers of other tokens) makes the
// awaitable register its own callback, as before.
//
// Rules (ring.hpp rule 6): stop requests come from the ring's thread, so
// the lists need no lock. A callback never resumes anyone and never
// unlinks a watcher (op_control::on_stop), so the walk in fire() is safe.
// An entry whose list is empty keeps its callback (and so the stop
// state) until the entry is reused or the ring is destroyed.
#pragma once

#include <array>
#include <optional>
#include <stop_token>

namespace zcuring::detail {

// What an awaitable links into a stop_hub entry while it waits.
struct stop_link {
	using handler = void (*)(stop_link *) noexcept;
	stop_link *prev = nullptr;
	stop_link *next = nullptr;
	handler on_stop = nullptr;
	void *owner = nullptr; // for on_stop

	bool linked() const noexcept { return prev != nullptr; }
	void unlink() noexcept
	{
		prev->next = next;
		next->prev = prev;
		prev = next = nullptr;
	}
};

class stop_hub {
public:
	static constexpr std::size_t entries = 8;

	stop_hub() noexcept
	{
		for (auto &e : table_)
			e.head.prev = e.head.next = &e.head;
	}
	stop_hub(const stop_hub &) = delete;
	stop_hub &operator=(const stop_hub &) = delete;
	~stop_hub() { detach_all(); }

	// Link @l (its on_stop set) to stop token @t, whose stop_possible()
	// is true: l.on_stop runs when @t is stopped, at once if it already
	// is. False if the table has no room: the caller watches @t itself.
	bool watch(const std::stop_token &t, stop_link &l) noexcept
	{
		// The token of the last watch, most often: inline.
		if (last_->token == t && last_->cb) [[likely]] {
			last_->add(l);
			return true;
		}
		return watch_other(t, l);
	}

	// The ring is going: awaitables that outlive it find themselves
	// unlinked (their destructors must not touch the table).
	void detach_all() noexcept
	{
		for (auto &e : table_) {
			while (!e.empty())
				e.head.next->unlink();
			e.cb.reset();
			e.token = {};
			e.fired = false;
		}
	}

private:
	[[gnu::noinline]] bool watch_other(const std::stop_token &t, stop_link &l) noexcept
	{
		entry *spare = nullptr;
		for (auto &e : table_) {
			if (e.token == t && e.cb) {
				last_ = &e;
				e.add(l);
				return true;
			}
			if (!spare && e.empty())
				spare = &e;
		}
		if (!spare)
			return false;
		spare->cb.reset();
		spare->fired = false;
		spare->token = t;
		spare->link(l);
		last_ = spare;
		// Runs fire() (and so l.on_stop) at once if @t is stopped.
		spare->cb.emplace(t, fire{spare});
		return true;
	}

	struct entry;
	struct fire {
		entry *e;
		void operator()() const noexcept
		{
			e->fired = true;
			for (stop_link *l = e->head.next; l != &e->head;) {
				stop_link *n = l->next;
				l->on_stop(l);
				l = n;
			}
		}
	};
	struct entry {
		stop_link head;
		std::stop_token token;
		std::optional<std::stop_callback<fire>> cb;
		bool fired = false; // the callback ran: the token is stopped

		bool empty() const noexcept { return head.next == &head; }
		// Link @l to an entry whose callback is registered.
		void add(stop_link &l) noexcept
		{
			link(l);
			if (fired) // the callback ran before @l came
				l.on_stop(&l);
		}
		void link(stop_link &l) noexcept
		{
			l.prev = &head;
			l.next = head.next;
			head.next->prev = &l;
			head.next = &l;
		}
	};

	std::array<entry, entries> table_;
	entry *last_ = &table_[0];
};

} // namespace zcuring::detail
