// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include <zcuring/ops.hpp>

using namespace zcuring;

namespace {

task<int> answer()
{
	co_return 42;
}

task<int> add(int a, task<int> b)
{
	co_return a + co_await std::move(b);
}

task<std::string> throws()
{
	throw std::runtime_error("boom");
	co_return "never";
}

// Each level awaits the next: symmetric transfer keeps the stack flat.
task<long> deep(long n)
{
	if (!n)
		co_return 0;
	co_return 1 + co_await deep(n - 1);
}

} // namespace

TEST_CASE("a task is lazy and gives its value", "[task]")
{
	ring r;
	auto t = answer();
	REQUIRE(t.valid());
	REQUIRE(!t.done());
	REQUIRE(r.run(add(1, answer())) == 43);
}

TEST_CASE("an exception leaves through co_await and run()", "[task]")
{
	ring r;
	REQUIRE_THROWS_WITH(r.run(throws()), "boom");
	auto catcher = []() -> task<int> {
		try {
			co_await throws();
		} catch (const std::runtime_error &) {
			co_return 1;
		}
		co_return 0;
	};
	REQUIRE(r.run(catcher()) == 1);
}

TEST_CASE("a long chain of awaits does not grow the stack", "[task]")
{
	// Symmetric transfer resumes the next coroutine by a tail call; ASan
	// builds keep the frames, so there the chain is only long.
#ifdef __SANITIZE_ADDRESS__
	constexpr long n = 5000;
#else
	constexpr long n = 1000000;
#endif
	ring r;
	REQUIRE(r.run(deep(n)) == n);
}

TEST_CASE("spawned tasks run concurrently; run() waits for all", "[task][spawn]")
{
	ring r;
	int done = 0;
	auto worker = [&](int i) -> task<void> {
		for (int k = 0; k < i; k++)
			(void)co_await async_nop(r);
		done++;
	};
	for (int i = 0; i < 50; i++)
		r.spawn(worker(i));
	REQUIRE(r.live() == 50);
	r.run();
	REQUIRE(done == 50);
	REQUIRE(r.live() == 0);
}

TEST_CASE("an exception in a spawned task comes out of run()", "[task][spawn]")
{
	ring r;
	auto bad = [&]() -> task<void> {
		(void)co_await async_nop(r);
		throw std::logic_error("spawned failure");
	};
	r.spawn(bad());
	REQUIRE_THROWS_WITH(r.run(), "spawned failure");
}

TEST_CASE("a ring frees spawned tasks that never finished", "[task][spawn]")
{
	// Under ASan, a frame left behind is a leak and fails the test.
	int fds[2];
	REQUIRE(::pipe(fds) == 0);
	{
		ring r;
		auto stuck = [&]() -> task<void> {
			std::byte b[1];
			(void)co_await async_read(r, fds[0], b, 0);
		};
		r.spawn(stuck());
		r.spawn(stuck());
		// Both start and wait on the empty pipe while this one runs.
		auto other = [&]() -> task<void> { (void)co_await async_nop(r); };
		r.run(other());
		REQUIRE(r.live() == 2);
	}
	::close(fds[0]);
	::close(fds[1]);
}
