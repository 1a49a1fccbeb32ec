// SPDX-License-Identifier: MIT
// Composition: join handles, when_all, when_any, task_scope.
#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "support.hpp"
#include <zcuring/compose.hpp>
#include <zcuring/ops.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

namespace {

task<int> after(ring &r, std::chrono::milliseconds d, int v)
{
	(void)co_await async_sleep(r, d);
	co_return v;
}

task<int> fail_after(ring &r, std::chrono::milliseconds d, std::string what)
{
	(void)co_await async_sleep(r, d);
	throw std::runtime_error(what);
}

task<void> count_after(ring &r, std::chrono::milliseconds d, int &done)
{
	(void)co_await async_sleep(r, d);
	done++;
}

task<void> fail_void(ring &r, std::chrono::milliseconds d, std::string what)
{
	(void)co_await fail_after(r, d, std::move(what));
}

// Sleeps until stopped; says how it ended.
task<std::string> until_stopped(ring &r, std::stop_token st, std::vector<std::string> &log)
{
	auto s = co_await async_sleep(r, 10s).stop_with(st);
	log.push_back(s ? "slept" : s.error().message());
	co_return "loser";
}

} // namespace

TEST_CASE("join gives a spawned task's value", "[compose][spawn]")
{
	ring r;
	auto v = r.run([&]() -> task<int> {
		auto h = r.spawn(after(r, 1ms, 7));
		REQUIRE(h.valid());
		REQUIRE(!h.done());
		int x = co_await std::move(h);
		REQUIRE(!h.valid());
		co_return x;
	}());
	REQUIRE(v == 7);
	REQUIRE(r.live() == 0);
}

TEST_CASE("join of a finished task does not wait", "[compose][spawn]")
{
	ring r;
	auto v = r.run([&]() -> task<int> {
		auto h = r.spawn(after(r, 0ms, 3));
		(void)co_await async_sleep(r, 5ms);
		REQUIRE(h.done());
		co_return co_await std::move(h);
	}());
	REQUIRE(v == 3);
}

TEST_CASE("join rethrows the task's exception, and only to the joiner", "[compose][spawn]")
{
	ring r;
	auto v = r.run([&]() -> task<int> {
		auto h = r.spawn(fail_after(r, 1ms, "joined failure"));
		try {
			(void)co_await std::move(h);
		} catch (const std::runtime_error &e) {
			REQUIRE(std::string(e.what()) == "joined failure");
			co_return 1;
		}
		co_return 0;
	}());
	REQUIRE(v == 1);
	REQUIRE_NOTHROW(r.run()); // not rethrown from the loop as well
}

TEST_CASE("a detached task runs to its end; its failure comes out of run()", "[compose][spawn]")
{
	ring r;
	int done = 0;
	auto h = r.spawn(count_after(r, 2ms, done));
	h.detach();
	REQUIRE(!h.valid());
	r.spawn(after(r, 1ms, 0)); // dropped: detached too
	r.run();
	REQUIRE(done == 1);

	r.spawn(fail_after(r, 1ms, "detached failure")).detach();
	REQUIRE_THROWS_WITH(r.run(), "detached failure");
}

TEST_CASE("a handle dropped after its task failed still reports the failure", "[compose][spawn]")
{
	ring r;
	{
		auto h = r.spawn(fail_after(r, 0ms, "unjoined failure"));
		r.run([&]() -> task<void> { (void)co_await async_sleep(r, 5ms); }());
		REQUIRE(h.done());
	} // dropped without a join
	REQUIRE_THROWS_WITH(r.run(), "unjoined failure");
}

TEST_CASE("when_all runs tasks concurrently and gives every value", "[compose][when_all]")
{
	ring r;
	auto t0 = std::chrono::steady_clock::now();
	auto [a, b, c] = r.run(when_all(after(r, 20ms, 1), after(r, 20ms, 2),
	                                [&]() -> task<void> { (void)co_await async_nop(r); }()));
	auto took = std::chrono::steady_clock::now() - t0;
	REQUIRE(a == 1);
	REQUIRE(b == 2);
	(void)c; // std::monostate
	REQUIRE(took >= 20ms);
	REQUIRE(took < 39ms); // not one after the other
}

TEST_CASE("when_all of tasks that finish at once goes on at once", "[compose][when_all]")
{
	ring r;
	auto quick = []() -> task<int> { co_return 5; };
	auto [x, y] = r.run(when_all(quick(), quick()));
	REQUIRE(x + y == 10);
	REQUIRE(r.stats().cqes == 0);
}

TEST_CASE("when_all rethrows the first exception after every task finished",
          "[compose][when_all]")
{
	ring r;
	bool slow_done = false;
	auto slow = [&]() -> task<int> {
		(void)co_await async_sleep(r, 20ms);
		slow_done = true;
		co_return 1;
	};
	REQUIRE_THROWS_WITH(r.run(when_all(slow(), fail_after(r, 1ms, "first"),
	                                   fail_after(r, 5ms, "second"))),
	                    "first");
	REQUIRE(slow_done);
}

TEST_CASE("when_any gives the first value and stops the others, waiting for them",
          "[compose][when_any]")
{
	ring r;
	std::stop_source stop;
	std::vector<std::string> log;
	auto w = r.run(when_any(stop, until_stopped(r, stop.get_token(), log), after(r, 5ms, 9),
	                        until_stopped(r, stop.get_token(), log)));
	REQUIRE(w.index() == 1);
	REQUIRE(std::get<1>(w) == 9);
	REQUIRE(stop.stop_requested());
	// Both losers were cancelled and had finished before when_any returned.
	REQUIRE(log.size() == 2);
	for (auto &l : log)
		REQUIRE(l == std::make_error_code(std::errc::operation_canceled).message());
}

TEST_CASE("when_any rethrows the winner's exception after the others stopped",
          "[compose][when_any]")
{
	ring r;
	std::stop_source stop;
	std::vector<std::string> log;
	REQUIRE_THROWS_WITH(r.run(when_any(stop, until_stopped(r, stop.get_token(), log),
	                                   fail_after(r, 2ms, "winner failed"))),
	                    "winner failed");
	REQUIRE(log.size() == 1);
}

TEST_CASE("when_any ignores what a loser throws once stopped", "[compose][when_any]")
{
	ring r;
	std::stop_source stop;
	auto loser = [&](std::stop_token st) -> task<int> {
		auto s = co_await async_sleep(r, 10s).stop_with(st);
		if (!s)
			throw std::runtime_error("loser stopped");
		co_return 0;
	};
	auto w = r.run(when_any(stop, loser(stop.get_token()), after(r, 1ms, 4)));
	REQUIRE(w.index() == 1);
	REQUIRE(std::get<1>(w) == 4);
}

TEST_CASE("task_scope joins any number of tasks and rethrows the first failure",
          "[compose][scope]")
{
	ring r;
	int done = 0;
	r.run([&]() -> task<void> {
		task_scope s(r);
		for (int i = 0; i < 20; i++)
			s.spawn(count_after(r, std::chrono::milliseconds(i % 3), done));
		REQUIRE(s.size() == 20);
		co_await s.join();
		REQUIRE(s.size() == 0);
		REQUIRE(done == 20);

		s.spawn(fail_void(r, 1ms, "in scope"));
		s.spawn(count_after(r, 5ms, done));
		bool caught = false;
		try {
			co_await s.join();
		} catch (const std::runtime_error &e) {
			caught = std::string(e.what()) == "in scope";
		}
		REQUIRE(caught);
		REQUIRE(done == 21); // the other one had finished too
		co_await s.join();    // empty: at once
	}());
}
