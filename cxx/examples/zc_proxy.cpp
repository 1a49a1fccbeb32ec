// SPDX-License-Identifier: MIT
// zc_proxy: a forwarding TCP proxy with no copy in user space. Each
// accepted connection is received with IORING_OP_RECV_ZC into the zcrx
// pool, and the same pool memory, registered as fixed buffer 0, goes out
// with IORING_OP_SEND_ZC to the upstream connection. A chunk goes back to
// the fill ring only after the notification of its send says the kernel
// is done with the pages; IORING_SEND_ZC_REPORT_USAGE says whether it had
// to copy them after all.
//
//   zc_proxy --listen ADDR PORT --to HOST PORT [--conns 1] [--inflight 32]
//            [--pool 4M] [--batch 256K] [--rcvbuf B] [--label L]
//            [--dev IFNAME [--rxq 0] [--fallback]] [--expect-zc PCT]
//
// Serves --conns connections (each to EOF, then shuts the upstream side
// down) and prints one line: bytes forwarded, chunks, how many received
// bytes the kernel did not copy and copied (its counters of the pool),
// sends, and how many sends the kernel reported copied. --dev: device
// mode, the pool bound to receive queue --rxq of IFNAME (the NIC writes
// the payload into it; --fallback: device-less if it cannot), so that
// nothing is copied from the wire in to the wire out on a NIC that
// sends zero copy too. --expect-zc: fail unless at least PCT% of the
// received bytes were not copied.
//
// A connection is received --batch bytes at a time (one RECV_ZC with that
// byte limit, then the next), and --rcvbuf (SO_RCVBUF of the accepted
// sockets; in device mode 256K unless given) bounds what waits in the
// socket, so that what a connection holds of the pool stays bounded. In
// device mode that is a must: the NIC receives into the pool, and the
// ACKs that release the proxy's sends arrive through the same NIC queue;
// a proxy that let its sends' chunks and the data behind them take the
// whole pool would leave the NIC nothing to receive those ACKs into, and
// wait for ever. Size the pool for the NIC's ring (e1000e: 768 pages)
// plus, per connection, --batch, --rcvbuf and --inflight sends, and an
// eighth more (the kernel's reserve for copies): --pool 16M for a few
// connections. Exits 1 with one line on stderr on a
// kernel without zero-copy receive (device-less, or device mode with
// --dev) or SEND_ZC, or on any error; 2 on bad usage.
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include <zcuring/buffers.hpp>
#include <zcuring/compose.hpp>
#include <zcuring/features.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/send_zc.hpp>
#include <zcuring/task.hpp>

#include "common.hpp"

namespace {

struct config {
	std::string listen_addr, to_addr;
	unsigned long listen_port = 0, to_port = 0;
	unsigned long conns = 1;
	unsigned long inflight = 32; // sends per connection whose pages are not yet released
	std::uint64_t pool = 4u << 20;
	std::uint64_t batch = 256u << 10; // bytes per RECV_ZC request
	std::uint64_t rcvbuf = 0;         // SO_RCVBUF; 0: the kernel's (device mode: 256K)
	std::string label = "zc_proxy";
	zcex::device_opts dev;
	long expect_zc = -1; // percent of received bytes not copied; < 0: no check
};

struct totals {
	std::uint64_t bytes = 0;  // forwarded
	std::uint64_t chunks = 0; // received by RECV_ZC
	std::uint64_t sends = 0;  // SEND_ZC requests
	std::uint64_t copied = 0; // of which the notification said "copied"
	std::uint64_t rearms = 0;
	unsigned long done = 0;
	double first = 0, last = 0;
};

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: zc_proxy --listen ADDR PORT --to HOST PORT [--conns N] "
	                     "[--inflight N] [--pool B] [--batch B] [--rcvbuf B] [--label L]\n"
	                     "                [--dev IFNAME [--rxq N] [--fallback]] "
	                     "[--expect-zc PCT]\n");
	std::exit(2);
}

[[noreturn]] void fail(const std::string &what)
{
	std::fprintf(stderr, "zc_proxy: %s\n", what.c_str());
	std::exit(1);
}

// A chunk whose pages a send still uses, and the release that frees them.
struct in_flight {
	zcuring::chunk data;
	zcuring::zc_release release;
};

