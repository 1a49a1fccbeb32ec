// SPDX-License-Identifier: MIT
// Forwarding without copies in user space: RECV_ZC into the pool, then
// SEND_ZC of the same memory from the pool registered as a fixed buffer;
// each chunk goes back to the fill ring only after its send's release.
#include <catch2/catch.hpp>

#include <array>
#include <thread>
#include <vector>

#include "support.hpp"
#include <zcuring/buffers.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/send_zc.hpp>

using namespace zcuring;

TEST_CASE("proxy: recv_zc into the pool and send_zc out of it", "[proxy]")
{
	ring r({.entries = 64, .cq_entries = 1024, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 256 * 4096, .rq_entries = 512});
	std::array<std::span<std::byte>, 1> bufs{rx.pool()};
	fixed_buffers reg(r, bufs);

	auto in = zctest::make_pair();
	auto out = zctest::make_pair();
	constexpr std::size_t total = 4 << 20;
	std::thread producer([&] {
		std::vector<std::byte> buf(65536);
		for (std::size_t off = 0; off < total; off += buf.size()) {
			zctest::fill(buf, 31, off);
			// No REQUIRE off the test's thread: a short send shows
			// as a short total at the sink.
			if (::send(in.a.get(), buf.data(), buf.size(), 0) !=
			    static_cast<ssize_t>(buf.size()))
				break;
		}
		in.a.reset();
	});
	bool ok = true;
	std::size_t sunk = 0;
	std::thread sink([&] {
		std::vector<std::byte> buf(65536);
		for (;;) {
			ssize_t n = ::recv(out.b.get(), buf.data(), buf.size(), 0);
			if (n <= 0)
				break;
			if (zctest::check(std::span(buf).first(static_cast<std::size_t>(n)), 31,
			                  sunk) != -1)
				ok = false;
			sunk += static_cast<std::size_t>(n);
		}
	});

	std::size_t forwarded = 0;
	r.run([&]() -> task<void> {
		auto stream = rx.receive(in.b.get());
		struct in_flight {
			chunk c;
			zc_release rel;
		};
		std::vector<in_flight> window;
		while (auto c = co_await stream.next()) {
			auto sent = co_await async_send_zc(r, out.a.get(), c->data(),
			                                   zc_options{.buf_index = 0u});
			REQUIRE(*sent.bytes == c->size());
			forwarded += c->size();
			window.push_back({std::move(*c), std::move(sent.release)});
			if (window.size() >= 32) {
				for (auto &w : window) {
					auto done_ = co_await std::move(w.rel);
					REQUIRE(done_);
				}
				window.clear(); // chunks go back to the fill ring
			}
		}
		REQUIRE(stream.status() == errc::end_of_stream);
		for (auto &w : window) {
			auto done_ = co_await std::move(w.rel);
			REQUIRE(done_);
		}
	}());
	::shutdown(out.a.get(), SHUT_WR);
	producer.join();
	sink.join();
	REQUIRE(forwarded == total);
	REQUIRE(sunk == total);
	REQUIRE(ok);
	REQUIRE(rx.outstanding() == 0);
}
