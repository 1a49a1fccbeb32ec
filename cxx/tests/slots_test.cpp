// SPDX-License-Identifier: MIT
// SEND_ZC notification slots through the C++ bindings (VM).
#include <catch2/catch.hpp>

#include <array>
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
