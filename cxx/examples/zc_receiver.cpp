// SPDX-License-Identifier: MIT
// zc_receiver: zero-copy receive (IORING_OP_RECV_ZC) of N TCP connections
// into one zcrx pool, every byte checked against the examples' pattern
// (common.hpp), each chunk handed back to the fill ring as soon as it is
// checked. The sender is a mode of the same program.
//
//   zc_receiver --port P [--addr 0.0.0.0] [--conns 1] [--bytes B] [--label L]
//               [--pool 4M] [--dev IFNAME [--rxq 0] [--fallback]] [--expect-zc PCT]
//       accept --conns connections, receive each to EOF; --bytes: how many
//       each must carry. Prints one line: bytes verified, chunks, re-arms,
//       throughput, and how many bytes the kernel did not copy and copied
//       (its counters of the pool). --dev: device mode, the pool bound to
//       receive queue --rxq of IFNAME, whose NIC writes the payload into it
//       (or fail; --fallback: device-less if the NIC cannot). --expect-zc:
//       fail unless at least PCT% of the bytes were not copied.
//   zc_receiver --send HOST PORT BYTES [--conns 1]
//       the sender: --conns connections to HOST:PORT, BYTES of the pattern
//       on each (plain sends), then close. Retries the connect for 10 s, so
//       it may start before the receiver listens.
//
// Exits 1 with one line on stderr on a kernel without zero-copy receive
// (device-less, or device mode with --dev), on a wrong byte, on fewer
// bytes not copied than --expect-zc, or on any error; 2 on bad usage.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include <zcuring/compose.hpp>
#include <zcuring/features.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/task.hpp>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

struct config {
	std::string addr = "0.0.0.0";
	unsigned long port = 0;
	unsigned long conns = 1;
	std::uint64_t bytes = 0; // per connection; 0: whatever comes
	std::uint64_t pool = 4u << 20;
	std::string label = "zc_receiver";
	bool send = false;
	zcex::device_opts dev;
	long expect_zc = -1; // percent not copied at least; < 0: no check
};

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: zc_receiver --port P [--addr A] [--conns N] [--bytes B] "
	                     "[--label L] [--pool B]\n"
	                     "                   [--dev IFNAME [--rxq N] [--fallback]] "
	                     "[--expect-zc PCT]\n"
	                     "       zc_receiver --send HOST PORT BYTES [--conns N]\n");
	std::exit(2);
}

[[noreturn]] void fail(const std::string &what)
{
	std::fprintf(stderr, "zc_receiver: %s\n", what.c_str());
	std::exit(1);
}

// --- receive ------------------------------------------------------------

struct rx_totals {
	std::uint64_t bytes = 0;  // received, and each one checked
	std::uint64_t chunks = 0; // data CQEs
	std::uint64_t rearms = 0;
	unsigned long done = 0; // connections received to the end
	double first = 0, last = 0;
};

// Receive one connection to EOF, checking every byte. A failure stops the
// other connections (@stop) and is thrown; a stop ends this one quietly.
zcuring::task<void> receive_one(zcuring::zcrx &rx, zcuring::unique_fd fd, const config &cfg,
                                rx_totals &t, unsigned long index, std::stop_source &stop)
{
	auto fail_conn = [&](const std::string &what) {
		stop.request_stop();
		return std::runtime_error("connection " + std::to_string(index) + ": " + what);
	};
	auto in = rx.receive(fd.get());
	std::uint64_t pos = 0;
	std::error_code end;
	for (;;) {
		auto c = co_await in.next().stop_with(stop.get_token());
		if (!c) {
			end = c.error();
			break;
		}
		long long bad = zcex::pattern_check(c->data(), pos);
		if (bad >= 0)
			throw fail_conn("wrong byte at offset " +
			                std::to_string(pos + static_cast<std::uint64_t>(bad)));
		pos += c->size();
		t.chunks++;
		// c goes out of scope here: one fill-ring entry, no syscall
	}
	t.bytes += pos;
	t.rearms += in.rearms();
	if (end == std::errc::operation_canceled)
		co_return; // another connection failed
	if (end != zcuring::errc::end_of_stream)
		throw fail_conn("RECV_ZC: " + end.message());
	if (cfg.bytes && pos != cfg.bytes)
		throw fail_conn(std::to_string(pos) + " bytes instead of " +
		                std::to_string(cfg.bytes));
	t.done++;
	t.last = zcex::now_seconds();
}

// Accept cfg.conns connections and receive them all; the first failure
// ends the rest and comes out of here.
zcuring::task<void> receive_all(zcuring::ring &r, zcuring::zcrx &rx, int lfd, const config &cfg,
                                rx_totals &t)
{
	std::stop_source stop;
	zcuring::task_scope conns(r);
	zcuring::accept_stream in(r, lfd);
	std::error_code failed;
	for (unsigned long i = 0; i < cfg.conns; i++) {
		auto c = co_await in.next().stop_with(stop.get_token());
		if (!c) {
			if (c.error() != std::errc::operation_canceled) {
				failed = c.error();
				stop.request_stop();
			}
			break;
		}
		if (!t.first)
			t.first = zcex::now_seconds();
		conns.spawn(receive_one(rx, std::move(*c), cfg, t, i, stop));
	}
	co_await conns.join(); // rethrows a connection's failure
	if (failed)
		throw std::system_error(failed, "accept");
}

