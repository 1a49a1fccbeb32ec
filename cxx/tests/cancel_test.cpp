// SPDX-License-Identifier: MIT
// .timeout() and .stop_with() on a stream's next() (accept_stream here;
// rx_stream in the VM tests), and that every awaitable resumes only
// after the CQEs of its cancel and timeout have come.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <stop_token>
#include <vector>

#include "support.hpp"
#include <zcuring/compose.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

namespace {

struct listener {
	unique_fd fd = tcp_listen(endpoint("127.0.0.1", 0), 16);
	endpoint at = endpoint::local_of(fd.get());

	unique_fd connect() const
	{
		auto c = tcp_socket(at.family());
		REQUIRE(::connect(c.get(), at.data(), at.size()) == 0);
		return c;
	}
};

task<void> stop_after(ring &r, std::chrono::milliseconds d, std::stop_source &s)
{
	(void)co_await async_sleep(r, d);
	s.request_stop();
}

task<unique_fd> connect_after(ring &r, std::chrono::milliseconds d, const listener &l)
{
	(void)co_await async_sleep(r, d);
	co_return l.connect();
}

} // namespace

TEST_CASE("accept next(): a timeout ends the wait with timed_out; the stream goes on",
          "[cancel][accept]")
{
	ring r;
	listener l;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto t0 = std::chrono::steady_clock::now();
		auto before = r.stats().cqes;
		auto c = co_await conns.next().timeout(20ms);
		REQUIRE(c.error() == std::errc::timed_out);
		REQUIRE(std::chrono::steady_clock::now() - t0 >= 20ms);
		// Resumed by its timer's CQE, and by nothing else.
		REQUIRE(r.stats().cqes - before == 1);

		// The request was not ended: a connection now is the next one.
		auto client = l.connect();
		auto d = co_await conns.next().timeout(10s);
		REQUIRE(d);
		REQUIRE(d->get() >= 0);
	}());
}

TEST_CASE("accept next(): an item before the timeout resumes only after the timer is gone",
          "[cancel][accept]")
{
	ring r;
	listener l;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto h = r.spawn(connect_after(r, 5ms, l));
		auto before = r.stats().cqes;
		auto c = co_await conns.next().timeout(10s);
		REQUIRE(c);
		// the sleep's, the accept's, the timer's (-ECANCELED), its cancel's
		REQUIRE(r.stats().cqes - before == 4);
		auto client = co_await std::move(h);
	}());
}

TEST_CASE("accept next(): stop_with ends the wait with operation_canceled", "[cancel][accept]")
{
	ring r;
	listener l;
	std::stop_source stop;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		r.spawn(stop_after(r, 5ms, stop));
		auto c = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(c.error() == std::errc::operation_canceled);
		// with a timer too: the timer is removed before it resumes
		std::stop_source stop2;
		r.spawn(stop_after(r, 5ms, stop2));
		auto before = r.stats().cqes;
		auto d = co_await conns.next().timeout(10s).stop_with(stop2.get_token());
		REQUIRE(d.error() == std::errc::operation_canceled);
		// the sleep's, the timer's, its cancel's
		REQUIRE(r.stats().cqes - before == 3);
		// stopped already: no wait at all
		auto e = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(e.error() == std::errc::operation_canceled);
		// and the stream still accepts
		auto client = l.connect();
		auto f = co_await conns.next();
		REQUIRE(f);
	}());
}

TEST_CASE("accept next(): an item queued already is given even when stopped", "[cancel][accept]")
{
	ring r;
	listener l;
	std::stop_source stop;
	stop.request_stop();
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto a = co_await conns.next().timeout(1ms); // arms it
		REQUIRE(a.error() == std::errc::timed_out);
		auto client = l.connect();
		(void)co_await async_sleep(r, 5ms); // the connection is queued
		auto c = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(c);
	}());
}

