// SPDX-License-Identifier: MIT
// echo_server: a TCP echo server on the zcuring C++ bindings, and the C++
// side of scripts/bench-echo. It has the structure of the plain-C server
// it is measured against (bench/echo/echo_server_c.c):
//
//   One thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN when the kernel has
//   them), 256 SQ entries, 4096 CQ entries. Connections come from a
//   multishot accept (accept_stream; the C server re-arms a single-shot
//   accept: neither is in the measured steady state). One coroutine per
//   connection with (--recv single, the default) a 4 KiB buffer in its
//   frame: recv -> send what came
//   (until all of it is sent) -> recv again; close on EOF or error. The
//   ring submits and waits in one io_uring_enter per turn of its loop and
//   reaps CQEs in batches. Heap: the coroutine frames of a connection,
//   nothing per operation.
//
//   Structure: when_any(accept_all, wait_for_signal): the first to finish
//   stops the other. accept_all runs the connections in a task_scope and
//   joins them before it returns, so every coroutine ends inside run();
//   a stop (a signal) ends the accept and every connection's next recv.
//
//   With --files fixed (the default) the ring registers its own fd and
//   accepts into direct descriptors (accept_direct_stream), as peer
//   libraries do, when the kernel allows; --files plain: neither, as the
//   C server.
//
//   --recv stream: in place of a recv per request, one multishot recv per
//   connection into a pool of provided buffers (the library's receive
//   stream, recv_buf.hpp: 1024 buffers of 4 KiB shared by the
//   connections, each back in the pool once its bytes are sent). Not the C
//   server's structure; scripts/bench-echo-insn measures it for
//   comparison (bench/results/echo-insn-2026-12-03-stream: cheaper than
//   C at 1 connection, dearer at 8 and 64). The kernel reads ahead of
//   what the server has sent back: a peer that sends and never reads
//   fills the pool, and the other connections wait for buffers.
//   --recv single (the default): a recv per request, and the socket's
//   own buffer is all a peer can fill.
//
//   In either mode a send that waits for a peer that does not read is not
//   stopped by a signal (only recvs are): the C server does not stop one
//   either.
//
//   echo_server --port P [--addr 127.0.0.1] [--max-conns N] [--files fixed|plain]
//               [--recv single|stream]
//
// --max-conns: exit 0 once N connections have been accepted and closed.
// SIGTERM / SIGINT: close everything and exit 0. Built with
// testlib/alloc_counter.cpp it also answers SIGUSR1 / SIGUSR2 with the
// heap allocations in between (see there).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <system_error>

#include <zcuring/compose.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_buf.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/task.hpp>

#include "common.hpp"

namespace {

// SIGTERM and SIGINT write a byte here; wait_for_signal() reads it.
int signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int)
{
	char c = 1;
	(void)!::write(signal_pipe[1], &c, 1);
}

struct server {
	zcuring::ring &r;
	zcuring::buf_pool *bufs; // --recv stream; null: --recv single
	unsigned long max_conns = 0; // 0: no limit
	unsigned long accepted = 0;
};

// Errors that end neither a connection nor the server.
bool transient(std::error_code ec) noexcept
{
	return ec == std::errc::interrupted || ec == std::errc::resource_unavailable_try_again;
}

// Errors of accept that do not end the server: the peer left before the
// accept, or we are out of descriptors or memory for a moment.
bool accept_goes_on(std::error_code ec) noexcept
{
	return ec == std::errc::connection_aborted || ec == std::errc::interrupted ||
	       ec == std::errc::too_many_files_open ||
	       ec == std::errc::too_many_files_open_in_system ||
	       ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory ||
	       ec == std::errc::resource_unavailable_try_again;
}

// recv -> send it all back -> recv ..., until EOF, an error, or a stop
// (which cancels the recv that waits for the peer).
// Conn: a unique_fd, or a unique_fixed_file (a direct descriptor: no file
// lookup per request).
template <class Conn>
zcuring::task<void> serve(zcuring::ring &r, Conn fd, std::stop_token st)
{
	std::array<std::byte, 4096> buf;
	bool open = true;
	while (open) {
		auto n = co_await zcuring::async_recv(r, fd.get(), buf).stop_with(st);
		if (!n && transient(n.error()))
			continue;
		if (!n || *n == 0)
			break; // EOF, error or stop: close
		std::span<const std::byte> rest(buf.data(), *n);
		while (open && !rest.empty()) {
			auto sent = co_await zcuring::async_send(r, fd.get(), rest);
			if (sent && *sent > 0)
				rest = rest.subspan(*sent);
			else if (sent || !transient(sent.error()))
				open = false;
		}
	}
}