int receive_main(const config &cfg)
{
	zcuring::ring r({.entries = 256, .cq_entries = 4096, .cqe32 = true});
	auto f = zcuring::probe(r);
	// Device mode needs the zcrx query only; the registration tells.
	if (!f.recv_zc && !(f.recv_zc_device && !cfg.dev.dev.empty()))
		fail(f.recv_zc_why);
	zcuring::zcrx rx(r, cfg.dev.zcrx(cfg.pool, 1024));
	auto listener = zcuring::tcp_listen(
	        zcuring::endpoint(cfg.addr, static_cast<std::uint16_t>(cfg.port)), 64);
	rx_totals t;
	r.run(receive_all(r, rx, listener.get(), cfg, t));
	double secs = t.last > t.first ? t.last - t.first : 1e-9;
	// From the kernel's counters of the pool: device-less mode copies
	// every byte into it, device mode most of none.
	std::printf("%-10s %lu conns, %s verified, %llu RECV_ZC chunks (%.0f B each), %llu re-arms, "
	            "%.1f MiB/s; %s\n",
	            cfg.label.c_str(), t.done, zcex::human_bytes(t.bytes).c_str(),
	            static_cast<unsigned long long>(t.chunks),
	            t.chunks ? static_cast<double>(t.bytes) / static_cast<double>(t.chunks) : 0.0,
	            static_cast<unsigned long long>(t.rearms),
	            static_cast<double>(t.bytes) / (1 << 20) / secs,
	            zcex::zc_summary(rx, cfg.dev).c_str());
	std::fflush(stdout);
	if (cfg.expect_zc >= 0 && zcex::zc_percent(rx) < static_cast<double>(cfg.expect_zc))
		fail("fewer than " + std::to_string(cfg.expect_zc) + "% of the bytes not copied");
	if (rx.outstanding())
		fail("chunks still held at the end: " + std::to_string(rx.outstanding()));
	return 0;
}

// --- send ---------------------------------------------------------------

zcuring::task<void> send_one(zcuring::ring &r, const zcuring::endpoint &to, std::uint64_t total)
{
	zcuring::unique_fd fd;
	for (int tries = 0;; tries++) {
		fd = zcuring::tcp_socket(to.family());
		auto c = co_await zcuring::async_connect(r, fd.get(), to);
		if (c)
			break;
		if (c.error() != std::errc::connection_refused || tries >= 200)
			throw std::system_error(c.error(), "connect");
		(void)co_await zcuring::async_sleep(r, 50ms);
	}
	std::vector<std::byte> buf(64 << 10);
	for (std::uint64_t pos = 0; pos < total;) {
		std::size_t n =
		        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), total - pos));
		std::span<std::byte> piece(buf.data(), n);
		zcex::pattern_fill(piece, pos);
		auto sent = co_await zcuring::async_send_all(r, fd.get(), piece);
		if (!sent)
			throw std::system_error(sent.error(), "send");
		if (*sent != n)
			throw std::runtime_error("send: short");
		pos += n;
	}
	// closing the socket (fd's destructor) is the receiver's EOF
}

int send_main(const std::string &host, unsigned long port, std::uint64_t bytes, unsigned long conns)
{
	zcuring::ring r;
	zcuring::endpoint to(host, static_cast<std::uint16_t>(port));
	try {
		r.run([&]() -> zcuring::task<void> {
			zcuring::task_scope senders(r);
			for (unsigned long i = 0; i < conns; i++)
				senders.spawn(send_one(r, to, bytes));
			co_await senders.join();
		}());
	} catch (const std::exception &e) {
		fail(std::string("sender: ") + e.what());
	}
	return 0;
}
} // namespace

int main(int argc, char **argv)
{
	config cfg;
	std::string host;
	std::uint64_t send_bytes = 0;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--send") {
			if (i + 3 >= argc || !zcex::parse_uint(argv[i + 2], 65535, cfg.port) ||
			    !zcex::parse_size(argv[i + 3], send_bytes))
				usage();
			host = argv[i + 1];
			cfg.send = true;
			i += 3;
			continue;
		}
		bool ok = true;
		if (cfg.dev.parse(argc, argv, i, ok)) {
			if (!ok)
				usage();
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (a == "--port")
			ok = zcex::parse_uint(v, 65535, cfg.port);
		else if (a == "--addr")
			cfg.addr = v;
		else if (a == "--conns")
			ok = zcex::parse_uint(v, 4096, cfg.conns) && cfg.conns;
		else if (a == "--bytes")
			ok = zcex::parse_size(v, cfg.bytes);
		else if (a == "--pool")
			ok = zcex::parse_size(v, cfg.pool);
		else if (a == "--label")
			cfg.label = v;
		else if (a == "--expect-zc") {
			unsigned long pct = 0;
			ok = zcex::parse_uint(v, 100, pct);
			cfg.expect_zc = static_cast<long>(pct);
		} else
			ok = false;
		if (!ok)
			usage();
	}
	if (!cfg.port)
		usage();
	try {
		if (cfg.send)
			return send_main(host, cfg.port, send_bytes, cfg.conns);
		return receive_main(cfg);
	} catch (const std::system_error &e) {
		fail(e.what());
	} catch (const std::exception &e) {
		fail(e.what());
	}
}