// A fixed window of sends in flight, oldest first: sized once per
// connection, so forwarding allocates nothing per chunk.
class window {
public:
	explicit window(std::size_t n) : slots_(n) {}
	bool full() const noexcept { return count_ == slots_.size(); }
	bool empty() const noexcept { return count_ == 0; }
	void push(in_flight f) { slots_[(head_ + count_++) % slots_.size()] = std::move(f); }
	in_flight &oldest() noexcept { return slots_[head_]; }
	void pop() noexcept
	{
		slots_[head_] = in_flight{}; // the chunk goes back to the fill ring
		head_ = (head_ + 1) % slots_.size();
		count_--;
	}

private:
	std::vector<in_flight> slots_;
	std::size_t head_ = 0, count_ = 0;
};

// What a notification said: count a copy; false (and why) on an error.
bool note_ok(const zcuring::result<zcuring::zc_notification> &note, totals &t, std::string &error)
{
	if (!note) {
		if (error.empty())
			error = "SEND_ZC notification: " + note.error().message();
		return false;
	}
	if (note->copied)
		t.copied++;
	return true;
}

// Forward one connection to EOF. A failure stops the other connections
// (@stop), and is thrown once every send of this one is released; a stop
// ends this one quietly.
zcuring::task<void> forward(zcuring::ring &r, zcuring::zcrx &rx, zcuring::unique_fd down,
                            const zcuring::endpoint &to, const config &cfg, totals &t,
                            std::stop_source &stop)
{
	auto up = zcuring::tcp_socket(to.family());
	if (auto c = co_await zcuring::async_connect(r, up.get(), to); !c) {
		stop.request_stop();
		throw std::system_error(c.error(), "connect upstream");
	}
	std::string error; // what ended this connection early
	// A batch at a time: what the connection holds of the pool stays
	// bounded (see the top of this file).
	auto in = rx.receive(down.get(), cfg.batch);
	window w(cfg.inflight);
	// buf_index 0: the pool is registered buffer 0 (main); the kernel
	// pins nothing per send. MSG_WAITALL: a send is short only on error.
	const zcuring::zc_options zo{.msg_flags = MSG_WAITALL, .buf_index = 0u};
	bool ok = true;
	while (ok) {
		auto c = co_await in.next().stop_with(stop.get_token());
		if (!c) {
			if (c.error() == std::errc::operation_canceled)
				break; // another connection failed
			if (in.status() != zcuring::errc::end_of_stream || in.bytes() < cfg.batch)
				break; // EOF (a short batch) or an error
			// The batch is in: the next one from the same socket.
			t.rearms += in.rearms();
			in = rx.receive(down.get(), cfg.batch);
			continue;
		}
		t.chunks++;
		std::span<const std::byte> rest = c->data();
		zcuring::zc_release last;
		while (ok && !rest.empty()) {
			auto sent = co_await zcuring::async_send_zc(r, up.get(), rest, zo);
			t.sends++;
			if (!sent.bytes || *sent.bytes == 0) {
				error = "SEND_ZC: " + (sent.bytes ? std::string("sent nothing")
				                                  : sent.bytes.error().message());
				// The chunk goes back only once the kernel is done with it.
				(void)co_await std::move(sent.release);
				ok = false;
				break;
			}
			t.bytes += *sent.bytes;
			rest = rest.subspan(*sent.bytes);
			if (!rest.empty()) {
				// A short send: its pages are released before the rest goes.
				ok = note_ok(co_await std::move(sent.release), t, error);
			} else {
				last = std::move(sent.release);
			}
		}
		if (!ok)
			break;
		if (w.full()) {
			// The oldest send's pages are free once its notification
			// is in; only then does its chunk go back (pop).
			ok = note_ok(co_await std::move(w.oldest().release), t, error);
			w.pop();
		}
		w.push({std::move(*c), std::move(last)});
	}
	while (!w.empty()) {
		ok = note_ok(co_await std::move(w.oldest().release), t, error) && ok;
		w.pop();
	}
	if (!ok) {
		stop.request_stop();
		throw std::runtime_error(error);
	}
	if (stop.stop_requested())
		co_return; // another connection failed
	t.rearms += in.rearms();
	if (in.status() != zcuring::errc::end_of_stream) {
		stop.request_stop();
		throw std::runtime_error("RECV_ZC: " + in.status().message());
	}
	(void)co_await zcuring::async_shutdown(r, up.get(), SHUT_WR);
	t.done++;
	t.last = zcex::now_seconds();
}

// Accept cfg.conns connections and forward them all; the first failure
// ends the rest and comes out of here.
zcuring::task<void> forward_all(zcuring::ring &r, zcuring::zcrx &rx, int lfd,
                                const zcuring::endpoint &to, const config &cfg, totals &t)
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
		conns.spawn(forward(r, rx, std::move(*c), to, cfg, t, stop));
	}
	co_await conns.join(); // rethrows a connection's failure
	if (failed)
		throw std::system_error(failed, "accept");
}

