// SPDX-License-Identifier: MIT
// Receive errors in the library's terms, and how probe() tells kernels
// apart, on the host's kernel: stock 6.1 (no zcrx), mainline 6.15 to 7.0
// (device mode only), or the zcuring series / 7.1 (device-less as well).
// What needs the patched kernel is in receiver_vm_test.cpp.
#include <catch2/catch.hpp>

#include <net/if.h>
#include <sys/utsname.h>

#include <string>

#include <zcuring/errors.hpp>
#include <zcuring/features.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_zc.hpp>

using namespace zcuring;

namespace {

bool has(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("recv_errc: each code says what went wrong and keeps its errno condition",
          "[errors]")
{
	struct row {
		recv_errc code;
		std::errc cond;
		const char *words;
	};
	const row rows[] = {
	        {recv_errc::not_a_socket, std::errc::not_a_socket, "no socket"},
	        {recv_errc::not_tcp, std::errc::protocol_not_supported, "plain TCP"},
	        {recv_errc::not_connected, std::errc::not_connected, "connected"},
	        {recv_errc::pool_too_small, std::errc::not_enough_memory, "too small"},
	        {recv_errc::no_such_device, std::errc::no_such_device, "no network interface"},
	        {recv_errc::device_unsupported, std::errc::operation_not_supported, "driver"},
	        {recv_errc::no_header_split, std::errc::invalid_argument, "split headers"},
	        {recv_errc::no_such_queue, std::errc::result_out_of_range, "receive queue"},
	        {recv_errc::queue_busy, std::errc::file_exists, "another"},
	};
	for (const auto &r : rows) {
		std::error_code ec = r.code;
		INFO(ec.message());
		REQUIRE(ec.category() == recv_category());
		REQUIRE(std::string(ec.category().name()) == "zcuring.recv");
		REQUIRE(has(ec.message(), r.words));
		REQUIRE(ec == r.cond);
		REQUIRE(ec != errc::unsupported);
	}
	// The kernel's final -errno of a receive, as a stream reports it.
	REQUIRE(detail::recv_error(ENOTSOCK) == recv_errc::not_a_socket);
	REQUIRE(detail::recv_error(EPROTONOSUPPORT) == recv_errc::not_tcp);
	REQUIRE(detail::recv_error(ENOTCONN) == recv_errc::not_connected);
	REQUIRE(detail::recv_error(ECONNRESET) == errno_code(ECONNRESET));
	// A device-mode registration's.
	REQUIRE(detail::device_error(ENODEV) == recv_errc::no_such_device);
	REQUIRE(detail::device_error(EOPNOTSUPP) == recv_errc::device_unsupported);
	REQUIRE(detail::device_error(EINVAL) == recv_errc::no_header_split);
	REQUIRE(detail::device_error(ERANGE) == recv_errc::no_such_queue);
	REQUIRE(detail::device_error(EEXIST) == recv_errc::queue_busy);
	REQUIRE(detail::device_error(EPERM) == errno_code(EPERM));
}

TEST_CASE("probe: the evidence of each kind of kernel is classified", "[features][probe]")
{
	using detail::classify_zcrx;
	using ev = detail::zcrx_evidence;
	// Stock 6.1: no opcode 58, no query (-EINVAL), no register op 32.
	REQUIRE(classify_zcrx(ev{-EINVAL, 0, false, -EINVAL}) == zcrx_support::none);
	// Mainline 6.15-6.17: opcode 58, no query; registration exists.
	REQUIRE(classify_zcrx(ev{-EINVAL, 0, true, -EFAULT}) == zcrx_support::device_only);
	REQUIRE(classify_zcrx(ev{-EINVAL, 0, true, -EINVAL}) == zcrx_support::device_only);
	REQUIRE(classify_zcrx(ev{-EINVAL, 0, true, -EPERM}) == zcrx_support::device_only);
	// Mainline 6.18: a query that does not know zcrx (-EOPNOTSUPP).
	REQUIRE(classify_zcrx(ev{-EOPNOTSUPP, 0, true, -EFAULT}) == zcrx_support::device_only);
	// Mainline built without CONFIG_IO_URING_ZCRX: opcode 58 is there,
	// registration answers -EOPNOTSUPP.
	REQUIRE(classify_zcrx(ev{-EOPNOTSUPP, 0, true, -EOPNOTSUPP}) == zcrx_support::none);
	// A query answered without ZCRX_REG_NODEV: device mode only.
	REQUIRE(classify_zcrx(ev{0, ZCRX_REG_IMPORT, true, -EINVAL}) == zcrx_support::device_only);
	// The zcuring series, mainline 7.1: ZCRX_REG_NODEV.
	REQUIRE(classify_zcrx(ev{0, ZCRX_REG_NODEV, true, -EINVAL}) ==
	        zcrx_support::device_and_copy);
	REQUIRE(classify_zcrx(ev{0, ZCRX_REG_NODEV | ZCRX_REG_IMPORT, true, -EPERM}) ==
	        zcrx_support::device_and_copy);
}

TEST_CASE("probe: this kernel's zcrx, found again by hand, and what it says", "[features][probe]")
{
	ring r({.cqe32 = true});
	auto f = probe(r);
	utsname u{};
	::uname(&u);
	INFO("kernel " << u.release << ": zcrx " << static_cast<int>(f.zcrx) << ", "
	               << f.recv_zc_why);
	// The same answers, asked without the library's helpers.
	io_uring_probe *p = io_uring_get_probe_ring(r.native());
	REQUIRE(p);
	bool op58 = io_uring_opcode_supported(p, IORING_OP_RECV_ZC);
	io_uring_free_probe(p);
	io_uring_query_zcrx q{};
	io_uring_query_hdr h{};
	h.query_op = IO_URING_QUERY_ZCRX;
	h.query_data = reinterpret_cast<std::uintptr_t>(&q);
	h.size = sizeof(q);
	int ret = io_uring_register(static_cast<unsigned>(-1), IORING_REGISTER_QUERY, &h, 0);
	bool queried = ret == 0 && h.result == 0;
	REQUIRE(f.zcrx_queried == queried);
	if (queried) {
		REQUIRE(f.zcrx == ((q.register_flags & ZCRX_REG_NODEV)
		                           ? zcrx_support::device_and_copy
		                           : zcrx_support::device_only));
	} else if (!op58) {
		// Debian 12's stock 6.1, and every kernel before 6.15.
		REQUIRE(f.zcrx == zcrx_support::none);
		REQUIRE(has(f.recv_zc_why, "6.15"));
	} else {
		REQUIRE(f.zcrx != zcrx_support::device_and_copy);
	}
	REQUIRE(f.recv_zc == (f.zcrx == zcrx_support::device_and_copy && f.zcrx_permitted));
	REQUIRE(f.recv_zc_device == (f.zcrx == zcrx_support::device_only));
	REQUIRE(f.recv_zc == f.recv_zc_why.empty());
	if (f.zcrx == zcrx_support::device_only)
		REQUIRE(has(f.recv_zc_why, "device mode only"));
	if (f.zcrx == zcrx_support::none)
		REQUIRE(!f.zcrx_permitted);
	// Asking left nothing behind: the ring takes a zcrx, or refuses it
	// as it would have anyway, and still works.
	REQUIRE(r.run([&]() -> task<result<void>> { co_return co_await async_nop(r); }()));
}

TEST_CASE("zcrx needs DEFER_TASKRUN, and says so", "[errors][recv_zc]")
{
	ring r({.cqe32 = true, .defer_taskrun = false});
	try {
		zcrx rx(r);
		FAIL("zcrx accepted a ring without DEFER_TASKRUN");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == std::errc::invalid_argument);
		REQUIRE(has(e.what(), "DEFER_TASKRUN"));
	}
}

TEST_CASE("device mode on a device that cannot: recv_errc with the device's name",
          "[errors][device]")
{
	// lo: a driver that cannot fill a queue from a pool; 0x7fffffff and 0
	// (what if_nametoindex() gives for an unknown name): no such device.
	// On a kernel with zcrx (device mode only on mainline 6.15+, or the
	// series) the registration says so; without, errc::unsupported.
	unsigned lo = ::if_nametoindex("lo");
	REQUIRE(lo);
	ring r({.cqe32 = true});
	auto f = probe(r);
	for (unsigned idx : {lo, 0x7fffffffu, 0u}) {
		INFO("if_index " << idx << "; " << f.recv_zc_why);
		try {
			zcrx rx(r, {.pool_bytes = 64 * 4096, .rq_entries = 256, .if_index = idx});
			FAIL("device mode on a device that cannot: no error");
		} catch (const std::system_error &e) {
			INFO(e.what());
			if (f.zcrx == zcrx_support::none) {
				REQUIRE(e.code() == errc::unsupported);
				REQUIRE(has(e.what(), "IORING_OP_RECV_ZC"));
			} else if (!f.zcrx_permitted) {
				REQUIRE(e.code() == std::errc::operation_not_permitted);
				REQUIRE(has(e.what(), "CAP_NET_ADMIN"));
			} else if (idx == lo) {
				REQUIRE(e.code() == recv_errc::device_unsupported);
				REQUIRE(e.code() == std::errc::operation_not_supported);
				REQUIRE(has(e.what(), "device mode on lo rx queue 0"));
				REQUIRE(has(e.what(), "driver"));
			} else {
				REQUIRE(e.code() == recv_errc::no_such_device);
				REQUIRE(e.code() == std::errc::no_such_device);
				REQUIRE(has(e.what(), "#" + std::to_string(idx)));
				REQUIRE(has(e.what(), "no network interface"));
			}
		}
	}
}

TEST_CASE("device-less zcrx on a kernel with device mode only says which it has",
          "[errors][recv_zc]")
{
	ring r({.cqe32 = true});
	auto f = probe(r);
	if (f.zcrx == zcrx_support::device_and_copy) {
		SUCCEED("this kernel has device-less zcrx: the VM suite tests it");
		return;
	}
	try {
		zcrx rx(r);
		FAIL("device-less zcrx on a kernel without it");
	} catch (const std::system_error &e) {
		INFO(e.what());
		REQUIRE(e.code() == errc::unsupported);
		if (f.zcrx == zcrx_support::device_only)
			REQUIRE(has(e.what(), "device mode only"));
		else
			REQUIRE(has(e.what(), "IORING_OP_RECV_ZC needs"));
	}
}
