// SPDX-License-Identifier: MIT
// Sockets: connect, accept (single and multishot), send/recv, msg
// variants, shutdown, close, and many connections at once.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "support.hpp"
#include <zcuring/net.hpp>

using namespace zcuring;

TEST_CASE("connect accept send recv shutdown and close", "[net]")
{
	for (const char *addr : {"127.0.0.1", "::1"}) {
		ring r;
		auto l = tcp_listen(endpoint(addr, 0));
		auto at = endpoint::local_of(l.get());
		r.run([&]() -> task<void> {
			auto c = tcp_socket(at.family());
			auto conn = co_await async_connect(r, c.get(), at);
			REQUIRE(conn);
			auto a = co_await async_accept(r, l.get());
			REQUIRE(a);
			unique_fd s(*a);

			std::vector<std::byte> out(100000), in(100000);
			zctest::fill(out, 3, 0);
			auto sent = co_await async_send_all(r, c.get(), out);
			REQUIRE(*sent == out.size());
			{
				auto done_ = co_await async_shutdown(r, c.get());
				REQUIRE(done_);
			}
			std::size_t got = 0;
			for (;;) {
				auto n =
				        co_await async_recv(r, s.get(), std::span(in).subspan(got));
				REQUIRE(n);
				if (!*n)
					break;
				got += *n;
			}
			REQUIRE(got == out.size());
			REQUIRE(zctest::check(in, 3, 0) == -1);
			auto closed = co_await async_close(r, s.release());
			INFO(closed.error().message());
			REQUIRE(closed);
		}());
	}
}

TEST_CASE("connecting to a closed port is refused", "[net][errors]")
{
	ring r;
	// A port that was just free.
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	l.reset();
	auto res = r.run([&]() -> task<result<void>> {
		auto c = tcp_socket(AF_INET);
		co_return co_await async_connect(r, c.get(), at);
	}());
	REQUIRE(res.error() == std::errc::connection_refused);
}

TEST_CASE("sendmsg and recvmsg move scattered buffers", "[net]")
{
	ring r;
	auto p = zctest::make_pair();
	std::vector<std::byte> a(3000), b(5000), in(8000);
	zctest::fill(a, 4, 0);
	zctest::fill(b, 4, a.size());
	r.run([&]() -> task<void> {
		iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
		msghdr m{};
		m.msg_iov = iov;
		m.msg_iovlen = 2;
		auto s = co_await async_sendmsg(r, p.a.get(), &m, MSG_WAITALL);
		REQUIRE(*s == 8000);
		iovec riov[1] = {{in.data(), in.size()}};
		msghdr rm{};
		rm.msg_iov = riov;
		rm.msg_iovlen = 1;
		auto n = co_await async_recvmsg(r, p.b.get(), &rm, MSG_WAITALL);
		REQUIRE(*n == 8000);
	}());
	REQUIRE(zctest::check(in, 4, 0) == -1);
}

TEST_CASE("multishot accept streams connections; cancel ends it", "[net][accept]")
{
	ring r;
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.get());
		std::vector<unique_fd> clients;
		for (int i = 0; i < 10; i++) {
			clients.push_back(tcp_socket(AF_INET));
			REQUIRE(::connect(clients.back().get(), at.data(), at.size()) == 0);
		}
		for (int i = 0; i < 10; i++) {
			auto c = co_await conns.next();
			REQUIRE(c);
			REQUIRE(c->get() >= 0);
		}
		conns.cancel();
		auto end = co_await conns.next();
		REQUIRE(end.error() == std::errc::operation_canceled);
	}());
}

TEST_CASE("dropping an accept stream closes what it had not handed out", "[net][accept]")
{
	int before = zctest::open_fds();
	{
		ring r;
		auto l = tcp_listen(endpoint("127.0.0.1", 0));
		auto at = endpoint::local_of(l.get());
		std::vector<unique_fd> clients;
		r.run([&]() -> task<void> {
			accept_stream conns(r, l.get());
			clients.push_back(tcp_socket(AF_INET));
			REQUIRE(::connect(clients.back().get(), at.data(), at.size()) == 0);
			{
				auto done_ = co_await conns.next();
				REQUIRE(done_);
			}
			// Three more are accepted into the stream's queue...
			for (int i = 0; i < 3; i++) {
				clients.push_back(tcp_socket(AF_INET));
				REQUIRE(::connect(clients.back().get(), at.data(), at.size()) == 0);
			}
			(void)co_await async_sleep(r, std::chrono::milliseconds(20));
			// ...and closed when the stream goes, here.
		}());
		// The request's final CQE (after the cancel) frees the state.
		r.run([&]() -> task<void> {
			(void)co_await async_sleep(r, std::chrono::milliseconds(20));
		}());
	}
	REQUIRE(zctest::open_fds() == before);
}

