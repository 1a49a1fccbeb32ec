// SPDX-License-Identifier: MIT
// Device-mode zero-copy receive through the C++ bindings (VM): the pool
// bound to the receive queue of the first emulated e1000e NIC (10.7.0.1,
// this namespace), the sender behind the second (10.7.0.2, namespace
// zc-peer), as vm/e1000e-pair.sh sets them up. Without the pair, the
// cases that need it skip (catch-tap.sh: "ZC_SKIP: reason").
#include <catch2/catch.hpp>

#include <net/if.h>
#include <sched.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/buffers.hpp>
#include <zcuring/features.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/send_zc.hpp>

using namespace zcuring;

namespace {

constexpr const char *dev_addr = "10.7.0.1";
constexpr const char *peer_addr = "10.7.0.2";
constexpr const char *peer_ns = "zc-peer";

// Why this boot cannot run a device case, or empty.
std::string no_pair(std::string &name, unsigned &idx)
{
	idx = zctest::nic_with(dev_addr, name);
	if (!idx)
		return std::string("no NIC with ") + dev_addr +
		       ": the e1000e pair (scripts/vm-run --e1000e, vm/e1000e-pair.sh) is absent";
	struct stat st;
	if (::stat((std::string("/run/netns/") + peer_ns).c_str(), &st))
		return std::string("no network namespace ") + peer_ns;
	return {};
}

// Run @f with this thread in network namespace @ns: sockets it makes
// stay there.
template <class F>
auto in_netns(const char *ns, F &&f)
{
	unique_fd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
	unique_fd other(::open((std::string("/run/netns/") + ns).c_str(), O_RDONLY | O_CLOEXEC));
	if (!self || !other || ::setns(other.get(), CLONE_NEWNET))
		throw std::system_error(errno, std::system_category(), "setns");
	struct back {
		int fd;
		~back() { ::setns(fd, CLONE_NEWNET); }
	} restore{self.get()};
	return f();
}

// A connection from the peer's namespace to @to: {peer side, our side}.
zctest::tcp_pair connect_from_peer(int listener)
{
	auto at = endpoint::local_of(listener);
	auto a = in_netns(peer_ns, [&] { return tcp_socket(at.family()); });
	if (::connect(a.get(), at.data(), at.size()))
		throw std::system_error(errno, std::system_category(), "connect from zc-peer");
	int b = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
	if (b < 0)
		throw std::system_error(errno, std::system_category(), "accept");
	return {std::move(a), unique_fd(b)};
}

// Sends of 1 MiB, as a bulk sender would make them (zctest::writer()).
constexpr std::size_t block = 1 << 20;

zcrx_counters counters(const zcrx &rx)
{
	auto c = rx.counters();
	INFO("zcrx::counters(): " << c.error().message());
	REQUIRE(c);
	return *c;
}

} // namespace

TEST_CASE("device: a stream over e1000e arrives whole, at least 95% not copied", "[device]")
{
	std::string name;
	unsigned idx;
	if (auto why = no_pair(name, idx); !why.empty())
		return zctest::skip(why);
	ring r({.entries = 64, .cq_entries = 4096, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 4 << 20, .rq_entries = 4096, .if_index = idx});
	REQUIRE(rx.mode() == zcrx_mode::device);
	REQUIRE(!rx.device_error());
	auto c0 = counters(rx);

	constexpr std::size_t total = 8 << 20;
	auto l = tcp_listen(endpoint(dev_addr, 0), 4);
	auto p = connect_from_peer(l.get());
	auto in = rx.receive(p.b.get());
	auto t = zctest::writer(std::move(p.a), total, 41, block);
	auto o = r.run(zctest::receive(r, in, 41));
	t.join();
	auto c1 = counters(rx);
	std::uint64_t zc = c1.bytes_zc - c0.bytes_zc, cp = c1.bytes_copied - c0.bytes_copied;
	std::printf("# %zu bytes over %s: %llu not copied, %llu copied\n", o.bytes, name.c_str(),
	            static_cast<unsigned long long>(zc), static_cast<unsigned long long>(cp));
	zctest::require_whole(o, in, total);
	REQUIRE(zc + cp == total);
	REQUIRE(zc >= total * 95 / 100);
	REQUIRE(rx.outstanding() == 0);
}

