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

// detail::zc_slot_state alone: the CQEs a patched kernel would post are fed
// by hand (the host kernel has no slots; the SQEs the state takes are
// never submitted), so numbering, anchors and wrap are checked without a VM.
namespace {

using slot_state = detail::zc_slot_state;
constexpr std::uint32_t gen_top = detail::gen_mask; // the last 31-bit number

// The @back-th SQE from the end of the SQ (1: the last one taken).
const io_uring_sqe &sqe_from_end(ring &r, unsigned back)
{
	io_uring *u = r.native();
	return u->sq.sqes[(u->sq.sqe_tail - back) & *u->sq.kring_mask];
}

} // namespace

TEST_CASE("slot numbering: a refused flushing send is resynchronised, not counted",
          "[send_zc][slot_state]")
{
	for (std::uint32_t first : {5u, gen_top}) {
		ring r;
		slot_state s;
		s.start(r, 0, first, 1);
		auto ready = io_uring_sq_ready(r.native());
		auto rj = s.join(); // refused at prep: closes nothing in the kernel
		REQUIRE(rj.flush);
		s.on_send_result(rj.gen, -EFAULT);
		// a marker send (fd -1, joins) and a flush right after it
		REQUIRE(io_uring_sq_ready(r.native()) == ready + 2);
		const io_uring_sqe &m = sqe_from_end(r, 2), &f = sqe_from_end(r, 1);
		REQUIRE(m.opcode == IORING_OP_SEND_ZC);
		REQUIRE(m.fd == -1);
		REQUIRE(m.len == 0);
		REQUIRE(f.opcode == IORING_OP_SEND_ZC_FLUSH);
		std::uint32_t fg = static_cast<std::uint32_t>(f.user_data >> 32) & gen_top;
		auto bj = s.join(); // joins the kernel's next generation
		// The kernel: marker in generation first, the flush closes it;
		// B in first + 1. B's notification may come before the flush's
		// CQE: it waits for the anchor.
		s.on_notification((first + 1) & gen_top, false);
		REQUIRE(!s.released(bj.gen));
		s.on_flush(fg, static_cast<int>(first));
		REQUIRE(s.released(bj.gen));
		REQUIRE(!s.released(rj.gen)); // in the marker's generation, still out
		REQUIRE(!s.released(fg));
		s.on_notification(first, false);
		REQUIRE(s.released(rj.gen));
		REQUIRE(s.released(fg));
		// and on: exact again
		auto cj = s.join();
		REQUIRE(!s.released(cj.gen));
		s.on_notification((first + 2) & gen_top, false);
		REQUIRE(s.released(cj.gen));
		REQUIRE(s.anchors() == 1); // everything pruned
	}
}

TEST_CASE("slot numbering: refusals in flight together are covered by one anchor",
          "[send_zc][slot_state]")
{
	ring r;
	slot_state s;
	s.start(r, 0, 100, 1);
	auto s1 = s.join(), s2 = s.join(), a = s.join(); // s1, s2 refused; a joins 100
	auto ready = io_uring_sq_ready(r.native());
	s.on_send_result(s1.gen, -EINVAL);
	s.on_send_result(s2.gen, -ENOMEM); // covered by the first resync
	REQUIRE(io_uring_sq_ready(r.native()) == ready + 2);
	std::uint32_t fg = static_cast<std::uint32_t>(sqe_from_end(r, 1).user_data >> 32) & gen_top;
	REQUIRE(fg == a.gen + 1);
	s.on_flush(fg, 101); // marker in the kernel's 101
	// a's generation is 100 or 101 as far as anyone can tell: both
	s.on_notification(100, false);
	REQUIRE(!s.released(a.gen));
	s.on_notification(101, false);
	REQUIRE(s.released(a.gen));
	REQUIRE(s.released(s1.gen));
	REQUIRE(s.released(s2.gen));
	auto b = s.join();
	s.on_notification(102, false);
	REQUIRE(s.released(b.gen));
}

