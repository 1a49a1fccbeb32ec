// SPDX-License-Identifier: MIT
// The loop's discipline: SQ full, CQ overflow, batching, timeouts and
// cancellation.
#include <catch2/catch.hpp>

#include <chrono>
#include <stop_token>
#include <vector>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/ops.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

TEST_CASE("a full SQ is submitted and the SQE taken again", "[ring]")
{
	ring r({.entries = 4});
	int done = 0;
	auto worker = [&]() -> task<void> {
		for (int i = 0; i < 10; i++) {
			auto done_ = co_await async_nop(r);
			REQUIRE(done_);
		}
		done++;
	};
	// 100 operations start before the loop submits anything.
	for (int i = 0; i < 100; i++)
		r.spawn(worker());
	r.run();
	REQUIRE(done == 100);
	REQUIRE(r.stats().sq_full > 0);
}

TEST_CASE("completions that overflow the CQ are all delivered", "[ring]")
{
	// 8 CQ entries, 4 SQ entries: 256 operations complete in batches of
	// 4 while the loop is still starting the others, without reaping.
	ring r({.entries = 4, .cq_entries = 8});
	constexpr int n = 256;
	int done = 0;
	auto worker = [&]() -> task<void> {
		{
			auto done_ = co_await async_nop(r);
			REQUIRE(done_);
		}
		done++;
	};
	for (int i = 0; i < n; i++)
		r.spawn(worker());
	r.run();
	REQUIRE(done == n);
	REQUIRE(r.stats().cqes >= n);
	// The kernel kept every CQE (IORING_FEAT_NODROP): none was dropped.
	REQUIRE(*r.native()->cq.koverflow == 0);
}

TEST_CASE("operations started together go in one submission", "[ring]")
{
	ring r;
	auto one = [&]() -> task<void> {
		auto done_ = co_await async_nop(r);
		REQUIRE(done_);
	};
	for (int i = 0; i < 64; i++)
		r.spawn(one());
	r.run();
	// 64 SQEs, a handful of io_uring_enter calls.
	REQUIRE(r.stats().enters < 8);
}

TEST_CASE("sleep waits at least its time", "[ring][timeout]")
{
	ring r;
	auto t0 = std::chrono::steady_clock::now();
	auto res =
	        r.run([&]() -> task<result<void>> { co_return co_await async_sleep(r, 30ms); }());
	REQUIRE(res);
	REQUIRE(std::chrono::steady_clock::now() - t0 >= 30ms);
}

TEST_CASE("a timeout ends an operation with timed_out", "[ring][timeout]")
{
	ring r;
	auto p = zctest::make_pair();
	auto res = r.run([&]() -> task<result<std::size_t>> {
		std::byte buf[16];
		co_return co_await async_recv(r, p.a.get(), buf).timeout(20ms);
	}());
	REQUIRE(res.error() == std::errc::timed_out);
}

TEST_CASE("an operation that completes in time is not timed out", "[ring][timeout]")
{
	ring r;
	auto p = zctest::make_pair();
	REQUIRE(::send(p.b.get(), "x", 1, 0) == 1);
	auto res = r.run([&]() -> task<result<std::size_t>> {
		std::byte buf[16];
		co_return co_await async_recv(r, p.a.get(), buf).timeout(10s);
	}());
	REQUIRE(res);
	REQUIRE(*res == 1);
}

TEST_CASE("a stop request cancels a pending operation", "[ring][cancel]")
{
	ring r;
	auto p = zctest::make_pair();
	std::stop_source stop;
	zctest::stoppable_recv reader;
	auto stopper = [&]() -> task<void> {
		(void)co_await async_sleep(r, 10ms);
		REQUIRE(!reader.finished);
		stop.request_stop();
	};
	r.spawn(reader.run(r, p.a.get(), stop.get_token()));
	r.spawn(stopper());
	r.run();
	REQUIRE(reader.finished);
	REQUIRE(reader.got.error() == std::errc::operation_canceled);
	// The socket is still usable: the cancel hit only that request.
	REQUIRE(::send(p.b.get(), "y", 1, 0) == 1);
	auto again = r.run([&]() -> task<result<std::size_t>> {
		std::byte buf[16];
		co_return co_await async_recv(r, p.a.get(), buf);
	}());
	REQUIRE(*again == 1);
}

TEST_CASE("a stop requested before the start submits nothing", "[ring][cancel]")
{
	ring r;
	std::stop_source stop;
	stop.request_stop();
	auto res = r.run([&]() -> task<result<void>> {
		co_return co_await async_nop(r).stop_with(stop.get_token());
	}());
	REQUIRE(res.error() == std::errc::operation_canceled);
	REQUIRE(r.stats().cqes == 0);
}

TEST_CASE("a stop after completion changes nothing", "[ring][cancel]")
{
	ring r;
	std::stop_source stop;
	auto res = r.run([&]() -> task<result<void>> {
		auto x = co_await async_nop(r).stop_with(stop.get_token());
		stop.request_stop();
		co_return x;
	}());
	REQUIRE(res);
}

TEST_CASE("cancel and timeout together finish after every completion", "[ring][cancel]")
{
	ring r;
	auto p = zctest::make_pair();
	std::stop_source stop;
	std::vector<result<std::size_t>> got;
	auto reader = [&]() -> task<void> {
		std::byte buf[16];
		got.push_back(co_await async_recv(r, p.a.get(), buf)
		                      .stop_with(stop.get_token())
		                      .timeout(5s));
	};
	auto stopper = [&]() -> task<void> {
		(void)co_await async_sleep(r, 5ms);
		stop.request_stop();
	};
	r.spawn(reader());
	r.spawn(stopper());
	r.run();
	REQUIRE(got.size() == 1);
	REQUIRE(got[0].error() == std::errc::operation_canceled);
}

namespace {
task<void> nops(ring &r, int n)
{
	for (int i = 0; i < n; i++)
		(void)co_await async_nop(r);
}
task<void> one_nop(ring &r, int &done)
{
	(void)co_await async_nop(r);
	done++;
}
task<void> runs_the_loop(ring &r, int &done)
{
	(void)co_await async_nop(r);
	r.run(nops(r, 1)); // a synchronous helper driving the same ring
	done++;
}
} // namespace

// The loop reads the CQ in place. A completion that runs the loop itself
// takes CQEs the outer reap had counted on, and may move the head past
// the tail the outer reap read: it must read both again, not walk on
// into old slots (whose user_data, after the CQ has wrapped, point into
// freed frames: ASan's use after free, before the fix).
TEST_CASE("a completion that runs the loop itself leaves the CQ consistent", "[ring]")
{
	ring r;
	r.run(nops(r, 1000)); // wrap the CQ: every slot holds an old CQE
	auto before = r.stats().cqes;
	int done = 0;
	r.spawn(runs_the_loop(r, done)).detach();
	for (int i = 0; i < 3; i++)
		r.spawn(one_nop(r, done)).detach();
	r.run();
	REQUIRE(done == 4);
	REQUIRE(r.stats().cqes - before == 5); // four nops and the nested one
	REQUIRE(*r.native()->cq.khead == *r.native()->cq.ktail);
}