int run(const config &cfg)
{
	zcuring::ring r({.entries = 256, .cq_entries = 4096, .cqe32 = true});
	auto f = zcuring::probe(r);
	if (!f.recv_zc && !(f.recv_zc_device && !cfg.dev.dev.empty()))
		fail(f.recv_zc_why);
	if (!f.send_zc)
		fail(f.send_zc_why);
	zcuring::zcrx rx(r, cfg.dev.zcrx(cfg.pool, 1024));
	std::span<std::byte> pool = rx.pool();
	zcuring::fixed_buffers registered(r, std::span(&pool, 1));
	zcuring::endpoint to(cfg.to_addr, static_cast<std::uint16_t>(cfg.to_port));
	auto listener = zcuring::tcp_listen(
	        zcuring::endpoint(cfg.listen_addr, static_cast<std::uint16_t>(cfg.listen_port)),
	        64);
	// Accepted sockets inherit it (and the window it allows).
	std::uint64_t rcvbuf = cfg.rcvbuf;
	if (!rcvbuf && rx.mode() == zcuring::zcrx_mode::device)
		rcvbuf = 256u << 10;
	if (rcvbuf) {
		int v = static_cast<int>(rcvbuf);
		if (::setsockopt(listener.get(), SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)))
			throw std::system_error(errno, std::system_category(), "SO_RCVBUF");
	}
	totals t;
	r.run(forward_all(r, rx, listener.get(), to, cfg, t));
	double secs = t.last > t.first ? t.last - t.first : 1e-9;
	// Receive: the kernel's counters of the pool. Send: the notifications
	// (IORING_NOTIF_USAGE_ZC_COPIED in those the kernel had to copy).
	std::printf("%-10s %lu conns, %s forwarded, %llu RECV_ZC chunks (%llu re-arms; %s), "
	            "%llu SEND_ZC from the pool: %llu not copied, %llu copied, %.1f MiB/s\n",
	            cfg.label.c_str(), t.done, zcex::human_bytes(t.bytes).c_str(),
	            static_cast<unsigned long long>(t.chunks),
	            static_cast<unsigned long long>(t.rearms),
	            zcex::zc_summary(rx, cfg.dev).c_str(),
	            static_cast<unsigned long long>(t.sends),
	            static_cast<unsigned long long>(t.sends - t.copied),
	            static_cast<unsigned long long>(t.copied),
	            static_cast<double>(t.bytes) / (1 << 20) / secs);
	std::fflush(stdout);
	if (cfg.expect_zc >= 0 && zcex::zc_percent(rx) < static_cast<double>(cfg.expect_zc))
		fail("fewer than " + std::to_string(cfg.expect_zc) +
		     "% of the received bytes not copied");
	if (rx.outstanding())
		fail("chunks still held at the end: " + std::to_string(rx.outstanding()));
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	config cfg;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		bool ok = true;
		if (cfg.dev.parse(argc, argv, i, ok)) {
			// taken
		} else if (a == "--listen" || a == "--to") {
			if (i + 2 >= argc)
				usage();
			unsigned long port = 0;
			ok = zcex::parse_uint(argv[i + 2], 65535, port) && port;
			(a == "--listen" ? cfg.listen_addr : cfg.to_addr) = argv[i + 1];
			(a == "--listen" ? cfg.listen_port : cfg.to_port) = port;
			i += 2;
		} else if (i + 1 >= argc) {
			usage();
		} else if (a == "--conns") {
			ok = zcex::parse_uint(argv[++i], 4096, cfg.conns) && cfg.conns;
		} else if (a == "--inflight") {
			ok = zcex::parse_uint(argv[++i], 4096, cfg.inflight) && cfg.inflight;
		} else if (a == "--pool") {
			ok = zcex::parse_size(argv[++i], cfg.pool);
		} else if (a == "--batch") {
			ok = zcex::parse_size(argv[++i], cfg.batch) && cfg.batch <= (1u << 30);
		} else if (a == "--rcvbuf") {
			ok = zcex::parse_size(argv[++i], cfg.rcvbuf) && cfg.rcvbuf <= (1u << 30);
		} else if (a == "--label") {
			cfg.label = argv[++i];
		} else if (a == "--expect-zc") {
			unsigned long pct = 0;
			ok = zcex::parse_uint(argv[++i], 100, pct);
			cfg.expect_zc = static_cast<long>(pct);
		} else {
			ok = false;
		}
		if (!ok)
			usage();
	}
	if (!cfg.listen_port || !cfg.to_port)
		usage();
	try {
		return run(cfg);
	} catch (const std::exception &e) {
		fail(e.what());
	}
}
