// SPDX-License-Identifier: MIT
// SEND_ZC notification slots through the C++ bindings (VM).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <stop_token>
#include <thread>
#include <vector>

#include "support.hpp"
#include <zcuring/buffers.hpp>
#include <zcuring/features.hpp>
#include <zcuring/send_zc.hpp>

using namespace zcuring;

namespace {

// Read @total bytes from @fd on a thread and check them.
std::thread checker(int fd, std::size_t total, std::uint64_t seed, bool &ok)
{
	return std::thread([=, &ok] {
		std::vector<std::byte> buf(65536);
		std::size_t got = 0;
		ok = true;
		while (got < total) {
			ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
			if (n <= 0) {
				ok = false;
				return;
			}
			if (zctest::check(std::span(buf).first(static_cast<std::size_t>(n)), seed,
			                  got) != -1)
				ok = false;
			got += static_cast<std::size_t>(n);
		}
	});
}

} // namespace

TEST_CASE("slots are supported on this kernel", "[slots]")
{
	ring r;
	auto f = probe(r);
	INFO(f.slots_why);
	REQUIRE(f.send_zc_slots);
}

TEST_CASE("slots: one notification per generation and buffers reused after it", "[slots]")
{
	ring r;
	zc_slots slots(r, 4, {.flush_every = 8});
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 1024, count = 1000, ring_bufs = 64;
	bool ok = false;
	auto t = checker(p.b.get(), msg * count, 21, ok);
	auto sender = [&]() -> task<void> {
		// A ring of buffers: buffer i % 64 is rewritten only after the
		// release of its previous send.
		std::vector<std::byte> bufs(msg * ring_bufs);
		std::vector<zc_release> pending(ring_bufs);
		for (std::size_t i = 0; i < count; i++) {
			auto b = std::span(bufs).subspan((i % ring_bufs) * msg, msg);
			{
				auto done_ = co_await std::move(pending[i % ring_bufs]);
				REQUIRE(done_);
			}
			zctest::fill(b, 21, i * msg);
			auto sent = co_await async_send_zc(r, p.a.get(), b, zc_slot{1});
			REQUIRE(*sent.bytes == msg);
			pending[i % ring_bufs] = std::move(sent.release);
		}
		for (auto &rel : pending) {
			auto done_ = co_await std::move(rel);
			REQUIRE(done_);
		}
	};
	r.run(sender());
	t.join();
	REQUIRE(ok);
	// 1000 sends, a generation every 8: 125 notifications, no more.
	auto st = slots.stats(1);
	REQUIRE(st.notifications == (count + 7) / 8);
	REQUIRE(slots.stats(0).notifications == 0);
}

TEST_CASE("slots: awaiting an open generation's release closes it", "[slots]")
{
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1000});
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), 3 * 100, 22, ok);
	r.run([&]() -> task<void> {
		std::vector<std::byte> buf(300);
		zctest::fill(buf, 22, 0);
		std::vector<zc_release> rel;
		for (int i = 0; i < 3; i++) {
			auto sent = co_await async_send_zc(
			        r, p.a.get(), std::span(buf).subspan(i * 100, 100), zc_slot{0});
			REQUIRE(*sent.bytes == 100);
			rel.push_back(std::move(sent.release));
		}
		REQUIRE(!rel[0].ready());
		{
			auto done_ = co_await std::move(rel[2]);
			REQUIRE(done_);
		}
		// One generation held all three.
		REQUIRE(rel[0].ready());
		REQUIRE(rel[1].ready());
	}());
	t.join();
	REQUIRE(ok);
	REQUIRE(slots.stats(0).notifications == 1);
}

TEST_CASE("slots: numbering goes on across registrations", "[slots]")
{
	ring r;
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), 2 * 20 * 64, 23, ok);
	std::vector<std::byte> buf(2 * 20 * 64);
	zctest::fill(buf, 23, 0);
	for (int round = 0; round < 2; round++) {
		zc_slots slots(r, 2, {.flush_every = 4});
		r.run([&]() -> task<void> {
			for (int i = 0; i < 20; i++) {
				auto off = static_cast<std::size_t>((round * 20 + i) * 64);
				auto sent = co_await async_send_zc(
				        r, p.a.get(), std::span(buf).subspan(off, 64), zc_slot{1});
				REQUIRE(*sent.bytes == 64);
				{
					auto done_ = co_await std::move(sent.release);
					REQUIRE(done_);
				}
			}
		}());
	}
	t.join();
	REQUIRE(ok);
}

