// SPDX-License-Identifier: MIT
// The receive fallback (recv_buf.hpp: multishot recv into a ring of
// provided buffers) and the picker (receiver.hpp), on the host's kernel:
// every byte checked, buffers given back, the ring run dry and re-armed.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <thread>
#include <vector>

#include "support.hpp"
#include <zcuring/features.hpp>
#include <zcuring/receiver.hpp>
#include <zcuring/recv_buf.hpp>

using namespace zcuring;

namespace {

struct outcome {
	std::size_t bytes = 0;
	std::size_t chunks = 0;
	std::size_t biggest = 0;
	long long bad_at = -1;
	std::error_code end;
};

// Receive a whole stream, checking every byte; with @hold, keep up to that
// many chunks and give them back only after a short sleep (the kernel
// meanwhile finds the ring empty).
template <class Stream>
task<outcome> receive(ring &r, Stream &in, std::uint64_t seed, std::size_t hold = 0)
{
	using chunk_type = typename decltype(in.next().await_resume())::value_type;
	outcome o;
	std::vector<chunk_type> held;
	for (;;) {
		auto c = co_await in.next();
		if (!c) {
			o.end = c.error();
			break;
		}
		long long bad = zctest::check(c->data(), seed, o.bytes);
		if (bad >= 0 && o.bad_at < 0)
			o.bad_at = static_cast<long long>(o.bytes) + bad;
		o.bytes += c->size();
		o.biggest = std::max(o.biggest, c->size());
		o.chunks++;
		if (hold) {
			held.push_back(std::move(*c));
			if (held.size() >= hold) {
				(void)co_await async_sleep(r, std::chrono::milliseconds(2));
				held.clear();
			}
		}
	}
	co_return o;
}

} // namespace

TEST_CASE("recv_buf: 8 MiB over loopback arrive whole, one buffer back per chunk",
          "[recv_buf]")
{
	ring r({.entries = 64, .cq_entries = 1024});
	buf_pool bufs(r, {.buffer_bytes = 16384, .buffers = 64});
	REQUIRE(bufs.buffers() == 64);
	REQUIRE(bufs.buffer_bytes() == 16384);
	auto p = zctest::make_pair();
	auto in = bufs.receive(p.b.get());
	constexpr std::size_t total = 8 << 20;
	auto t = zctest::writer(std::move(p.a), total, 1);
	auto o = r.run(receive(r, in, 1));
	t.join();
	REQUIRE(o.end == errc::end_of_stream);
	REQUIRE(in.status() == errc::end_of_stream);
	REQUIRE(o.bytes == total);
	REQUIRE(in.bytes() == total);
	REQUIRE(o.bad_at == -1);
	REQUIRE(o.biggest <= 16384);
	REQUIRE(in.eof());
	REQUIRE(bufs.returned() == o.chunks);
	REQUIRE(bufs.outstanding() == 0);
}

TEST_CASE("recv_buf: a ring run dry (ENOBUFS) is re-armed and loses nothing",
          "[recv_buf][rearm]")
{
	// 4 buffers of 4 KiB for 8 MiB, and the application keeps all 4
	// before it gives them back: the kernel ends the request with
	// -ENOBUFS again and again; the stream waits for a buffer, re-arms,
	// and every byte still arrives in order.
	ring r({.entries = 16, .cq_entries = 64});
	buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 4});
	auto p = zctest::make_pair();
	auto in = bufs.receive(p.b.get());
	constexpr std::size_t total = 8 << 20;
	auto t = zctest::writer(std::move(p.a), total, 2);
	auto o = r.run(receive(r, in, 2, 4));
	t.join();
	INFO("chunks " << o.chunks << " rearms " << in.rearms());
	REQUIRE(o.end == errc::end_of_stream);
	REQUIRE(o.bytes == total);
	REQUIRE(o.bad_at == -1);
	REQUIRE(in.rearms() > 0);
	REQUIRE(bufs.outstanding() == 0);
	REQUIRE(bufs.returned() == o.chunks);
}

TEST_CASE("recv_buf: a stream starved by another's held buffers goes on when they return",
          "[recv_buf][rearm]")
{
	// 8 buffers for two 2 MiB streams; the first keeps up to 6 of them
	// for a while, so the second finds the ring empty and must be woken
	// by the first's buffers coming back.
	ring r({.entries = 16, .cq_entries = 64});
	buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 8});
	constexpr std::size_t total = 2 << 20;
	auto p0 = zctest::make_pair(), p1 = zctest::make_pair();
	auto s0 = bufs.receive(p0.b.get()), s1 = bufs.receive(p1.b.get());
	auto w0 = zctest::writer(std::move(p0.a), total, 3);
	auto w1 = zctest::writer(std::move(p1.a), total, 4);
	outcome o0, o1;
	auto hoarder = [&]() -> task<void> { o0 = co_await receive(r, s0, 3, 6); };
	auto plain = [&]() -> task<void> { o1 = co_await receive(r, s1, 4); };
	auto h0 = r.spawn(hoarder());
	auto h1 = r.spawn(plain());
	r.run([&]() -> task<void> {
		co_await std::move(h0);
		co_await std::move(h1);
	}());
	w0.join();
	w1.join();
	REQUIRE(o0.end == errc::end_of_stream);
	REQUIRE(o1.end == errc::end_of_stream);
	REQUIRE(o0.bytes == total);
	REQUIRE(o1.bytes == total);
	REQUIRE(o0.bad_at == -1);
	REQUIRE(o1.bad_at == -1);
	REQUIRE(s0.rearms() + s1.rearms() > 0);
	REQUIRE(bufs.outstanding() == 0);
}

