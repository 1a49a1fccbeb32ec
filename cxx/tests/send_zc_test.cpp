// SPDX-License-Identifier: MIT
// Zero-copy send with per-request notifications (stock IORING_OP_SEND_ZC,
// on the host's kernel).
#include <catch2/catch.hpp>

#include <array>
#include <vector>

#include "support.hpp"
#include <zcuring/buffers.hpp>
#include <zcuring/send_zc.hpp>

using namespace zcuring;

namespace {

// Read @total bytes from @fd and check them against stream @seed.
task<void> receive_all(ring &r, int fd, std::size_t total, std::uint64_t seed, bool &ok)
{
	std::vector<std::byte> buf(65536);
	std::size_t got = 0;
	ok = true;
	while (got < total) {
		auto n = co_await async_recv(r, fd, buf);
		REQUIRE(n);
		REQUIRE(*n > 0);
		if (zctest::check(std::span(buf).first(*n), seed, got) != -1)
			ok = false;
		got += *n;
	}
}

} // namespace

TEST_CASE("send_zc: result first and release after; pages reusable only then", "[send_zc]")
{
	ring r;
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 4096, count = 500;
	bool ok = false;
	r.spawn(receive_all(r, p.b.get(), msg * count, 7, ok));
	auto sender = [&]() -> task<void> {
		std::vector<std::byte> buf(msg);
		for (std::size_t i = 0; i < count; i++) {
			zctest::fill(buf, 7, i * msg);
			auto sent = co_await async_send_zc(r, p.a.get(), buf);
			REQUIRE(sent.bytes);
			REQUIRE(*sent.bytes == msg);
			auto note = co_await std::move(sent.release);
			REQUIRE(note);
			// Loopback delivers locally, so the kernel copied.
			REQUIRE(note->copied);
			// Only now may the buffer change.
			std::fill(buf.begin(), buf.end(), std::byte{0xee});
		}
	};
	r.spawn(sender());
	r.run();
	REQUIRE(ok);
}

TEST_CASE("send_zc: many sends in flight with releases awaited later", "[send_zc]")
{
	ring r;
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 1024, depth = 64;
	bool ok = false;
	r.spawn(receive_all(r, p.b.get(), msg * depth, 9, ok));
	auto sender = [&]() -> task<void> {
		std::vector<std::byte> buf(msg * depth);
		zctest::fill(buf, 9, 0);
		std::vector<zc_release> releases;
		for (std::size_t i = 0; i < depth; i++) {
			auto sent = co_await async_send_zc(r, p.a.get(),
			                                   std::span(buf).subspan(i * msg, msg));
			REQUIRE(*sent.bytes == msg);
			releases.push_back(std::move(sent.release));
		}
		for (auto &rel : releases) {
			auto done_ = co_await std::move(rel);
			REQUIRE(done_);
		}
	};
	r.spawn(sender());
	r.run();
	REQUIRE(ok);
}

TEST_CASE("send_zc: a release dropped unawaited is consumed by the ring", "[send_zc]")
{
	ring r;
	auto p = zctest::make_pair();
	constexpr std::size_t msg = 512, count = 200;
	bool ok = false;
	static std::array<std::byte, msg * count> buf;
	zctest::fill(buf, 11, 0);
	r.spawn(receive_all(r, p.b.get(), msg * count, 11, ok));
	auto sender = [&]() -> task<void> {
		for (std::size_t i = 0; i < count; i++) {
			auto sent = co_await async_send_zc(r, p.a.get(),
			                                   std::span(buf).subspan(i * msg, msg));
			REQUIRE(*sent.bytes == msg);
		} // each release dropped here
		(void)co_await async_sleep(r, std::chrono::milliseconds(20));
	};
	r.spawn(sender());
	r.run();
	REQUIRE(ok);
	// Entries were recycled, not accumulated: far fewer than the sends.
	auto *t = r.find_extension<detail::zc_notif_table>();
	REQUIRE(t);
	REQUIRE(t->e_.size() < count / 4);
}