TEST_CASE("an echo server with 100 concurrent connections", "[net][echo]")
{
	ring r({.entries = 64});
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	constexpr int conns = 100;
	constexpr std::size_t per_conn = 64 * 1024;
	int verified = 0;

	auto serve = [&](unique_fd c) -> task<void> {
		std::byte buf[1500];
		for (;;) {
			auto n = co_await async_recv(r, c.get(), buf);
			REQUIRE(n);
			if (!*n)
				co_return;
			{
				auto done_ =
				        co_await async_send_all(r, c.get(), std::span(buf, *n));
				REQUIRE(done_);
			}
		}
	};
	auto server = [&]() -> task<void> {
		accept_stream acc(r, l.get());
		for (int i = 0; i < conns; i++) {
			auto c = co_await acc.next();
			REQUIRE(c);
			r.spawn(serve(std::move(*c)));
		}
	};
	auto client = [&](int id) -> task<void> {
		auto c = tcp_socket(AF_INET);
		{
			auto done_ = co_await async_connect(r, c.get(), at);
			REQUIRE(done_);
		}
		std::vector<std::byte> out(per_conn), in(per_conn);
		zctest::fill(out, id, 0);
		std::size_t sent = 0, got = 0;
		// Messages of varying size, each echoed before the next.
		for (std::size_t k = 1; sent < per_conn; k++) {
			std::size_t len =
			        std::min<std::size_t>(per_conn - sent, 100 * k % 3000 + 1);
			auto wrote = co_await async_send_all(r, c.get(),
			                                     std::span(out).subspan(sent, len));
			REQUIRE(wrote);
			REQUIRE(*wrote == len);
			sent += len;
			while (got < sent) {
				auto n = co_await async_recv(
				        r, c.get(), std::span(in).subspan(got, sent - got));
				REQUIRE(n);
				REQUIRE(*n > 0);
				got += *n;
			}
		}
		REQUIRE(zctest::check(in, id, 0) == -1);
		verified++;
	};
	r.spawn(server());
	for (int i = 0; i < conns; i++)
		r.spawn(client(i + 1));
	r.run();
	REQUIRE(verified == conns);
}

TEST_CASE("a ring registers its own fd and a table of direct descriptors", "[net][fixed]")
{
	ring r({.fixed_files = 8});
	// The host kernels this runs on (6.1 and later) have both.
	REQUIRE(r.ring_fd_registered());
	REQUIRE(r.fixed_files() == 8);
	REQUIRE(r.run([&]() -> task<bool> { co_return bool(co_await async_nop(r)); }()));

	ring plain({.register_ring_fd = false});
	REQUIRE_FALSE(plain.ring_fd_registered());
	REQUIRE(plain.fixed_files() == 0);
}

// The loop enters the kernel itself (ring::enter): by the registered
// index or by the fd, with and without DEFER_TASKRUN. A read that waits
// in the kernel while nops and then a write run beside it: each is
// submitted, waited for and reaped.
TEST_CASE("the loop's io_uring_enter submits and waits in every ring set-up", "[net][fixed]")
{
	for (bool reg : {true, false}) {
		for (bool defer : {true, false}) {
			CAPTURE(reg, defer);
			ring r({.defer_taskrun = defer, .register_ring_fd = reg});
			REQUIRE(r.ring_fd_registered() == reg);
			int p[2];
			REQUIRE(::pipe(p) == 0);
			std::array<std::byte, 5> in{}, out{std::byte{1}, std::byte{2}, std::byte{3},
			                                  std::byte{4}, std::byte{5}};
			auto reader = [&]() -> task<std::size_t> {
				auto n = co_await async_read(r, p[0], in, 0);
				co_return n ? *n : 0;
			};
			auto writer = [&]() -> task<int> {
				int ok = 0;
				for (int i = 0; i < 3; i++) // the reader waits meanwhile
					ok += bool(co_await async_nop(r));
				auto n = co_await async_write(r, p[1], out, 0);
				co_return n && *n == out.size() ? ok : -1;
			};
			auto rd = r.spawn(reader());
			auto wr = r.spawn(writer());
			auto before = r.stats().enters;
			auto both = [&]() -> task<std::pair<std::size_t, int>> {
				auto n = co_await std::move(rd);
				auto w = co_await std::move(wr);
				co_return std::pair{n, w};
			};
			auto [n, w] = r.run(both());
			REQUIRE(n == in.size());
			REQUIRE(in == out);
			REQUIRE(w == 3);
			REQUIRE(r.stats().enters > before);
			::close(p[0]);
			::close(p[1]);
		}
	}
}