TEST_CASE("slots: sends from a registered buffer", "[slots][fixed]")
{
	ring r;
	zc_slots slots(r, 1, {.flush_every = 16});
	std::vector<std::byte> buf(1 << 20);
	zctest::fill(buf, 24, 0);
	std::array<std::span<std::byte>, 1> bufs{std::span(buf)};
	fixed_buffers reg(r, bufs);
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), buf.size(), 24, ok);
	r.run([&]() -> task<void> {
		std::vector<zc_release> rel;
		for (std::size_t off = 0; off < buf.size(); off += 4096) {
			auto sent = co_await async_send_zc(r, p.a.get(),
			                                   std::span(buf).subspan(off, 4096),
			                                   zc_slot{0}, zc_options{.buf_index = 0u});
			REQUIRE(*sent.bytes == 4096);
			rel.push_back(std::move(sent.release));
		}
		for (auto &x : rel) {
			auto done_ = co_await std::move(x);
			REQUIRE(done_);
		}
	}());
	t.join();
	REQUIRE(ok);
	REQUIRE(slots.stats(0).notifications == buf.size() / 4096 / 16);
}

TEST_CASE("slots: the on-demand flush works after the slot's last socket is closed",
          "[slots][flush]")
{
	ring r;
	zc_slots slots(r, 2, {.flush_every = 1000});
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), 3 * 100, 25, ok);
	std::vector<std::byte> buf(300);
	zctest::fill(buf, 25, 0);
	std::vector<zc_release> rel;
	r.run([&]() -> task<void> {
		for (int i = 0; i < 3; i++) {
			auto sent = co_await async_send_zc(
			        r, p.a.get(), std::span(buf).subspan(i * 100, 100), zc_slot{1});
			REQUIRE(*sent.bytes == 100);
			rel.push_back(std::move(sent.release));
		}
	}());
	t.join();
	REQUIRE(ok);
	p.a.reset(); // no socket is left for a zero-length send to go to
	REQUIRE(!rel[2].ready());
	r.run([&]() -> task<void> {
		auto done_ = co_await std::move(rel[2]);
		REQUIRE(done_);
	}());
	REQUIRE(rel[0].ready());
	REQUIRE(slots.stats(1).notifications == 1);
}

