// SPDX-License-Identifier: MIT
// Zero-copy receive through the C++ bindings, on the patched kernel (VM).
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/features.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_zc.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

TEST_CASE("recv_zc is supported on this kernel", "[recv_zc]")
{
	ring r({.cqe32 = true});
	auto f = probe(r);
	INFO(f.recv_zc_why);
	REQUIRE(f.recv_zc);
}

TEST_CASE("recv_zc: a stream arrives whole with one fill entry per chunk", "[recv_zc]")
{
	for (std::size_t total : {std::size_t{1}, std::size_t{4097}, std::size_t{8} << 20}) {
		ring r({.entries = 64, .cq_entries = 1024, .cqe32 = true});
		zcrx rx(r, {.pool_bytes = 1 << 20, .rq_entries = 1024});
		auto p = zctest::make_pair();
		auto in = rx.receive(p.b.get());
		auto o = zctest::transfer(r, std::move(p.a), in, total, total);
		INFO("total " << total);
		zctest::require_whole(o, in, total);
		REQUIRE(rx.returned() == o.chunks);
		REQUIRE(rx.outstanding() == 0);
	}
}

TEST_CASE("recv_zc: a small pool and a small CQ are re-armed through", "[recv_zc][rearm]")
{
	// 16 pages of pool for 4 MiB, 8 CQEs: -ENOMEM and -ENOSPC both end
	// the request many times; the stream re-arms and loses nothing.
	ring r({.entries = 8, .cq_entries = 8, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 16 * 4096, .rq_entries = 64});
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	constexpr std::size_t total = 4 << 20;
	// Hold 8 chunks at a time: half the pool is out with the application.
	auto o = zctest::transfer(r, std::move(p.a), in, total, 5, {.chunks = 8});
	zctest::require_whole(o, in, total);
	REQUIRE(in.rearms() > 0);
	REQUIRE(rx.outstanding() == 0);
}

TEST_CASE("recv_zc: a byte limit ends the stream there", "[recv_zc]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 1 << 20, .rq_entries = 256});
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get(), 100000);
	auto t = zctest::writer(std::move(p.a), 300000, 6);
	auto o = r.run(zctest::receive(r, in, 6));
	zctest::require_whole(o, in, 100000);
	// The rest is still in the socket, for a plain read.
	std::vector<std::byte> rest(200000);
	std::size_t got = 0;
	while (got < rest.size()) {
		ssize_t n = ::recv(p.b.get(), rest.data() + got, rest.size() - got, 0);
		REQUIRE(n > 0);
		got += static_cast<std::size_t>(n);
	}
	t.join();
	REQUIRE(zctest::check(rest, 6, 100000) == -1);
}

TEST_CASE("recv_zc: chunks outlive the stream and the zcrx object", "[recv_zc][lifetime]")
{
	ring r({.cqe32 = true});
	std::vector<chunk> kept;
	{
		zcrx rx(r, {.pool_bytes = 1 << 20, .rq_entries = 256});
		auto p = zctest::make_pair();
		auto in = rx.receive(p.b.get());
		kept = zctest::keep_all(r, std::move(p.a), in, 200000, 8);
	}
	// The pool is still mapped: every byte still reads back.
	zctest::require_kept(kept, 8, 200000);
	kept.clear(); // the last chunk frees the pool (ASan would see a leak)
}

TEST_CASE("recv_zc: dropping a stream mid-transfer gives its memory back", "[recv_zc][lifetime]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 128});
	zctest::drop_mid_transfer(r, rx, 9);
	REQUIRE(rx.outstanding() == 0);
	// The whole pool is usable again: a second stream needs all of it.
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	auto o = zctest::transfer(r, std::move(p.a), in, 1 << 20, 10, {.chunks = 48});
	zctest::require_whole(o, in, 1 << 20);
}