namespace {

// In a child (limits cannot be undone): the table a ring gets under a
// soft RLIMIT_NOFILE of 64 and hard limit @hard. Exit status 0 if it has
// @want entries and the soft limit is now at least that (liburing may
// have raised it further itself).
int table_under_limit(rlim_t hard, unsigned ask, unsigned want)
{
	pid_t pid = ::fork();
	if (pid == 0) {
		rlimit rl{64, hard};
		if (::setrlimit(RLIMIT_NOFILE, &rl))
			::_exit(10);
		unsigned got;
		{
			ring r({.fixed_files = ask});
			got = r.fixed_files();
		}
		if (::getrlimit(RLIMIT_NOFILE, &rl))
			::_exit(11);
		::_exit(got == want && rl.rlim_cur >= want ? 0 : 12);
	}
	int st = 0;
	REQUIRE(::waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

} // namespace

TEST_CASE("a direct descriptor table beyond RLIMIT_NOFILE raises the soft limit or fits the hard one",
          "[net][fixed]")
{
	rlimit rl;
	REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 256)
		return zctest::skip("hard RLIMIT_NOFILE below 256");
	// Room under the hard limit: the soft one goes up to the table's size.
	REQUIRE(table_under_limit(rl.rlim_max, 256, 256) == 0);
	// Hard limit 128: the table has 128 entries.
	REQUIRE(table_under_limit(128, 256, 128) == 0);
}

TEST_CASE("accept_direct_stream moves bytes and fills and frees its table",
          "[net][fixed][accept]")
{
	ring r({.fixed_files = 2});
	REQUIRE(r.fixed_files() == 2);
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	int before = zctest::open_fds();
	r.run([&]() -> task<void> {
		accept_direct_stream conns(r, l.get());
		std::vector<unique_fd> clients;
		std::vector<unique_fixed_file> served;
		for (int i = 0; i < 3; i++) {
			clients.push_back(tcp_socket(AF_INET));
			REQUIRE(::connect(clients.back().get(), at.data(), at.size()) == 0);
		}
		for (int i = 0; i < 2; i++) {
			auto c = co_await conns.next();
			REQUIRE(c);
			REQUIRE(*c);
			served.push_back(std::move(*c));
		}
		// Direct descriptors take no slot in the process's fd table.
		REQUIRE(zctest::open_fds() == before + 3);
		REQUIRE(served[0].get().index != served[1].get().index);
		// Every byte through each, both ways.
		for (int i = 0; i < 2; i++) {
			std::array<std::byte, 3000> out, in;
			for (std::size_t k = 0; k < out.size(); k++)
				out[k] = std::byte(k * 7 + i);
			REQUIRE(::send(clients[i].get(), out.data(), out.size(), 0) == 3000);
			std::size_t got = 0;
			while (got < in.size()) {
				auto n = co_await async_recv(r, served[i].get(),
				                             std::span(in).subspan(got));
				REQUIRE(n);
				REQUIRE(*n > 0);
				got += *n;
			}
			REQUIRE(in == out);
			auto s = co_await async_send(r, served[i].get(), std::span(in));
			REQUIRE(s);
			REQUIRE(*s == 3000);
			std::array<std::byte, 3000> back;
			REQUIRE(::recv(clients[i].get(), back.data(), back.size(), MSG_WAITALL) == 3000);
			REQUIRE(back == out);
		}
		// The table is full: the kernel accepts the third connection,
		// finds no slot and closes it (-ENFILE ends the request)...
		auto full = co_await conns.next();
		REQUIRE_FALSE(full);
		REQUIRE(full.error() == std::errc::too_many_files_open_in_system);
		char c = 0;
		REQUIRE(::recv(clients[2].get(), &c, 1, 0) == 0);
		// ...and once a slot is freed, next() re-arms and the next
		// connection takes it.
		served[0].reset();
		REQUIRE_FALSE(served[0]);
		REQUIRE(::recv(clients[0].get(), &c, 1, 0) == 0); // freed: closed
		clients.push_back(tcp_socket(AF_INET));
		REQUIRE(::connect(clients.back().get(), at.data(), at.size()) == 0);
		auto fourth = co_await conns.next();
		REQUIRE(fourth);
		REQUIRE(fourth->get().index == 0);
		conns.cancel();
		auto end = co_await conns.next();
		REQUIRE(end.error() == std::errc::operation_canceled);
	}());
}

TEST_CASE("a direct descriptor may outlive its ring", "[net][fixed][lifetime]")
{
	auto l = tcp_listen(endpoint("127.0.0.1", 0));
	auto at = endpoint::local_of(l.get());
	auto client = tcp_socket(AF_INET);
	unique_fixed_file kept;
	{
		ring r({.fixed_files = 4});
		REQUIRE(::connect(client.get(), at.data(), at.size()) == 0);
		r.run([&]() -> task<void> {
			accept_direct_stream conns(r, l.get());
			auto c = co_await conns.next();
			REQUIRE(c);
			kept = std::move(*c);
		}());
		REQUIRE(kept);
	}
	// The ring closed the connection and detached the handle.
	REQUIRE_FALSE(kept);
	char c = 0;
	REQUIRE(::recv(client.get(), &c, 1, 0) == 0);
	kept.reset();
}