TEST_CASE("send_zc from a registered buffer", "[send_zc][fixed]")
{
	ring r;
	auto p = zctest::make_pair();
	std::vector<std::byte> buf(256 * 1024);
	zctest::fill(buf, 13, 0);
	std::array<std::span<std::byte>, 1> bufs{std::span(buf)};
	fixed_buffers reg(r, bufs);
	bool ok = false;
	r.spawn(receive_all(r, p.b.get(), buf.size(), 13, ok));
	auto sender = [&]() -> task<void> {
		for (std::size_t off = 0; off < buf.size(); off += 16384) {
			auto sent = co_await async_send_zc(r, p.a.get(),
			                                   std::span(buf).subspan(off, 16384),
			                                   zc_options{.buf_index = 0u});
			REQUIRE(*sent.bytes == 16384);
			{
				auto done_ = co_await std::move(sent.release);
				REQUIRE(done_);
			}
		}
	};
	r.spawn(sender());
	r.run();
	REQUIRE(ok);
}

TEST_CASE("send_zc errors come back as results", "[send_zc][errors]")
{
	ring r;
	r.run([&]() -> task<void> {
		std::byte b[16] = {};
		auto sent = co_await async_send_zc(r, 1000000, std::span(b));
		REQUIRE(sent.bytes.error() == std::errc::bad_file_descriptor);
		// Whatever the kernel did with the notification, release ends.
		{
			auto done_ = co_await std::move(sent.release);
			REQUIRE(done_);
		}
		int fds[2];
		REQUIRE(::pipe(fds) == 0);
		auto notsock = co_await async_send_zc(r, fds[1], std::span(b));
		REQUIRE(notsock.bytes.error() == std::errc::not_a_socket);
		{
			auto done_ = co_await std::move(notsock.release);
			REQUIRE(done_);
		}
		::close(fds[0]);
		::close(fds[1]);
	}());
}

// The stop and timeout of every operation, on a send that cannot go
// because the peer does not read (the socket is full, and the send waits
// for room: a zero-copy send that tried would not count against the
// socket's buffer on every kernel): the send is cancelled, and its
// notification still comes (or none is due) before the release ends.
TEST_CASE("send_zc: timeout and stop_with cancel a blocked send; its release still ends",
          "[send_zc][cancel]")
{
	using namespace std::chrono_literals;
	ring r;
	auto p = zctest::make_pair();
	std::size_t pos = zctest::fill_until_full(p.a.get(), p.b.get(), 31);
	std::vector<std::byte> buf(64 * 1024);
	zctest::fill(buf, 31, pos);
	const zc_options wait{.poll_first = true};
	bool ok = false;
	std::stop_source stop;
	auto stopper = [&]() -> task<void> {
		REQUIRE(co_await async_sleep(r, 50ms));
		stop.request_stop();
	};
	r.run([&]() -> task<void> {
		auto t = co_await async_send_zc(r, p.a.get(), buf, wait).timeout(50ms);
		REQUIRE(t.bytes.error() == std::errc::timed_out);
		{
			auto done_ = co_await std::move(t.release);
			REQUIRE(done_);
		}

		r.spawn(stopper());
		auto c = co_await async_send_zc(r, p.a.get(), buf, wait).stop_with(stop.get_token());
		REQUIRE(c.bytes.error() == std::errc::operation_canceled);
		{
			auto done_ = co_await std::move(c.release);
			REQUIRE(done_);
		}

		// Stopped before it starts: nothing submitted, nothing to release.
		auto s = co_await async_send_zc(r, p.a.get(), buf, wait).stop_with(stop.get_token());
		REQUIRE(s.bytes.error() == std::errc::operation_canceled);
		REQUIRE(s.release.ready());

		// The peer reads now: the stream goes on where the filler stopped,
		// so no cancelled send put a byte on it.
		r.spawn(receive_all(r, p.b.get(), pos + buf.size(), 31, ok));
		std::size_t off = 0;
		while (off < buf.size()) {
			auto sent = co_await async_send_zc(r, p.a.get(), std::span(buf).subspan(off))
			                    .timeout(10s);
			REQUIRE(sent.bytes);
			off += *sent.bytes;
			auto done_ = co_await std::move(sent.release);
			REQUIRE(done_);
		}
	}());
	r.run();
	REQUIRE(ok);
}