TEST_CASE("device: a device that cannot throws, or falls back to device-less when asked",
          "[device][fallback]")
{
	// lo: a driver that cannot fill a queue from a pool (-EOPNOTSUPP);
	// no such interface: -ENODEV. Neither needs the e1000e pair.
	unsigned lo = ::if_nametoindex("lo");
	REQUIRE(lo);
	// 0: what if_nametoindex() gives for an unknown name.
	for (unsigned idx : {lo, 0x7fffffffu, 0u}) {
		INFO("if_index " << idx);
		ring r({.cqe32 = true});
		try {
			zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx});
			FAIL("device mode on a device that cannot: no error");
		} catch (const std::system_error &e) {
			INFO(e.what());
			REQUIRE(e.code() == (idx == lo ? recv_errc::device_unsupported
			                               : recv_errc::no_such_device));
		}
		zcrx rx(r, {.pool_bytes = 256 * 4096,
		            .rq_entries = 256,
		            .if_index = idx,
		            .fallback = zcrx_fallback::device_less});
		REQUIRE(rx.mode() == zcrx_mode::device_less);
		REQUIRE(rx.device_error() ==
		        (idx == lo ? std::errc::operation_not_supported : std::errc::no_such_device));
		// The device-less instance works, and its counters say copied.
		constexpr std::size_t total = 1 << 20;
		auto p = zctest::make_pair();
		auto in = rx.receive(p.b.get());
		auto o = zctest::transfer(r, std::move(p.a), in, total, 43);
		zctest::require_whole(o, in, total);
		auto c = counters(rx);
		REQUIRE(c.bytes_zc == 0);
		REQUIRE(c.bytes_copied == total);
	}
}

TEST_CASE("device: a device-less instance counts every byte copied", "[device][fallback]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 256 * 4096, .rq_entries = 256});
	REQUIRE(rx.mode() == zcrx_mode::device_less);
	REQUIRE(!rx.device_error());
	REQUIRE(counters(rx).bytes_copied == 0);
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	auto o = zctest::transfer(r, std::move(p.a), in, 300000, 44);
	zctest::require_whole(o, in, 300000);
	auto c = counters(rx);
	REQUIRE(c.bytes_zc == 0);
	REQUIRE(c.bytes_copied == 300000);
}

TEST_CASE("device: a queue another instance holds falls back; freed, it binds again",
          "[device][fallback]")
{
	std::string name;
	unsigned idx;
	if (auto why = no_pair(name, idx); !why.empty())
		return zctest::skip(why);
	auto r1 = std::make_unique<ring>(ring_options{.cqe32 = true});
	auto rx1 = std::make_unique<zcrx>(
	        *r1, zcrx_options{.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx});
	REQUIRE(rx1->mode() == zcrx_mode::device);

	ring r2({.cqe32 = true});
	using namespace std::chrono_literals;
	try {
		zcrx busy(r2, {.pool_bytes = 64 * 4096,
		               .rq_entries = 256,
		               .if_index = idx,
		               .device_wait = 200ms});
		FAIL("a second instance on a bound queue: no error");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == std::errc::file_exists);
	}
	{
		zcrx other(r2, {.pool_bytes = 64 * 4096,
		                .rq_entries = 256,
		                .if_index = idx,
		                .fallback = zcrx_fallback::device_less,
		                .device_wait = 200ms});
		REQUIRE(other.mode() == zcrx_mode::device_less);
		REQUIRE(other.device_error() == std::errc::file_exists);
	}
	// The first ring goes; its exit unbinds asynchronously, and the
	// next registration waits for that (device_wait) instead of failing.
	rx1.reset();
	r1.reset();
	ring r3({.cqe32 = true});
	zcrx again(r3, {.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx});
	REQUIRE(again.mode() == zcrx_mode::device);
	// ... and returns with the link up again.
	REQUIRE(zctest::carrier(name));
}

