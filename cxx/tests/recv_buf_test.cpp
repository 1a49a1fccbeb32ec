// SPDX-License-Identifier: MIT
// The receive fallback (recv_buf.hpp: multishot recv into a ring of
// provided buffers) and the picker (receiver.hpp), on the host's kernel:
// every byte checked, buffers given back, the ring run dry and re-armed.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <chrono>
#include <vector>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/features.hpp>
#include <zcuring/net.hpp>
#include <zcuring/receiver.hpp>
#include <zcuring/recv_buf.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

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
	auto o = zctest::transfer(r, std::move(p.a), in, total, 1);
	zctest::require_whole(o, in, total);
	REQUIRE(o.biggest <= 16384);
	REQUIRE(bufs.returned() == o.chunks);
	REQUIRE(bufs.outstanding() == 0);
}

TEST_CASE("recv_buf: a stream from a direct descriptor (fixed_file) gets every byte",
          "[recv_buf][fixed]")
{
	// The connection accepted into the ring's table of registered files
	// (no descriptor in the process's table): the multishot recv names it
	// by its index, with IOSQE_FIXED_FILE.
	ring r({.entries = 64, .cq_entries = 1024, .fixed_files = 4});
	REQUIRE(r.fixed_files() == 4);
	buf_pool bufs(r, {.buffer_bytes = 16384, .buffers = 64});
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	auto client = tcp_socket(AF_INET);
	REQUIRE(::connect(client.get(), at.data(), at.size()) == 0);
	unique_fixed_file served;
	r.run([&]() -> task<void> {
		accept_direct_stream conns(r, l.get());
		auto c = co_await conns.next();
		REQUIRE(c);
		served = std::move(*c);
	}());
	REQUIRE(served);
	auto in = bufs.receive(served.get());
	constexpr std::size_t total = 8 << 20;
	auto o = zctest::transfer(r, std::move(client), in, total, 3);
	zctest::require_whole(o, in, total);
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
	auto o = zctest::transfer(r, std::move(p.a), in, total, 2, {.chunks = 4, .pause = 2ms});
	INFO("chunks " << o.chunks << " rearms " << in.rearms());
	zctest::require_whole(o, in, total);
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
	zctest::require_starved_goes_on(r, bufs, 2 << 20, 3, {.chunks = 6, .pause = 2ms});
}

TEST_CASE("recv_buf: chunks outlive their stream, the pool and the ring", "[recv_buf][lifetime]")
{
	std::vector<buf_chunk> kept;
	{
		ring r;
		buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 128});
		auto p = zctest::make_pair();
		auto in = bufs.receive(p.b.get());
		kept = zctest::keep_all(r, std::move(p.a), in, 200000, 5);
		REQUIRE(bufs.outstanding() == kept.size());
	}
	// The memory is still mapped: every byte still reads back.
	zctest::require_kept(kept, 5, 200000);
	kept.clear(); // the last chunk frees the memory (ASan would see a leak)
}

TEST_CASE("recv_buf: dropping a stream mid-transfer gives its buffers back",
          "[recv_buf][lifetime]")
{
	ring r;
	buf_pool bufs(r, {.buffer_bytes = 4096, .buffers = 16});
	zctest::drop_mid_transfer(r, bufs, 6);
	REQUIRE(bufs.outstanding() == 0);
	// All 16 buffers are back: a second stream may hold 15 at a time.
	auto p = zctest::make_pair();
	auto in = bufs.receive(p.b.get());
	auto o = zctest::transfer(r, std::move(p.a), in, 1 << 20, 7, {.chunks = 15, .pause = 2ms});
	zctest::require_whole(o, in, 1 << 20);
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
	auto o = zctest::transfer(r, std::move(p.a), in, total, 8);
	zctest::require_whole(o, in, total);
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
	auto o = zctest::transfer(r, std::move(p.a), in, 300000, 9, {.chunks = 3, .pause = 2ms});
	zctest::require_whole(o, in, 300000);
}