TEST_CASE("recv_zc: several connections share one pool", "[recv_zc]")
{
	ring r({.entries = 64, .cq_entries = 2048, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 2 << 20, .rq_entries = 2048});
	constexpr int n = 4;
	constexpr std::size_t total = 1 << 20;
	std::vector<zctest::tcp_pair> pairs;
	std::vector<rx_stream> streams;
	std::vector<std::thread> writers;
	std::vector<zctest::outcome> got(n);
	for (int i = 0; i < n; i++) {
		pairs.push_back(zctest::make_pair());
		streams.push_back(rx.receive(pairs.back().b.get()));
	}
	for (int i = 0; i < n; i++)
		writers.push_back(zctest::writer(std::move(pairs[i].a), total, 100 + i));
	// A named lambda: a spawned coroutine reads its captures through it.
	auto one = [&](int i) -> task<void> {
		got[i] = co_await zctest::receive(r, streams[i], 100 + i);
	};
	for (int i = 0; i < n; i++)
		r.spawn(one(i));
	r.run();
	for (auto &w : writers)
		w.join();
	for (int i = 0; i < n; i++)
		zctest::require_whole(got[i], streams[i], total);
}

TEST_CASE("recv_zc: a stream starved by another's held chunks goes on when they return",
          "[recv_zc][rearm]")
{
	// 24 pages for two 2 MiB streams. The first holds up to 16 chunks and
	// lets them go only after a sleep, so the second finds the pool empty
	// (-ENOMEM) again and again and must wait for that memory to return.
	ring r({.entries = 16, .cq_entries = 64, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 24 * 4096, .rq_entries = 64});
	zctest::require_starved_goes_on(r, rx, 2 << 20, 20, {.chunks = 16, .pause = 5ms});
}

TEST_CASE("recv_zc: chunks and a stream outlive the ring, past a full fill ring",
          "[recv_zc][lifetime]")
{
	// More chunks held than the fill ring has entries: giving them back
	// after the ring is gone once had put() flush the dead ring.
	std::vector<chunk> kept;
	std::optional<rx_stream> late;
	{
		auto r = std::make_unique<ring>(ring_options{.cqe32 = true});
		zcrx rx(*r, {.pool_bytes = 2 << 20, .rq_entries = 64});
		auto p = zctest::make_pair();
		auto in = rx.receive(p.b.get());
		kept = zctest::keep_all(*r, std::move(p.a), in, 600000, 12);
		auto q = zctest::make_pair();
		late.emplace(rx.receive(q.b.get()));
		r->run([&]() -> task<void> {
			auto c = co_await late->next().timeout(std::chrono::milliseconds(5));
			REQUIRE(c.error() == std::errc::timed_out);
		}());
		REQUIRE(kept.size() > 64);
		r.reset(); // the ring goes first, zcrx after it
	}
	zctest::require_kept(kept, 12, 600000);
	late->cancel(); // nothing to do: the ring is gone
	late.reset();
	kept.clear(); // no-ops on the fill ring; the last frees the pool
}

TEST_CASE("recv_zc: next() with a timeout or a stop ends the wait; the stream goes on",
          "[recv_zc][cancel]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 1 << 20, .rq_entries = 256});
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	std::stop_source stop;
	auto stopper = [&]() -> task<void> {
		(void)co_await async_sleep(r, 5ms);
		stop.request_stop();
	};
	std::size_t got = 0;
	r.run([&]() -> task<void> {
		auto before = r.stats().cqes;
		auto a = co_await in.next().timeout(20ms);
		REQUIRE(a.error() == std::errc::timed_out);
		REQUIRE(r.stats().cqes - before == 1); // its timer's CQE, nothing else

		std::byte data[1000];
		zctest::fill(data, 14, 0);
		REQUIRE(::send(p.a.get(), data, sizeof(data), 0) == sizeof(data));
		while (got < sizeof(data)) {
			auto c = co_await in.next().timeout(10s);
			REQUIRE(c);
			REQUIRE(zctest::check(c->data(), 14, got) == -1);
			got += c->size();
		}

		auto h = r.spawn(stopper());
		auto s = co_await in.next().stop_with(stop.get_token()).timeout(10s);
		REQUIRE(s.error() == std::errc::operation_canceled);
		co_await std::move(h);

		// The request went on: more data, then EOF.
		zctest::fill(data, 14, got);
		REQUIRE(::send(p.a.get(), data, sizeof(data), 0) == sizeof(data));
		p.a.reset();
		for (;;) {
			auto c = co_await in.next();
			if (!c) {
				REQUIRE(c.error() == errc::end_of_stream);
				break;
			}
			REQUIRE(zctest::check(c->data(), 14, got) == -1);
			got += c->size();
		}
	}());
	REQUIRE(got == 2000);
	REQUIRE(rx.outstanding() == 0);
}