TEST_CASE("a stopped operation resumes only after its cancel's CQE", "[cancel]")
{
	ring r;
	auto p = zctest::make_pair();
	std::stop_source stop;
	r.run([&]() -> task<void> {
		r.spawn(stop_after(r, 5ms, stop));
		auto before = r.stats().cqes;
		std::byte buf[8];
		auto n = co_await async_recv(r, p.a.get(), buf).stop_with(stop.get_token()).timeout(
		        10s);
		REQUIRE(n.error() == std::errc::operation_canceled);
		// the sleep's, the recv's, its linked timeout's, the cancel's
		REQUIRE(r.stats().cqes - before == 4);
	}());
}

namespace {

// A read of a pipe nobody writes to, until @st stops it.
task<void> read_until_stopped(ring &r, int fd, std::stop_token st, int &canceled)
{
	std::byte b[1];
	auto n = co_await async_read(r, fd, b, 0).stop_with(std::move(st));
	REQUIRE(n.error() == std::errc::operation_canceled);
	canceled++;
}

} // namespace

// The ring watches a token once for all its awaitables (detail/stop_hub.hpp),
// with room for stop_hub::entries tokens; one more token makes the
// awaitable watch it itself. Every path must still cancel exactly the
// awaitables of the token stopped.
TEST_CASE("stop_with: many awaitables of one token and more tokens than the ring's table",
          "[cancel][stop_hub]")
{
	constexpr int tokens = detail::stop_hub::entries + 4, per_token = 3;
	ring r;
	auto p = zctest::make_pipe();
	std::vector<std::stop_source> src(tokens);
	int canceled = 0;
	r.run([&]() -> task<void> {
		task_scope scope(r);
		for (int i = 0; i < tokens; i++)
			for (int j = 0; j < per_token; j++)
				scope.spawn(read_until_stopped(r, p.rd.get(), src[i].get_token(), canceled));
		(void)co_await async_nop(r); // every read is in the kernel now
		(void)co_await async_nop(r);
		// Stop them one token at a time, the last ones (outside the table)
		// first: only that token's reads end.
		for (int i = tokens - 1; i >= 0; i--) {
			src[i].request_stop();
			for (int k = 0; k < 500 && canceled < (tokens - i) * per_token; k++)
				(void)co_await async_sleep(r, 2ms);
			REQUIRE(canceled == (tokens - i) * per_token);
		}
		co_await scope.join();
	}());
	REQUIRE(canceled == tokens * per_token);

	// The table's entries are free again (their lists empty): new tokens
	// reuse them, and a stop still reaches the new awaitables.
	std::stop_source again;
	r.run([&]() -> task<void> {
		task_scope scope(r);
		for (int j = 0; j < per_token; j++)
			scope.spawn(read_until_stopped(r, p.rd.get(), again.get_token(), canceled));
		(void)co_await async_nop(r);
		again.request_stop();
		co_await scope.join();
	}());
	REQUIRE(canceled == (tokens + 1) * per_token);
}

TEST_CASE("stop_with: a token stopped while its entry has awaitables, then watched again",
          "[cancel][stop_hub]")
{
	ring r;
	auto p = zctest::make_pipe();
	std::stop_source s;
	int canceled = 0;
	r.run([&]() -> task<void> {
		// The token's entry saw its stop; a new watch of it (here an
		// event wait, accept next()) must end at once, not wait for a
		// callback that has run already.
		task_scope scope(r);
		scope.spawn(read_until_stopped(r, p.rd.get(), s.get_token(), canceled));
		(void)co_await async_nop(r);
		s.request_stop();
		co_await scope.join();
		REQUIRE(canceled == 1);
		unique_fd lfd = tcp_listen(endpoint("127.0.0.1", 0), 4);
		accept_stream conns(r, lfd.get());
		auto c = co_await conns.next().stop_with(s.get_token()).timeout(10s);
		REQUIRE(c.error() == std::errc::operation_canceled);
	}());
}

TEST_CASE("stop_with: a ring destroyed with awaitables in its stop table", "[cancel][stop_hub]")
{
	auto p = zctest::make_pipe();
	std::stop_source s;
	int canceled = 0;
	{
		ring r;
		// Detached: the ring destroys the frames (and their watches) as
		// it goes; the token outlives the ring and is stopped after.
		r.spawn(read_until_stopped(r, p.rd.get(), s.get_token(), canceled)).detach();
		r.spawn(read_until_stopped(r, p.rd.get(), s.get_token(), canceled)).detach();
		r.run([&]() -> task<void> { (void)co_await async_nop(r); }());
	}
	s.request_stop(); // nothing of the ring is left to call
	REQUIRE(canceled == 0);
}

