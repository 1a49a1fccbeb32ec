// SPDX-License-Identifier: MIT
// echo_server: a TCP echo server on the zcuring C++ bindings, and the C++
// side of scripts/bench-echo. It has the structure of the plain-C server
// it is measured against (bench/echo/echo_server_c.c):
//
//   One thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN when the kernel has
//   them), 256 SQ entries, 4096 CQ entries. Connections come from a
//   multishot accept (accept_stream; the C server re-arms a single-shot
//   accept: neither is in the measured steady state). One coroutine per
//   connection with a 4 KiB buffer in its frame: recv -> send what came
//   (until all of it is sent) -> recv again; close on EOF or error. The
//   ring submits and waits in one io_uring_enter per turn of its loop and
//   reaps CQEs in batches. Heap: one coroutine frame per connection,
//   nothing per operation.
//
//   echo_server --port P [--addr 127.0.0.1] [--max-conns N]
//
// --max-conns: exit 0 once N connections have been accepted and closed.
// SIGTERM / SIGINT: close everything and exit 0. Built with
// bench/echo/alloc_counter.cpp it also answers SIGUSR1 / SIGUSR2 with the
// heap allocations in between (see there).
#include <signal.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <system_error>

#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/task.hpp>

#include "common.hpp"

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_signal(int)
{
	stop_requested = 1;
}

struct server {
	zcuring::ring &r;
	unsigned long max_conns = 0; // 0: no limit
	unsigned long accepted = 0;
	unsigned long open = 0;

	bool finished() const noexcept { return max_conns && accepted >= max_conns && open == 0; }
};

// Errors that end neither a connection nor the server.
bool transient(std::error_code ec) noexcept
{
	return ec == std::errc::interrupted || ec == std::errc::resource_unavailable_try_again;
}

zcuring::task<void> serve(server &s, zcuring::unique_fd fd)
{
	std::array<std::byte, 4096> buf;
	bool open = true;
	while (open) {
		auto n = co_await zcuring::async_recv(s.r, fd.get(), buf);
		if (!n && transient(n.error()))
			continue;
		if (!n || *n == 0)
			break; // EOF or error: close
		std::span<const std::byte> rest(buf.data(), *n);
		while (open && !rest.empty()) {
			auto sent = co_await zcuring::async_send(s.r, fd.get(), rest);
			if (sent && *sent > 0)
				rest = rest.subspan(*sent);
			else if (sent || !transient(sent.error()))
				open = false;
		}
	}
	s.open--;
}

zcuring::task<void> accept_loop(server &s, int listen_fd)
{
	zcuring::accept_stream conns(s.r, listen_fd);
	while (!s.max_conns || s.accepted < s.max_conns) {
		auto c = co_await conns.next();
		if (!c) {
			auto ec = c.error();
			// The peer left before the accept, or we are out of
			// descriptors or memory for a moment: keep serving.
			if (ec == std::errc::connection_aborted || ec == std::errc::interrupted ||
			    ec == std::errc::too_many_files_open ||
			    ec == std::errc::too_many_files_open_in_system ||
			    ec == std::errc::no_buffer_space ||
			    ec == std::errc::not_enough_memory ||
			    ec == std::errc::resource_unavailable_try_again)
				continue;
			throw std::system_error(ec, "accept");
		}
		s.accepted++;
		s.open++;
		s.r.spawn(serve(s, std::move(*c)));
	}
}

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: echo_server --port P [--addr 127.0.0.1] [--max-conns N]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	std::string addr = "127.0.0.1";
	unsigned long port = 65536, max_conns = 0;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (a == "--port") {
			if (!zcex::parse_uint(v, 65535, port))
				usage();
		} else if (a == "--addr") {
			addr = v;
		} else if (a == "--max-conns") {
			if (!zcex::parse_uint(v, 1ul << 30, max_conns))
				usage();
		} else {
			usage();
		}
	}
	if (port > 65535)
		usage();

	// No SA_RESTART: a signal ends the ring's wait in io_uring_enter.
	struct sigaction sa;
	std::memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	std::signal(SIGPIPE, SIG_IGN);

	try {
		auto listener = zcuring::tcp_listen(
		        zcuring::endpoint(addr, static_cast<std::uint16_t>(port)), 4096);
		zcuring::ring r({.entries = 256, .cq_entries = 4096});
		server s{r, max_conns};
		r.spawn(accept_loop(s, listener.get()));
		while (!stop_requested && !s.finished())
			r.step();
		// The ring's destructor ends what is in flight, then frees the
		// connections' coroutines (and closes their sockets).
		std::fprintf(stderr, "echo_server: exit, %lu connections accepted\n", s.accepted);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "echo_server: %s\n", e.what());
		return 1;
	}
	return 0;
}
