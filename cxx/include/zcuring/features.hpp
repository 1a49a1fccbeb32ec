// SPDX-License-Identifier: MIT
// What the running kernel offers for zero copy, found without side
// effects: the opcode probe, the ring's feature bits and, for zero-copy
// receive, IORING_REGISTER_QUERY (which needs no ring) and a registration
// that every kernel refuses before it does anything (classify_zcrx()).
// Each missing feature comes with a sentence that says what would provide
// it, so an application can print it and take its fallback.
#pragma once

#include <liburing.h>

#include <zcuring/zc_slots.h>
#include <zcuring/zcrx.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include <zcuring/ring.hpp>

namespace zcuring {

// What zero-copy receive (zcrx, IORING_OP_RECV_ZC) the kernel can do.
enum class zcrx_support {
	none,            // nothing: receive with the copy fallback (recv_buf.hpp)
	device_only,     // device mode only, bound to a NIC receive queue with
	                 // header split (mainline 6.15 to 7.0)
	device_and_copy, // device-less mode as well (ZCRX_REG_NODEV): the
	                 // zcuring series, mainline 7.1+
};

struct features {
	bool send_zc = false;        // IORING_OP_SEND_ZC (6.0+)
	bool send_zc_slots = false;  // SEND_ZC notification slots and their flush op (zcuring series)
	bool send_zc_flush = false;  // IORING_OP_SEND_ZC_FLUSH (zcuring series, patch 0026)
	bool recv_zc = false;        // IORING_OP_RECV_ZC, device-less, for this process
	                             // (zcuring series, 7.1+; CAP_NET_ADMIN)
	bool recv_zc_device = false; // zcrx is there, but only for a NIC queue
	// The same in one word; device mode still depends on the NIC, known
	// only by registering (zcrx_options::if_index, and fallback).
	zcrx_support zcrx = zcrx_support::none;
	// The kernel said so through IO_URING_QUERY_ZCRX (else it was told by
	// the opcode probe and a registration refused on purpose).
	bool zcrx_queried = false;
	// This process may register an instance (CAP_NET_ADMIN): false when
	// the kernel has zcrx and refuses it -EPERM.
	bool zcrx_permitted = false;
	std::string send_zc_why{}, slots_why{}, recv_zc_why{};
};

namespace detail {
inline bool has_opcode(ring &r, int op)
{
	io_uring_probe *p = io_uring_get_probe_ring(r.native());
	if (!p)
		return false;
	bool ok = io_uring_opcode_supported(p, op);
	io_uring_free_probe(p);
	return ok;
}

// What the kernel answered about zcrx, each answer free of side effects.
struct zcrx_evidence {
	int query = -EINVAL;              // IO_URING_QUERY_ZCRX's result: 0 or -errno
	std::uint64_t register_flags = 0; // its ZCRX_REG_* flags
	bool opcode = false;              // the probe marks IORING_OP_RECV_ZC (58) supported
	int refused = -EINVAL;            // an IORING_REGISTER_ZCRX_IFQ (32) refused on purpose
};

// Kernels tell zcrx apart so:
//  - stock 6.1 (and anything before 6.15): opcode 58 unsupported, no query;
//  - mainline 6.15 to 7.0: opcode 58, and registration answers -EINVAL,
//    -EFAULT or -EPERM, or -EOPNOTSUPP when built without
//    CONFIG_IO_URING_ZCRX; the query (6.18+) does not know ZCRX_REG_NODEV;
//  - the zcuring series and mainline 7.1+: the query lists ZCRX_REG_NODEV.
inline zcrx_support classify_zcrx(const zcrx_evidence &e) noexcept
{
	if (e.query == 0)
		return (e.register_flags & ZCRX_REG_NODEV) ? zcrx_support::device_and_copy
		                                           : zcrx_support::device_only;
	if (!e.opcode || e.refused == -EOPNOTSUPP)
		return zcrx_support::none;
	return zcrx_support::device_only;
}

// Register a zcrx instance on @ring_fd that every kernel refuses before it
// looks at anything else it was given (a non-zero reserved field, no area,
// no region): the answer says whether IORING_REGISTER_ZCRX_IFQ exists
// (-EOPNOTSUPP: built without it) and whether this process may use it
// (-EPERM: CAP_NET_ADMIN is checked first).
inline int zcrx_refused(int ring_fd) noexcept
{
	io_uring_zcrx_ifq_reg reg{};
	reg.__resv[0] = 1;
	return io_uring_register(static_cast<unsigned>(ring_fd), IORING_REGISTER_ZCRX_IFQ, &reg,
	                         1);
}

inline zcrx_evidence zcrx_ask(ring &r) noexcept
{
	zcrx_evidence e;
	io_uring_query_zcrx q;
	e.query = zcuring_zcrx_query(&q);
	if (e.query == 0)
		e.register_flags = q.register_flags;
	e.opcode = has_opcode(r, IORING_OP_RECV_ZC);
	if (e.query == 0 || e.opcode)
		e.refused = zcrx_refused(r.fd());
	return e;
}
} // namespace detail

// Probe the kernel through ring @r (the ring's own setup decides slots:
// the feature bit is per ring).
inline features probe(ring &r)
{
	features f;
	f.send_zc = detail::has_opcode(r, IORING_OP_SEND_ZC);
	if (!f.send_zc)
		f.send_zc_why = "IORING_OP_SEND_ZC needs Linux 6.0 or later";

	// zc_slots needs both: the slots, and the flush that closes a
	// generation without a send.
	bool slots = f.send_zc && (r.features() & IORING_FEAT_SEND_ZC_SLOTS);
	f.send_zc_flush = slots && detail::has_opcode(r, IORING_OP_SEND_ZC_FLUSH);
	f.send_zc_slots = f.send_zc_flush;
	if (!f.send_zc)
		f.slots_why = f.send_zc_why;
	else if (!slots)
		f.slots_why = "SEND_ZC notification slots need the zcuring kernel series "
		              "(IORING_FEAT_SEND_ZC_SLOTS)";
	else if (!f.send_zc_flush)
		f.slots_why = "this kernel has SEND_ZC notification slots but not "
		              "IORING_OP_SEND_ZC_FLUSH (zcuring kernel series, patch 0026)";

	auto e = detail::zcrx_ask(r);
	f.zcrx = detail::classify_zcrx(e);
	f.zcrx_queried = e.query == 0;
	f.zcrx_permitted = f.zcrx != zcrx_support::none && e.refused != -EPERM;
	switch (f.zcrx) {
	case zcrx_support::none:
		if (e.opcode)
			f.recv_zc_why = "this kernel knows IORING_OP_RECV_ZC but was built without "
			                "zero-copy receive (CONFIG_IO_URING_ZCRX)";
		else
			f.recv_zc_why = "IORING_OP_RECV_ZC needs the zcuring kernel series, or "
			                "Linux 6.15 for device mode and 7.1 for device-less mode";
		break;
	case zcrx_support::device_only:
		f.recv_zc_why = "this kernel's zero-copy receive has device mode only (no "
		                "ZCRX_REG_NODEV: mainline before 7.1): it needs a NIC receive "
		                "queue with header split (zcrx_options::if_index)";
		f.recv_zc_device = true;
		break;
	case zcrx_support::device_and_copy:
		f.recv_zc = f.zcrx_permitted;
		// Device mode depends on the NIC, known only by registering
		// (zcrx_options::if_index, and fallback for the answer "cannot").
		break;
	}
	if (f.zcrx != zcrx_support::none && !f.zcrx_permitted)
		f.recv_zc_why += std::string(f.recv_zc_why.empty() ? "" : "; ") +
		                 "registering it needs CAP_NET_ADMIN, which this process lacks";
	return f;
}

} // namespace zcuring