TEST_CASE("slots: over UDP the on-demand flush puts nothing on the wire", "[slots][flush][udp]")
{
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1000});
	unique_fd rx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	unique_fd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	REQUIRE(::bind(rx.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
	REQUIRE(::getsockname(rx.get(), reinterpret_cast<sockaddr *>(&a), &alen) == 0);
	REQUIRE(::connect(tx.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
	constexpr std::size_t dgram = 1000, count = 10;
	std::vector<std::byte> buf(dgram * count);
	zctest::fill(buf, 26, 0);
	r.run([&]() -> task<void> {
		std::vector<zc_release> rel;
		for (std::size_t i = 0; i < count; i++) {
			auto sent = co_await async_send_zc(
			        r, tx.get(), std::span(buf).subspan(i * dgram, dgram), zc_slot{0});
			REQUIRE(*sent.bytes == dgram);
			rel.push_back(std::move(sent.release));
		}
		auto done_ = co_await std::move(rel.back());
		REQUIRE(done_);
		REQUIRE(rel.front().ready());
	}());
	REQUIRE(slots.stats(0).notifications == 1);
	// A one-byte datagram marks the end: everything before it must be the
	// ten datagrams, intact and in order, and nothing else.
	std::byte end{0x5a};
	REQUIRE(::send(tx.get(), &end, 1, 0) == 1);
	std::vector<std::byte> in(65536);
	std::size_t seen = 0;
	for (;;) {
		ssize_t n = ::recv(rx.get(), in.data(), in.size(), 0);
		REQUIRE(n >= 0);
		REQUIRE(n != 0); // a zero-length datagram: a send did the flush
		if (n == 1)
			break;
		REQUIRE(static_cast<std::size_t>(n) == dgram);
		REQUIRE(seen < count);
		REQUIRE(zctest::check(std::span(in).first(dgram), 26, seen * dgram) == -1);
		seen++;
	}
	REQUIRE(seen == count);
}

TEST_CASE("slots: timeout and stop_with end a blocked slot send; its generation still completes",
          "[slots][cancel]")
{
	using namespace std::chrono_literals;
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1000});
	auto p = zctest::make_pair();
	std::size_t pos = zctest::fill_until_full(p.a.get(), p.b.get(), 27);
	std::vector<std::byte> buf(64 * 1024);
	zctest::fill(buf, 27, pos);
	const zc_options wait{.poll_first = true};
	std::stop_source stop;
	auto stopper = [&]() -> task<void> {
		REQUIRE(co_await async_sleep(r, 50ms));
		stop.request_stop();
	};
	r.run([&]() -> task<void> {
		// Each cancelled send joined its generation: awaiting the release
		// closes that generation, and its notification comes.
		auto t = co_await async_send_zc(r, p.a.get(), buf, zc_slot{0}, wait).timeout(50ms);
		REQUIRE(t.bytes.error() == std::errc::timed_out);
		REQUIRE(!t.release.ready());
		{
			auto done_ = co_await std::move(t.release);
			REQUIRE(done_);
		}
		REQUIRE(slots.stats(0).notifications == 1);

		r.spawn(stopper());
		auto c = co_await async_send_zc(r, p.a.get(), buf, zc_slot{0}, wait)
		                 .stop_with(stop.get_token());
		REQUIRE(c.bytes.error() == std::errc::operation_canceled);
		{
			auto done_ = co_await std::move(c.release);
			REQUIRE(done_);
		}
		REQUIRE(slots.stats(0).notifications == 2);

		// Stopped before it starts: it joins nothing.
		auto s = co_await async_send_zc(r, p.a.get(), buf, zc_slot{0}, wait)
		                 .stop_with(stop.get_token());
		REQUIRE(s.bytes.error() == std::errc::operation_canceled);
		REQUIRE(s.release.ready());
	}());
	// The peer reads now; no cancelled send put a byte on the stream.
	bool ok = false;
	auto th = checker(p.b.get(), pos + buf.size(), 27, ok);
	r.run([&]() -> task<void> {
		std::size_t off = 0;
		std::vector<zc_release> rel;
		while (off < buf.size()) {
			auto sent = co_await async_send_zc(r, p.a.get(), std::span(buf).subspan(off),
			                                   zc_slot{0})
			                    .timeout(10s);
			REQUIRE(sent.bytes);
			off += *sent.bytes;
			rel.push_back(std::move(sent.release));
		}
		for (auto &x : rel) {
			auto done_ = co_await std::move(x);
			REQUIRE(done_);
		}
	}());
	th.join();
	REQUIRE(ok);
	REQUIRE(slots.stats(0).notifications == 3);
}

TEST_CASE("slots: flushing an empty slot closes nothing", "[slots][flush]")
{
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1000});
	auto empty = slots.flush(0);
	REQUIRE(empty.ready());
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), 100, 28, ok);
	std::vector<std::byte> buf(100);
	zctest::fill(buf, 28, 0);
	r.run([&]() -> task<void> {
		{
			auto done_ = co_await std::move(empty);
			REQUIRE(done_);
		}
		auto sent = co_await async_send_zc(r, p.a.get(), buf, zc_slot{0});
		REQUIRE(*sent.bytes == 100);
		auto closed = slots.flush(0);
		REQUIRE(!closed.ready());
		REQUIRE(slots.flush(0).ready()); // closed already: empty again
		{
			auto done_ = co_await std::move(closed);
			REQUIRE(done_);
		}
		REQUIRE(sent.release.ready()); // the same generation
	}());
	t.join();
	REQUIRE(ok);
	REQUIRE(slots.stats(0).notifications == 1);
}

TEST_CASE("slots: a send refused at preparation joins nothing; its release still comes",
          "[slots][flush]")
{
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1000});
	auto p = zctest::make_pair();
	bool ok = false;
	auto t = checker(p.b.get(), 200, 29, ok);
	std::vector<std::byte> buf(200);
	zctest::fill(buf, 29, 0);
	r.run([&]() -> task<void> {
		// No registered buffers: the kernel refuses the send when it
		// prepares it (-EFAULT), before it could join the generation.
		auto bad = co_await async_send_zc(r, p.a.get(), std::span(buf).first(100), zc_slot{0},
		                                  zc_options{.buf_index = 7u});
		REQUIRE(bad.bytes.error() == std::errc::bad_address);
		// The bindings cannot tell a refusal from a later failure: they
		// resynchronise (a marker send and a flush), whose generation
		// completes the release.
		{
			auto done_ = co_await std::move(bad.release);
			REQUIRE(done_);
		}
		REQUIRE(slots.stats(0).notifications == 1);
		// Numbering matches the kernel's again: the next generation's
		// notification completes the next release.
		for (int i = 0; i < 2; i++) {
			auto sent = co_await async_send_zc(
			        r, p.a.get(), std::span(buf).subspan(i * 100, 100), zc_slot{0});
			REQUIRE(*sent.bytes == 100);
			auto done_ = co_await std::move(sent.release);
			REQUIRE(done_);
		}
	}());
	t.join();
	REQUIRE(ok);
	REQUIRE(slots.stats(0).notifications == 3);
}

