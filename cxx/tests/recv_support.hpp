// SPDX-License-Identifier: MIT
// Test helpers that receive on a ring: a whole stream (rx_stream,
// buf_stream or any_rx_stream) with every byte checked against the
// pattern of support.hpp, and a recv that a stop request may end.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stop_token>
#include <system_error>
#include <utility>
#include <vector>

#include "support.hpp"
#include <zcuring/ops.hpp>
#include <zcuring/result.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/task.hpp>

namespace zctest {

// The chunk type of Stream's next().
template <class Stream>
using chunk_type_of = typename decltype(std::declval<Stream &>().next().await_resume())::value_type;

// What receive() saw of a stream.
struct outcome {
	std::size_t bytes = 0;
	std::size_t chunks = 0;
	std::size_t biggest = 0;   // the largest chunk
	std::size_t zero_copy = 0; // chunks any_chunk::zero_copy() says are a zcrx's
	long long bad_at = -1;     // the stream offset of the first wrong byte
	std::error_code end;       // what next() ended with
};

// How receive() keeps its chunks: up to @chunks at a time, all given back
// together after @pause (meanwhile the kernel may find the pool empty).
struct hold {
	std::size_t chunks = 0; // 0: each chunk goes back at once
	std::chrono::milliseconds pause{0};
};

// Receive stream @seed from @in until next() fails, checking every byte.
template <class Stream>
zcuring::task<outcome> receive(zcuring::ring &r, Stream &in, std::uint64_t seed, hold h = {})
{
	outcome o;
	std::vector<chunk_type_of<Stream>> held;
	held.reserve(h.chunks);
	for (;;) {
		auto c = co_await in.next();
		if (!c) {
			o.end = c.error();
			break;
		}
		long long bad = check(c->data(), seed, o.bytes);
		if (bad >= 0 && o.bad_at < 0)
			o.bad_at = static_cast<long long>(o.bytes) + bad;
		o.bytes += c->size();
		o.biggest = std::max(o.biggest, c->size());
		o.chunks++;
		if constexpr (requires { c->zero_copy(); })
			if (c->zero_copy())
				o.zero_copy++;
		if (h.chunks) {
			held.push_back(std::move(*c));
			if (held.size() >= h.chunks) {
				if (h.pause.count())
					(void)co_await zcuring::async_sleep(r, h.pause);
				held.clear();
			}
		}
	}
	co_return o;
}

// Stream @seed, @total bytes, written into @from by a thread while @in
// receives it on @r (receive()).
template <class Stream>
outcome transfer(zcuring::ring &r, zcuring::unique_fd from, Stream &in, std::size_t total,
                 std::uint64_t seed, hold h = {})
{
	auto t = writer(std::move(from), total, seed);
	auto o = r.run(receive(r, in, seed, h));
	t.join();
	return o;
}

// @o and @in saw all of a stream of @total bytes, every byte right, and
// then its end.
template <class Stream>
void require_whole(const outcome &o, const Stream &in, std::size_t total)
{
	REQUIRE(o.end == zcuring::errc::end_of_stream);
	REQUIRE(in.status() == zcuring::errc::end_of_stream);
	REQUIRE(in.eof());
	REQUIRE(o.bytes == total);
	REQUIRE(in.bytes() == total);
	REQUIRE(o.bad_at == -1);
}

// Stream @seed, @total bytes, written into @from by a thread while @in
// receives it on @r, every chunk kept: for chunks that outlive things.
template <class Stream>
std::vector<chunk_type_of<Stream>> keep_all(zcuring::ring &r, zcuring::unique_fd from, Stream &in,
                                       std::size_t total, std::uint64_t seed)
{
	auto t = writer(std::move(from), total, seed);
	auto kept = r.run([&]() -> zcuring::task<std::vector<chunk_type_of<Stream>>> {
		std::vector<chunk_type_of<Stream>> all;
		while (auto c = co_await in.next())
			all.push_back(std::move(*c));
		co_return all;
	}());
	t.join();
	return kept;
}

// @kept holds stream @seed from its start, @total bytes, every byte right.
template <class Chunk>
void require_kept(const std::vector<Chunk> &kept, std::uint64_t seed, std::size_t total)
{
	std::size_t off = 0;
	for (auto &c : kept) {
		REQUIRE(check(c.data(), seed, off) == -1);
		off += c.size();
	}
	REQUIRE(off == total);
}

// Two streams of @pool on @r, @total bytes each (streams @seed and
// @seed + 1): the first holds its chunks as @h says, the second gives each
// back at once, so it finds the pool empty while the first holds it and
// must be woken when that memory returns. Both arrive whole.
template <class Pool>
void require_starved_goes_on(zcuring::ring &r, Pool &pool, std::size_t total, std::uint64_t seed,
                             hold h)
{
	auto p0 = make_pair(), p1 = make_pair();
	auto s0 = pool.receive(p0.b.get()), s1 = pool.receive(p1.b.get());
	auto w0 = writer(std::move(p0.a), total, seed);
	auto w1 = writer(std::move(p1.a), total, seed + 1);
	outcome o0, o1;
	auto hoarder = [&]() -> zcuring::task<void> { o0 = co_await receive(r, s0, seed, h); };
	auto plain = [&]() -> zcuring::task<void> { o1 = co_await receive(r, s1, seed + 1); };
	r.spawn(hoarder());
	r.spawn(plain());
	r.run();
	w0.join();
	w1.join();
	require_whole(o0, s0, total);
	require_whole(o1, s1, total);
	REQUIRE(s0.rearms() + s1.rearms() > 0);
	REQUIRE(pool.outstanding() == 0);
}

// A stream of @pool dropped after its first chunk while stream @seed still
// comes in: its request is cancelled, and what it held or receives late
// goes back to the pool (the caller looks at outstanding()).
template <class Pool>
void drop_mid_transfer(zcuring::ring &r, Pool &pool, std::uint64_t seed)
{
	auto p = make_pair();
	auto in = pool.receive(p.b.get());
	auto t = writer(std::move(p.a), 2 << 20, seed);
	r.run([&]() -> zcuring::task<void> {
		auto c = co_await in.next();
		REQUIRE(c);
	}());
	in = pool.receive(-1); // the stream goes
	p.b.reset();           // the writer sees the connection die
	t.join();
	r.run([&]() -> zcuring::task<void> {
		(void)co_await zcuring::async_sleep(r, std::chrono::milliseconds(50));
	}());
}

// A recv of up to 16 bytes that a stop request may end: what it got, and
// whether it has finished.
struct stoppable_recv {
	zcuring::result<std::size_t> got = std::size_t{0};
	bool finished = false;

	zcuring::task<void> run(zcuring::ring &r, int fd, std::stop_token st)
	{
		std::byte buf[16];
		got = co_await zcuring::async_recv(r, fd, buf).stop_with(std::move(st));
		finished = true;
	}
};

} // namespace zctest