TEST_CASE("recv_buf: chunks outlive their stream, the pool and the ring", "[recv_buf][lifetime]")
{
	std::vector<buf_chunk> kept;
	std::size_t bytes = 0;
	{
		ring r;
		buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 128});
		auto p = zctest::make_pair();
		auto in = bufs.receive(p.b.get());
		auto t = zctest::writer(std::move(p.a), 200000, 5);
		r.run([&]() -> task<void> {
			while (auto c = co_await in.next()) {
				bytes += c->size();
				kept.push_back(std::move(*c));
			}
		}());
		t.join();
		REQUIRE(bufs.outstanding() == kept.size());
	}
	// The memory is still mapped: every byte still reads back.
	std::size_t off = 0;
	for (auto &c : kept) {
		REQUIRE(zctest::check(c.data(), 5, off) == -1);
		off += c.size();
	}
	REQUIRE(off == bytes);
	REQUIRE(bytes == 200000);
	kept.clear(); // the last chunk frees the memory (ASan would see a leak)
}

TEST_CASE("recv_buf: dropping a stream mid-transfer gives its buffers back",
          "[recv_buf][lifetime]")
{
	ring r;
	buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 16});
	{
		auto p = zctest::make_pair();
		auto in = bufs.receive(p.b.get());
		auto t = zctest::writer(std::move(p.a), 2 << 20, 6);
		r.run([&]() -> task<void> {
			auto c = co_await in.next();
			REQUIRE(c);
		}());
		in = bufs.receive(-1); // the stream goes: cancelled, late buffers back
		p.b.reset();
		t.join();
		r.run([&]() -> task<void> {
			(void)co_await async_sleep(r, std::chrono::milliseconds(50));
		}());
	}
	REQUIRE(bufs.outstanding() == 0);
	// All 16 buffers are back: a second stream may hold 15 at a time.
	auto p = zctest::make_pair();
	auto in = bufs.receive(p.b.get());
	auto t = zctest::writer(std::move(p.a), 1 << 20, 7);
	auto o = r.run(receive(r, in, 7, 15));
	t.join();
	REQUIRE(o.bytes == (1u << 20));
	REQUIRE(o.bad_at == -1);
}

TEST_CASE("recv_buf: options are checked and groups do not collide", "[recv_buf]")
{
	ring r;
	for (auto o : {buf_pool_options{.buffers = 100}, buf_pool_options{.buffers = 0},
	               buf_pool_options{.buffer_bytes = 0}, buf_pool_options{.group = 70000}}) {
		try {
			buf_pool b(r, o);
			FAIL("bad options accepted");
		} catch (const std::system_error &e) {
			INFO(e.what());
			REQUIRE(e.code() == std::errc::invalid_argument);
			REQUIRE(std::string(e.what()).find("buf_pool") != std::string::npos);
		}
	}
	buf_pool a(r, {.buffers = 8}), b(r, {.buffers = 8});
	REQUIRE(a.group() != b.group());
	try {
		buf_pool c(r, {.buffers = 8, .group = a.group()});
		FAIL("a group taken twice");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == std::errc::file_exists);
	}
	// A group freed is free again.
	unsigned g;
	{
		buf_pool c(r, {.buffers = 8, .group = 9});
		g = c.group();
	}
	buf_pool d(r, {.buffers = 8, .group = static_cast<int>(g)});
	REQUIRE(d.group() == 9);
}

TEST_CASE("receiver: one line picks zero copy where the kernel can, else the fallback",
          "[receiver]")
{
	ring r({.entries = 64, .cq_entries = 1024, .cqe32 = true});
	auto f = probe(r);
	receiver rx(r);
	INFO("probe: " << f.recv_zc_why << "; receiver: " << rx.fallback_reason());
	// The host's kernel (no device-less zcrx, or not the zcuring series)
	// takes the fallback; the VM suite runs this on the patched kernel.
	REQUIRE(rx.zero_copy() == f.recv_zc);
	REQUIRE(rx.fallback_reason().empty() == rx.zero_copy());
	REQUIRE((rx.buffers() != nullptr) == !rx.zero_copy());
	if (!rx.zero_copy())
		REQUIRE(rx.fallback_error() == errc::unsupported);
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	REQUIRE(in.zero_copy() == rx.zero_copy());
	constexpr std::size_t total = 8 << 20;
	auto t = zctest::writer(std::move(p.a), total, 8);
	auto o = r.run(receive(r, in, 8));
	t.join();
	REQUIRE(o.end == errc::end_of_stream);
	REQUIRE(in.status() == errc::end_of_stream);
	REQUIRE(o.bytes == total);
	REQUIRE(in.bytes() == total);
	REQUIRE(o.bad_at == -1);
	REQUIRE(rx.outstanding() == 0);
}

TEST_CASE("receiver: a ring with 16-byte CQEs, or zero copy not allowed, takes the fallback",
          "[receiver]")
{
	ring r16;
	receiver a(r16);
	REQUIRE(!a.zero_copy());
	REQUIRE(a.fallback_reason().find("cqe32") != std::string::npos);

	ring r({.cqe32 = true});
	receiver b(r, {.allow_zero_copy = false});
	REQUIRE(!b.zero_copy());
	REQUIRE(b.fallback_reason().find("allow_zero_copy") != std::string::npos);
	auto p = zctest::make_pair();
	auto in = b.receive(p.b.get());
	auto t = zctest::writer(std::move(p.a), 300000, 9);
	auto o = r.run(receive(r, in, 9, 3));
	t.join();
	REQUIRE(o.bytes == 300000);
	REQUIRE(o.bad_at == -1);
}