namespace {

// Wait (by polling, never by co_await, which would flush) until every
// release in @rel is ready, at most @limit: a release that waits for a
// generation the kernel numbered otherwise fails here instead of hanging.
task<bool> all_ready_within(ring &r, std::vector<zc_release> &rel, std::chrono::milliseconds limit)
{
	using namespace std::chrono_literals;
	for (auto waited = 0ms; waited < limit; waited += 10ms) {
		if (std::all_of(rel.begin(), rel.end(), [](auto &x) { return x.ready(); }))
			co_return true;
		REQUIRE(co_await async_sleep(r, 10ms));
	}
	co_return false;
}

} // namespace

TEST_CASE("slots: after a send refused at preparation, the later sends' releases come",
          "[slots][refused]")
{
	using namespace std::chrono_literals;
	// flush_every 1: every send closes its generation, the refused one's
	// close closed nothing in the kernel.
	ring r;
	zc_slots slots(r, 1, {.flush_every = 1});
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 512, count = 8;
	bool ok = false;
	auto t = checker(p.b.get(), msg * count, 30, ok);
	std::vector<std::byte> buf(msg * count);
	zctest::fill(buf, 30, 0);
	r.run([&]() -> task<void> {
		std::vector<zc_release> rel;
		for (std::size_t i = 0; i < count; i++) {
			if (i == 0 || i == 3) {
				// a registered-buffer index past the (empty) table
				auto bad = co_await async_send_zc(r, p.a.get(),
				                                  std::span(buf).subspan(i * msg, msg),
				                                  zc_slot{0}, zc_options{.buf_index = 9u});
				REQUIRE(bad.bytes.error() == std::errc::bad_address);
				rel.push_back(std::move(bad.release));
			}
			auto sent = co_await async_send_zc(r, p.a.get(),
			                                   std::span(buf).subspan(i * msg, msg),
			                                   zc_slot{0});
			REQUIRE(*sent.bytes == msg);
			rel.push_back(std::move(sent.release));
		}
		REQUIRE(co_await all_ready_within(r, rel, 5000ms));
		for (auto &x : rel) {
			auto done_ = co_await std::move(x);
			REQUIRE(done_);
		}
	}());
	t.join();
	REQUIRE(ok);
}

TEST_CASE("slots: refusals among sends in flight, several per generation", "[slots][refused]")
{
	using namespace std::chrono_literals;
	ring r;
	zc_slots slots(r, 2, {.flush_every = 3});
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 256, count = 40;
	bool ok = false;
	auto t = checker(p.b.get(), msg * count, 31, ok);
	std::vector<std::byte> buf(msg * count);
	zctest::fill(buf, 31, 0);
	r.run([&]() -> task<void> {
		std::vector<zc_release> rel;
		std::size_t next = 0, started = 0;
		for (int round = 0; next < count; round++) {
			// a few sends started together, a refused one among them
			// (at a varying place, so that it sometimes carries the
			// generation's flush flag)
			auto one = [&](std::size_t i, bool refuse) -> task<void> {
				zc_options o{};
				if (refuse)
					o.buf_index = 5u;
				auto s = co_await async_send_zc(r, p.a.get(),
				                                std::span(buf).subspan(i * msg, msg),
				                                zc_slot{1}, o);
				if (refuse) {
					REQUIRE(s.bytes.error() == std::errc::bad_address);
				} else {
					REQUIRE(*s.bytes == msg);
				}
				rel.push_back(std::move(s.release));
			};
			for (int k = 0; k < 4 && next < count; k++) {
				bool refuse = k == round % 4;
				started++;
				r.spawn(one(refuse ? next : next++, refuse));
			}
			REQUIRE(co_await async_sleep(r, 1ms));
		}
		for (int i = 0; rel.size() < started && i < 500; i++)
			REQUIRE(co_await async_sleep(r, 10ms));
		REQUIRE(rel.size() == started);
		(void)slots.flush(1);
		REQUIRE(co_await all_ready_within(r, rel, 5000ms));
		for (auto &x : rel) {
			auto done_ = co_await std::move(x);
			REQUIRE(done_);
		}
	}());
	t.join();
	REQUIRE(ok);
}
