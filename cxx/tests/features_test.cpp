// SPDX-License-Identifier: MIT
// Feature detection on the host's kernel. Zero-copy receive and slots are
// tested in the VM on the patched kernel; here, on a kernel without them,
// they must say so clearly and leave the ring usable.
#include <catch2/catch.hpp>

#include <zcuring/features.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/send_zc.hpp>

using namespace zcuring;

TEST_CASE("probe reports what the kernel has and why not", "[features]")
{
	ring r({.cqe32 = true});
	auto f = probe(r);
	INFO("send_zc " << f.send_zc << " slots " << f.send_zc_slots << " recv_zc " << f.recv_zc);
	REQUIRE(f.send_zc); // every kernel this runs on is 6.0+
	// zc_slots needs the slots and IORING_OP_SEND_ZC_FLUSH: one without
	// the other is no slots here.
	REQUIRE(f.send_zc_slots == f.send_zc_flush);
	if (!(r.features() & IORING_FEAT_SEND_ZC_SLOTS))
		REQUIRE(!f.send_zc_slots);
	REQUIRE(f.send_zc_slots == f.slots_why.empty());
	REQUIRE(f.recv_zc == f.recv_zc_why.empty());
}

TEST_CASE("without slots zc_slots refuses with errc::unsupported", "[features][slots]")
{
	ring r;
	if (probe(r).send_zc_slots)
		SUCCEED("this kernel has slots: tested in the VM suite");
	else {
		try {
			zc_slots s(r, 4);
			FAIL("zc_slots registered on a kernel without slots");
		} catch (const std::system_error &e) {
			REQUIRE(e.code() == errc::unsupported);
			REQUIRE(std::string(e.what()).find("zcuring kernel series") !=
			        std::string::npos);
		}
		// The ring still works.
		REQUIRE(r.run([&]() -> task<result<void>> { co_return co_await async_nop(r); }()));
	}
}

TEST_CASE("a kernel without the series refuses IORING_OP_SEND_ZC_FLUSH cleanly",
          "[features][slots]")
{
	ring r;
	if (r.features() & IORING_FEAT_SEND_ZC_SLOTS) {
		SUCCEED("this kernel has slots: the flush is tested in the VM suite");
		return;
	}
	REQUIRE(!probe(r).send_zc_flush);
	REQUIRE(!detail::has_opcode(r, IORING_OP_SEND_ZC_FLUSH));
	// Opcode 128 is no operation here: -EINVAL, and the ring goes on.
	io_uring_sqe *sqe = r.get_sqe();
	zcuring_prep_send_zc_flush(sqe, 0, 1);
	io_uring_sqe_set_data64(sqe, 0);
	REQUIRE(io_uring_submit(r.native()) == 1);
	io_uring_cqe *cqe = nullptr;
	REQUIRE(io_uring_wait_cqe(r.native(), &cqe) == 0);
	REQUIRE(cqe->res == -EINVAL);
	io_uring_cqe_seen(r.native(), cqe);
	REQUIRE(r.run([&]() -> task<result<void>> { co_return co_await async_nop(r); }()));
}

TEST_CASE("without device-less zcrx the zcrx object refuses with errc::unsupported",
          "[features][recv_zc]")
{
	ring r({.cqe32 = true});
	if (probe(r).recv_zc)
		SUCCEED("this kernel has device-less zcrx: tested in the VM suite");
	else {
		try {
			zcrx rx(r);
			FAIL("zcrx registered on a kernel without it");
		} catch (const std::system_error &e) {
			REQUIRE(e.code() == errc::unsupported);
			REQUIRE(e.code() == std::errc::operation_not_supported);
		}
	}
}

TEST_CASE("zcrx needs 32-byte CQEs", "[features][recv_zc]")
{
	ring r;
	try {
		zcrx rx(r);
		FAIL("zcrx accepted a ring with 16-byte CQEs");
	} catch (const std::system_error &e) {
		REQUIRE(e.code() == std::errc::invalid_argument);
	}
}