TEST_CASE("slot numbering: flush_every > 1, a refused send without the flag costs nothing",
          "[send_zc][slot_state]")
{
	ring r;
	slot_state s;
	s.start(r, 0, 0, 3);
	auto a = s.join(), x = s.join(); // x refused
	s.on_send_result(x.gen, -EFAULT);
	// the resync's marker joins a's generation and its flush closes it
	std::uint32_t fg = static_cast<std::uint32_t>(sqe_from_end(r, 1).user_data >> 32) & gen_top;
	REQUIRE(fg == a.gen);
	s.on_flush(fg, 0);
	auto b = s.join(), c = s.join(), d = s.join();
	REQUIRE(d.flush);
	REQUIRE(b.gen == c.gen);
	s.on_notification(1, false);
	REQUIRE(s.released(b.gen));
	REQUIRE(!s.released(a.gen));
	s.on_notification(0, false);
	REQUIRE(s.released(a.gen));
	REQUIRE(s.anchors() == 1);
}

TEST_CASE("slot numbering: -ENODATA resynchronises; a refused marker asks again",
          "[send_zc][slot_state]")
{
	ring r;
	slot_state s;
	s.start(r, 0, 7, 1000);
	auto x = s.join();                      // refused, its CQE not seen yet
	REQUIRE(s.flush());                     // the kernel: -ENODATA
	s.on_flush(x.gen, -ENODATA);            // -> resync
	std::uint32_t f1 = static_cast<std::uint32_t>(sqe_from_end(r, 1).user_data >> 32) & gen_top;
	s.on_send_result(x.gen, -EFAULT);       // covered
	s.on_flush(f1, -ENODATA);               // the marker was refused too
	std::uint32_t f2 = static_cast<std::uint32_t>(sqe_from_end(r, 1).user_data >> 32) & gen_top;
	REQUIRE(f2 != f1);
	REQUIRE(!s.released(x.gen));
	s.on_flush(f2, 7);
	REQUIRE(!s.released(x.gen));
	s.on_notification(7, false);
	REQUIRE(s.released(x.gen));
	auto b = s.join();
	REQUIRE(s.flush());
	s.on_flush(b.gen, 8); // as numbered
	s.on_notification(8, false);
	REQUIRE(s.released(b.gen));
}

TEST_CASE("slot numbering: a re-registration while a resync is out", "[send_zc][slot_state]")
{
	ring r;
	slot_state s;
	s.start(r, 0, 0, 1);
	auto x = s.join(); // refused
	auto a = s.join(); // joins 0
	s.retire();        // unregistering: used since the anchor, so resync
	std::uint32_t f = static_cast<std::uint32_t>(sqe_from_end(r, 1).user_data >> 32) & gen_top;
	s.stop();
	std::uint32_t first = s.open_generation();
	s.start(r, 0, first, 1);
	auto b = s.join(); // new registration: kernel numbers from first
	s.on_notification(first, false);
	REQUIRE(s.released(b.gen));
	s.on_send_result(x.gen, -EFAULT); // late, and covered
	s.on_notification(0, false);
	REQUIRE(!s.released(a.gen)); // a: 0 or 1 until the anchor
	s.on_flush(f, 1);
	REQUIRE(!s.released(a.gen));
	s.on_notification(1, false);
	REQUIRE(s.released(a.gen));
	REQUIRE(s.released(x.gen));
	REQUIRE(s.anchors() == 1);
	auto c = s.join();
	s.on_notification((first + 1) & gen_top, false);
	REQUIRE(s.released(c.gen));
}

TEST_CASE("slot numbering: the error-free path keeps one anchor across the wrap",
          "[send_zc][slot_state]")
{
	ring r;
	slot_state s;
	s.start(r, 0, gen_top - 100, 4);
	std::vector<std::uint32_t> gens;
	for (int i = 0; i < 1000; i++) {
		auto j = s.join();
		gens.push_back(j.gen);
		if (j.flush)
			s.on_notification(j.gen, i % 2);
	}
	for (auto g : gens)
		REQUIRE(s.released(g));
	REQUIRE(s.anchors() == 1);
	REQUIRE(s.open_generation() == ((gen_top - 100 + 250) & gen_top));
}
