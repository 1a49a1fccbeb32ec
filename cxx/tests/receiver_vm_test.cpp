// SPDX-License-Identifier: MIT
// On the patched kernel (VM): probe() says device-less zcrx, the one-line
// picker takes zero copy, the fallback still works when forced, and
// RECV_ZC's errors come back in the library's terms. Device-mode errors
// that need the e1000e pair skip without it (catch-tap.sh: "ZC_SKIP").
#include <catch2/catch.hpp>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/features.hpp>
#include <zcuring/receiver.hpp>

using namespace zcuring;

namespace {

// The first result of a RECV_ZC stream on @fd.
std::error_code first_error(ring &r, zcrx &rx, int fd)
{
	auto in = rx.receive(fd);
	return r.run([&]() -> task<std::error_code> {
		auto c = co_await in.next().timeout(std::chrono::seconds(5));
		co_return c ? std::error_code{} : c.error();
	}());
}

int get_mtu(const std::string &name)
{
	unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ifreq ifr{};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name.c_str());
	if (::ioctl(s.get(), SIOCGIFMTU, &ifr))
		return -1;
	return ifr.ifr_mtu;
}

bool set_mtu(const std::string &name, int mtu)
{
	unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ifreq ifr{};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name.c_str());
	ifr.ifr_mtu = mtu;
	return !::ioctl(s.get(), SIOCSIFMTU, &ifr);
}