// The same with the library's receive stream (recv_buf.hpp): one multishot
// recv per connection, into the buffers of a pool shared by the
// connections; each chunk goes back to the pool once it is sent.
template <class Conn>
zcuring::task<void> serve_stream(zcuring::ring &r, zcuring::buf_pool &bufs, Conn fd,
                                 std::stop_token st)
{
	auto in = bufs.receive(fd.get());
	bool open = true;
	// A stream hands out what it has queued before it looks at the token:
	// a peer that never stops sending would never see the stop otherwise.
	while (open && !st.stop_requested()) {
		auto c = co_await in.next().stop_with(st);
		if (!c)
			break; // EOF, error or stop: close
		std::span<const std::byte> rest = c->data();
		while (open && !rest.empty()) {
			auto sent = co_await zcuring::async_send(r, fd.get(), rest);
			if (sent && *sent > 0)
				rest = rest.subspan(*sent);
			else if (sent || !transient(sent.error()))
				open = false;
		}
	}
}

// Accept up to max_conns connections (or until stopped), serve each, and
// return when every one has closed. Accept: accept_stream, or
// accept_direct_stream (connections as direct descriptors).
template <class Accept>
zcuring::task<void> accept_all(server &s, int listen_fd, std::stop_token st)
{
	// The connections stop with the server, or when accept fails.
	std::stop_source conn_stop;
	std::stop_callback chain(st, [&conn_stop]() noexcept { conn_stop.request_stop(); });
	zcuring::task_scope conns(s.r);
	Accept in(s.r, listen_fd);
	std::error_code failed;
	while (!s.max_conns || s.accepted < s.max_conns) {
		auto c = co_await in.next().stop_with(st);
		if (!c) {
			if (c.error() == std::errc::operation_canceled)
				break; // the server stops
			if (accept_goes_on(c.error()))
				continue;
			failed = c.error();
			conn_stop.request_stop();
			break;
		}
		s.accepted++;
		if (s.bufs)
			conns.spawn(serve_stream(s.r, *s.bufs, std::move(*c), conn_stop.get_token()));
		else
			conns.spawn(serve(s.r, std::move(*c), conn_stop.get_token()));
	}
	co_await conns.join();
	if (failed)
		throw std::system_error(failed, "accept");
}

zcuring::task<void> wait_for_signal(zcuring::ring &r, std::stop_token st)
{
	std::byte b[1];
	(void)co_await zcuring::async_read(r, signal_pipe[0], b, 0).stop_with(st);
}

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: echo_server --port P [--addr 127.0.0.1] [--max-conns N]\n"
	                     "                   [--files fixed|plain] [--recv single|stream]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	std::string addr = "127.0.0.1";
	unsigned long port = 65536, max_conns = 0;
	bool want_fixed = true, stream = false;
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
		} else if (a == "--files") {
			if (std::strcmp(v, "fixed") && std::strcmp(v, "plain"))
				usage();
			want_fixed = !std::strcmp(v, "fixed");
		} else if (a == "--recv") {
			if (std::strcmp(v, "stream") && std::strcmp(v, "single"))
				usage();
			stream = !std::strcmp(v, "stream");
		} else if (a == "--max-conns") {
			if (!zcex::parse_uint(v, 1ul << 30, max_conns))
				usage();
		} else {
			usage();
		}
	}
	if (port > 65535)
		usage();

	// The handler never blocks on a full pipe; the ring reads the other
	// end (blocking: the read waits in the kernel, not with -EAGAIN).
	if (::pipe2(signal_pipe, O_CLOEXEC) ||
	    ::fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK)) {
		std::perror("echo_server: pipe");
		return 1;
	}
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
		// --files fixed (the default): the ring registers its own fd and
		// a table of direct descriptors that connections are accepted
		// into, when the kernel allows (5.18/5.19); plain descriptors
		// otherwise, or with --files plain.
		zcuring::ring r({.entries = 256,
		                 .cq_entries = 4096,
		                 .register_ring_fd = want_fixed,
		                 .fixed_files = want_fixed ? 4096u : 0u});
		// --recv stream: 4 KiB buffers, as the recv per request has.
		std::optional<zcuring::buf_pool> bufs;
		if (stream)
			bufs.emplace(r, zcuring::buf_pool_options{.buffer_bytes = 4096,
			                                          .buffers = 1024});
		server s{r, bufs ? &*bufs : nullptr, max_conns};
		const bool fixed = r.fixed_files() != 0;
		std::fprintf(stderr, "echo_server: %s descriptors, ring fd %s\n",
		             fixed ? "direct" : "plain",
		             r.ring_fd_registered() ? "registered" : "not registered");
		// Until --max-conns connections have come and gone, or a signal.
		std::stop_source stop;
		auto accept = fixed ? accept_all<zcuring::accept_direct_stream>(s, listener.get(),
		                                                                stop.get_token())
		                    : accept_all<zcuring::accept_stream>(s, listener.get(),
		                                                         stop.get_token());
		(void)r.run(zcuring::when_any(stop, std::move(accept),
		                              wait_for_signal(r, stop.get_token())));
		std::fprintf(stderr, "echo_server: exit, %lu connections accepted\n", s.accepted);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "echo_server: %s\n", e.what());
		return 1;
	}
	return 0;
}
