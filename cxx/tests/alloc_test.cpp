// SPDX-License-Identifier: MIT
// No heap allocation per operation, timeouts and cancels included: counted
// by the echo benchmark's allocation counter (testlib/alloc_counter.cpp,
// linked into this program only; no sanitizer, which would allocate).
#include <catch2/catch.hpp>

#include <chrono>
#include <stop_token>
#include <vector>

#include "support.hpp"
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/send_zc.hpp>

extern "C" unsigned long long zc_alloc_count(void);

using namespace zcuring;
using namespace std::chrono_literals;

namespace {

// Run @body(1) to warm up (tables, queues), then @body(n): the
// allocations of that run, its own frame made before counting.
template <class F>
unsigned long long allocs_in(ring &r, int n, F body)
{
	r.run(body(1));
	auto t = body(n);
	unsigned long long before = zc_alloc_count();
	r.run(std::move(t));
	return zc_alloc_count() - before;
}

} // namespace

TEST_CASE("operations with a timeout and a stop token allocate nothing", "[alloc]")
{
	ring r;
	auto p = zctest::make_pair();
	std::stop_source never;
	int ok = 0, timed_out = 0;
	auto n = allocs_in(r, 500, [&](int rounds) -> task<void> {
		for (int i = 0; i < rounds; i++) {
			if (co_await async_nop(r).timeout(1s).stop_with(never.get_token()))
				ok++;
			std::byte buf[8];
			auto x = co_await async_recv(r, p.a.get(), buf).timeout(10us);
			if (x.error() == std::errc::timed_out)
				timed_out++;
		}
	});
	REQUIRE(ok == 501);
	REQUIRE(timed_out == 501);
	REQUIRE(n == 0);
}

TEST_CASE("stopped operations allocate nothing", "[alloc]")
{
	ring r;
	auto p = zctest::make_pair();
	// A stop_source allocates its shared state: made before counting.
	std::vector<std::stop_source> stops(402);
	std::size_t next = 0;
	int canceled = 0;
	auto n = allocs_in(r, 400, [&](int rounds) -> task<void> {
		for (int i = 0; i < rounds; i++) {
			std::stop_source &s = stops[next++];
			auto stopper = [&]() -> task<void> {
				(void)co_await async_nop(r);
				s.request_stop();
			};
			auto h = r.spawn(stopper()); // a frame: counted below
			std::byte buf[8];
			auto x = co_await async_recv(r, p.a.get(), buf).stop_with(s.get_token());
			if (x.error() == std::errc::operation_canceled)
				canceled++;
			co_await std::move(h);
		}
	});
	REQUIRE(canceled == 401);
	// Two frames per round (the stopper and its spawn wrapper), nothing
	// for the operation, its stop callback or its cancel.
	REQUIRE(n == 2 * 400);
}

TEST_CASE("a stream's next() with a timeout allocates nothing", "[alloc]")
{
	ring r;
	auto l = tcp_listen(endpoint("127.0.0.1", 0), 4);
	accept_stream conns(r, l.get());
	int timed_out = 0;
	auto n = allocs_in(r, 300, [&](int rounds) -> task<void> {
		for (int i = 0; i < rounds; i++) {
			auto c = co_await conns.next().timeout(10us);
			if (c.error() == std::errc::timed_out)
				timed_out++;
		}
	});
	REQUIRE(timed_out == 301);
	REQUIRE(n == 0);
}

TEST_CASE("zero-copy sends with a timeout allocate nothing once warm", "[alloc][send_zc]")
{
	ring r;
	auto p = zctest::make_pair();
	std::vector<std::byte> buf(4096), in(4096);
	int sent = 0;
	auto n = allocs_in(r, 300, [&](int rounds) -> task<void> {
		for (int i = 0; i < rounds; i++) {
			auto s = co_await async_send_zc(r, p.a.get(), buf).timeout(10s);
			if (s.bytes && *s.bytes == buf.size())
				sent++;
			// The peer reads first: on loopback the pages are released
			// when the data is consumed.
			(void)co_await async_recv(r, p.b.get(), in, MSG_WAITALL);
			(void)co_await std::move(s.release);
		}
	});
	REQUIRE(sent == 301);
	REQUIRE(n == 0);
}
