// SPDX-License-Identifier: MIT
// The receive fallback allocates nothing per chunk, through the picker
// (receiver, any_rx_stream) and with its ring run dry and re-armed:
// counted by the allocation counter of cxx_alloc_tests.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <vector>

#include "support.hpp"
#include <zcuring/receiver.hpp>

extern "C" unsigned long long zc_alloc_count(void);

using namespace zcuring;

TEST_CASE("recv_buf: receiving, running dry and re-arming allocate nothing",
          "[alloc][recv_buf]")
{
	ring r({.entries = 64, .cq_entries = 256, .cqe32 = true});
	receiver rx(r, {.copy = {.buffer_bytes = 4096, .buffers = 8}, .allow_zero_copy = false});
	REQUIRE(!rx.zero_copy());
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	constexpr std::size_t total = 4 << 20;
	std::size_t bytes = 0, chunks = 0;
	long long bad_at = -1;
	std::error_code end;
	std::vector<any_chunk> held;
	held.reserve(8);
	auto body = [&]() -> task<void> {
		for (;;) {
			auto c = co_await in.next().timeout(std::chrono::seconds(10));
			if (!c) {
				end = c.error();
				break;
			}
			long long bad = zctest::check(c->data(), 11, bytes);
			if (bad >= 0 && bad_at < 0)
				bad_at = static_cast<long long>(bytes) + bad;
			bytes += c->size();
			chunks++;
			// Keep every buffer for a moment now and then: the kernel
			// finds the ring empty, and the stream re-arms.
			held.push_back(std::move(*c));
			if (held.size() == 8) {
				(void)co_await async_sleep(r, std::chrono::milliseconds(1));
				held.clear();
			}
		}
	};
	std::vector<std::byte> buf(65536);
	auto t = body(); // its frame: made before counting
	std::thread w([&, fd = p.a.get()] {
		for (std::size_t off = 0; off < total;) {
			std::size_t len = std::min(buf.size(), total - off);
			zctest::fill(std::span(buf).first(len), 11, off);
			ssize_t n = ::send(fd, buf.data(), len, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += static_cast<std::size_t>(n);
		}
		::shutdown(fd, SHUT_WR);
	});
	unsigned long long before = zc_alloc_count(); // after the thread's state
	r.run(std::move(t));
	unsigned long long n = zc_alloc_count() - before;
	w.join();
	INFO("chunks " << chunks << " rearms " << in.rearms());
	REQUIRE(end == errc::end_of_stream);
	REQUIRE(bytes == total);
	REQUIRE(bad_at == -1);
	REQUIRE(in.rearms() > 0);
	REQUIRE(n == 0);
}