// Until the link of @name is up again, at most 10 s.
void wait_carrier(const std::string &name)
{
	for (int i = 0; i < 200 && !zctest::carrier(name); i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool has(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("receiver: probe says this kernel has device-less zcrx, by its query",
          "[receiver][probe]")
{
	ring r({.cqe32 = true});
	auto f = probe(r);
	INFO(f.recv_zc_why);
	REQUIRE(f.zcrx == zcrx_support::device_and_copy);
	REQUIRE(f.zcrx_queried);
	REQUIRE(f.zcrx_permitted);
	REQUIRE(f.recv_zc);
	REQUIRE(!f.recv_zc_device);
	REQUIRE(f.recv_zc_why.empty());
}

TEST_CASE("receiver: the one-line picker takes zero copy here; 8 MiB arrive whole",
          "[receiver]")
{
	ring r({.entries = 64, .cq_entries = 1024, .cqe32 = true});
	receiver rx(r, {.zero_copy = {.pool_bytes = 1 << 20, .rq_entries = 1024}});
	INFO(rx.fallback_reason());
	REQUIRE(rx.zero_copy());
	REQUIRE(rx.zcrx_pool());
	REQUIRE(!rx.buffers());
	REQUIRE(rx.fallback_reason().empty());
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	REQUIRE(in.zero_copy());
	constexpr std::size_t total = 8 << 20;
	auto o = zctest::transfer(r, std::move(p.a), in, total, 31);
	zctest::require_whole(o, in, total);
	REQUIRE(o.zero_copy == o.chunks);
	REQUIRE(rx.zcrx_pool()->returned() == o.chunks);
	REQUIRE(rx.outstanding() == 0);
}

TEST_CASE("receiver: the fallback, forced on the patched kernel, works the same",
          "[receiver]")
{
	ring r({.entries = 64, .cq_entries = 1024, .cqe32 = true});
	receiver rx(r, {.copy = {.buffer_bytes = 8192, .buffers = 16}, .allow_zero_copy = false});
	REQUIRE(!rx.zero_copy());
	REQUIRE(rx.buffers());
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	REQUIRE(!in.zero_copy());
	constexpr std::size_t total = 8 << 20;
	auto o = zctest::transfer(r, std::move(p.a), in, total, 32);
	zctest::require_whole(o, in, total);
	REQUIRE(o.zero_copy == 0);
	REQUIRE(rx.buffers()->returned() == o.chunks);
	REQUIRE(rx.outstanding() == 0);
}

TEST_CASE("recv_zc errors: a socket that is no connected TCP one, in the library's terms",
          "[receiver][errors]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 256});

	unique_fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(udp);
	auto ec = first_error(r, rx, udp.get());
	INFO("UDP: " << ec.message());
	REQUIRE(ec == recv_errc::not_tcp);
	REQUIRE(ec == std::errc::protocol_not_supported);
	REQUIRE(has(ec.message(), "plain TCP"));

	unique_fd tcp = tcp_socket(AF_INET);
	ec = first_error(r, rx, tcp.get());
	INFO("unconnected TCP: " << ec.message());
	REQUIRE(ec == recv_errc::not_connected);
	REQUIRE(ec == std::errc::not_connected);

	auto pipe = zctest::make_pipe();
	ec = first_error(r, rx, pipe.rd.get());
	INFO("pipe: " << ec.message());
	REQUIRE(ec == recv_errc::not_a_socket);
	REQUIRE(ec == std::errc::not_a_socket);

	// The instance is still fine: a TCP stream goes through.
	auto p = zctest::make_pair();
	auto in = rx.receive(p.b.get());
	auto o = zctest::transfer(r, std::move(p.a), in, 100000, 33);
	zctest::require_whole(o, in, 100000);
}

TEST_CASE("recv_zc errors: a pool too small for its streams is refused with the sizes",
          "[receiver][errors]")
{
	ring r({.cqe32 = true});
	zcrx rx(r, {.pool_bytes = 4 * 4096, .rq_entries = 64});
	std::vector<zctest::tcp_pair> pairs;
	std::vector<rx_stream> streams;
	for (int i = 0; i < 3; i++) {
		pairs.push_back(zctest::make_pair());
		streams.push_back(rx.receive(pairs.back().b.get()));
	}
	REQUIRE(rx.streams() == 3);
	try {
		auto in = rx.receive(pairs[0].b.get());
		FAIL("a fourth stream on a pool of 4 pages");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == recv_errc::pool_too_small);
		REQUIRE(has(e.what(), "16384 bytes (4 pages) for 4 streams"));
		REQUIRE(has(e.what(), "at least 20480 bytes"));
	}
	// A stream gone makes room again.
	streams.pop_back();
	REQUIRE(rx.streams() == 2);
	auto again = rx.receive(pairs[2].b.get());
	REQUIRE(rx.streams() == 3);
}

TEST_CASE("recv_zc errors: device mode on a queue the NIC lacks, or without header split",
          "[receiver][errors][device]")
{
	std::string name;
	// The e1000e NIC of this namespace (vm/e1000e-pair.sh).
	unsigned idx = zctest::nic_with("10.7.0.1", name);
	if (!idx)
		return zctest::skip("no e1000e pair (scripts/vm-run --e1000e, vm/e1000e-pair.sh)");
	ring r({.cqe32 = true});
	try {
		zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx,
		            .rx_queue = 7});
		FAIL("device mode on rx queue 7 of a one-queue NIC");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == recv_errc::no_such_queue);
		REQUIRE(has(e.what(), "device mode on " + name + " rx queue 7"));
		REQUIRE(has(e.what(), "no receive queue"));
	}
	int mtu = get_mtu(name);
	REQUIRE(mtu > 1500);
	REQUIRE(set_mtu(name, 1500));
	struct restore {
		std::string n;
		int m;
		~restore()
		{
			set_mtu(n, m);
			wait_carrier(n); // the MTU change reset the NIC
		}
	} back{name, mtu};
	try {
		zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx});
		FAIL("device mode on e1000e at MTU 1500");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == recv_errc::no_header_split);
		REQUIRE(e.code() == std::errc::invalid_argument);
		REQUIRE(has(e.what(), "split headers"));
	}
	// Asked with the fallback, the same answer is device_error().
	zcrx rx(r, {.pool_bytes = 64 * 4096,
	            .rq_entries = 256,
	            .if_index = idx,
	            .fallback = zcrx_fallback::device_less});
	REQUIRE(rx.mode() == zcrx_mode::device_less);
	REQUIRE(rx.device_error() == recv_errc::no_header_split);
}
