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
// finds no room (every entry pinned by awaitables of other tokens) makes
// the awaitable keep a copy of it and register its own callback.
//
// An awaitable pins its token's entry when .stop_with() is called (a
// compare and an increment: no copy of the token, no atomic operation)
// and unpins it when it is destroyed; an entry is reused for another
// token only when nothing pins it. Whether the token is stopped is then
// the entry's flag, which its callback sets.
//
// Rules (ring.hpp rule 6): stop requests come from the ring's thread, so
// the lists need no lock. A callback never resumes anyone and never
// unlinks a watcher (op_control::on_stop), so the walk in fire() is safe.
// An entry nothing pins keeps its callback (and so the stop state) until
// the entry is reused or the ring is destroyed. A pin that outlives the
// ring is an awaitable that outlived its ring: the ring's destructor
// terminates the program with a message rather than leave it a dangling
// pointer (ring.hpp, lifetime rule 4).
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
	[[gnu::always_inline]] void unlink() noexcept
	{
		prev->next = next;
		next->prev = prev;
		prev = next = nullptr;
	}
};

class stop_hub {
	struct entry;

public:
	static constexpr std::size_t entries = 8;
	// A pinned entry: the token an awaitable watches.
	using pin_t = entry *;

	stop_hub() noexcept
	{
		for (auto &e : table_)
			e.head.prev = e.head.next = &e.head;
	}
	stop_hub(const stop_hub &) = delete;
	stop_hub &operator=(const stop_hub &) = delete;
	~stop_hub() { detach_all(); }

	// The entry of stop token @t (one with a stop state), pinned until
	// unpin(); null if the table has no room: the caller then keeps a
	// copy of @t and watches it itself.
	[[gnu::always_inline]] pin_t pin(const std::stop_token &t) noexcept
	{
		// The token of the last pin, most often: inline. An entry with
		// a token has its callback (pin_other() sets both, detach_all()
		// clears both).
		if (last_->token == t) [[likely]] {
			last_->pins++;
			return last_;
		}
		return pin_other(t);
	}
	static void unpin(pin_t e) noexcept { e->pins--; }

	// The pinned token is stopped.
	static bool stopped(pin_t e) noexcept { return e->fired; }

	// Link @l (its on_stop set) to pinned entry @e: l.on_stop runs when
	// the token is stopped, at once if it already is. stop_link::unlink()
	// ends the watch.
	[[gnu::always_inline]] static void watch(pin_t e, stop_link &l) noexcept { e->add(l); }

	// Pins that are left.
	std::size_t pinned() const noexcept
	{
		std::size_t n = 0;
		for (auto &e : table_)
			n += e.pins;
		return n;
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
	[[gnu::noinline]] pin_t pin_other(const std::stop_token &t) noexcept
	{
		entry *spare = nullptr;
		for (auto &e : table_) {
			if (e.token == t && e.cb) {
				last_ = &e;
				e.pins++;
				return &e;
			}
			if (!spare && !e.pins)
				spare = &e;
		}
		if (!spare)
			return nullptr;
		// Unpinned, so nothing is linked to it either.
		spare->cb.reset();
		spare->fired = false;
		spare->token = t;
		spare->pins = 1;
		last_ = spare;
		// Runs fire() at once if @t is stopped already.
		spare->cb.emplace(t, fire{spare});
		return spare;
	}

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
		std::size_t pins = 0; // awaitables that hold this entry
		bool fired = false;   // the callback ran: the token is stopped

		bool empty() const noexcept { return head.next == &head; }
		// Link @l to an entry whose callback is registered.
		[[gnu::always_inline]] void add(stop_link &l) noexcept
		{
			l.prev = &head;
			l.next = head.next;
			head.next->prev = &l;
			head.next = &l;
			if (fired) // the callback ran before @l came
				l.on_stop(&l);
		}
	};

	std::array<entry, entries> table_;
	entry *last_ = &table_[0];
};

} // namespace zcuring::detail