TEST_CASE("device: proxy, RECV_ZC from the NIC and SEND_ZC of the same pool memory out",
          "[device][proxy]")
{
	std::string name;
	unsigned idx;
	if (auto why = no_pair(name, idx); !why.empty())
		return zctest::skip(why);
	// The ACKs that release the sends come in through the bound queue:
	// the NIC must always have chunks to receive them into. So the pool
	// holds the NIC's ring (768 pages on e1000e) and, on top, what the
	// proxy can hold: a batch of 256 KiB, its sends' window and a socket
	// buffer of 256 KiB (zc_proxy.cpp says more).
	ring r({.entries = 64, .cq_entries = 4096, .cqe32 = true});
	zcrx rx(r, {.pool_bytes = 8 << 20, .rq_entries = 4096, .if_index = idx});
	REQUIRE(rx.mode() == zcrx_mode::device);
	std::array<std::span<std::byte>, 1> bufs{rx.pool()};
	fixed_buffers reg(r, bufs);
	auto c0 = counters(rx);

	constexpr std::size_t total = 4 << 20;
	// in: zc-peer -> 10.7.0.1 (this NIC, the bound queue)
	auto l = tcp_listen(endpoint(dev_addr, 0), 4);
	int rcvbuf = 256 << 10;
	REQUIRE(::setsockopt(l.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
	auto in = connect_from_peer(l.get());
	// out: this side -> a sink in zc-peer (10.7.0.2), over the NICs again
	auto sink_l = in_netns(peer_ns, [] { return tcp_listen(endpoint(peer_addr, 0), 4); });
	auto out_fd = tcp_socket(AF_INET);
	auto at = endpoint::local_of(sink_l.get());
	REQUIRE(::connect(out_fd.get(), at.data(), at.size()) == 0);
	unique_fd sink_fd(::accept4(sink_l.get(), nullptr, nullptr, SOCK_CLOEXEC));
	REQUIRE(sink_fd);

	auto producer = zctest::writer(std::move(in.a), total, 45, block);
	std::atomic<bool> ok{true};
	std::size_t sunk = 0;
	std::thread sink([&] {
		std::vector<std::byte> buf(1 << 16);
		for (;;) {
			ssize_t n = ::recv(sink_fd.get(), buf.data(), buf.size(), 0);
			if (n <= 0)
				break;
			if (zctest::check(std::span(buf).first(static_cast<std::size_t>(n)), 45,
			                  sunk) != -1)
				ok = false;
			sunk += static_cast<std::size_t>(n);
		}
	});

	std::size_t forwarded = 0, sends = 0, copied = 0;
	constexpr std::size_t batch = 256 << 10;
	r.run([&]() -> task<void> {
		// A batch at a time (a RECV_ZC with a byte limit), so that what
		// the proxy holds of the pool stays bounded.
		auto stream = rx.receive(in.b.get(), batch);
		struct in_flight {
			chunk c;
			zc_release rel;
		};
		std::vector<in_flight> window;
		auto drain = [&]() -> task<void> {
			for (auto &w : window) {
				auto note = co_await std::move(w.rel);
				REQUIRE(note);
				if (note->copied)
					copied++;
			}
			window.clear(); // the chunks go back to the fill ring
		};
		for (;;) {
			auto c = co_await stream.next();
			if (!c) {
				if (c.error() != errc::end_of_stream || stream.bytes() < batch)
					break; // EOF (a short batch) or an error
				stream = rx.receive(in.b.get(), batch);
				continue;
			}
			auto sent = co_await async_send_zc(
			        r, out_fd.get(), c->data(),
			        zc_options{.msg_flags = MSG_WAITALL, .buf_index = 0u});
			REQUIRE(sent.bytes);
			REQUIRE(*sent.bytes == c->size());
			sends++;
			forwarded += c->size();
			window.push_back({std::move(*c), std::move(sent.release)});
			if (window.size() >= 32)
				co_await drain();
		}
		REQUIRE(stream.status() == errc::end_of_stream);
		co_await drain();
	}());
	::shutdown(out_fd.get(), SHUT_WR);
	producer.join();
	sink.join();
	auto c1 = counters(rx);
	std::uint64_t zc = c1.bytes_zc - c0.bytes_zc, cp = c1.bytes_copied - c0.bytes_copied;
	std::printf("# proxy over %s: %zu bytes, received %llu not copied, %llu copied; "
	            "%zu SEND_ZC, %zu copied\n",
	            name.c_str(), forwarded, static_cast<unsigned long long>(zc),
	            static_cast<unsigned long long>(cp), sends, copied);
	REQUIRE(forwarded == total);
	REQUIRE(sunk == total);
	REQUIRE(ok);
	REQUIRE(zc + cp == total);
	REQUIRE(zc >= total * 95 / 100);
	// The NIC reads the pool's pages on send: no notification says copied.
	REQUIRE(copied == 0);
	REQUIRE(rx.outstanding() == 0);
}