// .stop_with() pins the token's entry before the awaitable starts; the
// entry must not go to another token in between, however many tokens
// come and go, or the stop would reach the wrong awaitables.
TEST_CASE("stop_with: an awaitable built before others fill the table keeps its token",
          "[cancel][stop_hub]")
{
	constexpr int others = detail::stop_hub::entries * 2;
	ring r;
	auto p = zctest::make_pipe();
	std::stop_source mine;
	std::vector<std::stop_source> src(others);
	int canceled = 0;
	r.run([&]() -> task<void> {
		std::byte b[1];
		auto op = async_read(r, p.rd.get(), b, 0).stop_with(mine.get_token());
		// Other tokens take every entry and leave again: the one pinned
		// by op must stay.
		for (int round = 0; round < 2; round++) {
			task_scope scope(r);
			for (auto &s : src)
				scope.spawn(read_until_stopped(r, p.rd.get(), s.get_token(), canceled));
			(void)co_await async_nop(r);
			for (auto &s : src)
				s.request_stop();
			co_await scope.join();
			src.assign(others, std::stop_source{});
		}
		REQUIRE(canceled == 2 * others);
		// Those stops must not reach op: it reads what comes.
		REQUIRE(::write(p.wr.get(), "x", 1) == 1);
		auto n = co_await std::move(op);
		REQUIRE(n);
		REQUIRE(*n == 1);
		// And its own token still stops the next one.
		mine.request_stop();
		auto m = co_await async_read(r, p.rd.get(), b, 0).stop_with(mine.get_token());
		REQUIRE(m.error() == std::errc::operation_canceled);
	}());
}

// A token already stopped when .stop_with() pins it: the awaitable does
// not start (its entry's callback ran as it was registered).
TEST_CASE("stop_with: a token stopped before the awaitable is built", "[cancel][stop_hub]")
{
	ring r;
	auto p = zctest::make_pipe();
	std::stop_source s;
	s.request_stop();
	r.run([&]() -> task<void> {
		std::byte b[1];
		for (int i = 0; i < 3; i++) { // a new entry, then the same one
			auto n = co_await async_read(r, p.rd.get(), b, 0).stop_with(s.get_token());
			REQUIRE(n.error() == std::errc::operation_canceled);
		}
	}());
	REQUIRE(r.stats().cqes == 0); // nothing went to the kernel
}

// With every entry pinned, .stop_with() keeps a copy of the token (and
// the awaitable registers its own callback when it starts); the copy
// moves with the awaitable, and a stop still reaches it.
TEST_CASE("stop_with: a full table makes the awaitable keep the token, which moves with it",
          "[cancel][stop_hub]")
{
	ring r;
	auto p = zctest::make_pipe();
	std::vector<std::stop_source> src(detail::stop_hub::entries);
	std::stop_source extra, late;
	r.run([&]() -> task<void> {
		std::byte b[1];
		using op_t = decltype(async_read(r, 0, b, 0));
		std::vector<op_t> pins;
		pins.reserve(src.size());
		for (auto &s : src) // unstarted awaitables pin every entry
			pins.push_back(async_read(r, p.rd.get(), b, 0).stop_with(s.get_token()));
		auto a = async_read(r, p.rd.get(), b, 0).stop_with(extra.get_token());
		auto moved = std::move(a);
		extra.request_stop();
		auto n = co_await std::move(moved); // stopped before the start
		REQUIRE(n.error() == std::errc::operation_canceled);

		auto c = async_read(r, p.rd.get(), b, 0).stop_with(late.get_token());
		auto c2 = std::move(c);
		auto stopper = [&]() -> task<void> {
			(void)co_await async_nop(r);
			late.request_stop();
		};
		task_scope scope(r);
		scope.spawn(stopper());
		auto m = co_await std::move(c2); // stopped in the kernel
		REQUIRE(m.error() == std::errc::operation_canceled);
		co_await scope.join();
	}());
	REQUIRE(r.stops().pinned() == 0);
}
