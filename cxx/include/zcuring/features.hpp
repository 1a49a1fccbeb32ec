// SPDX-License-Identifier: MIT
// What the running kernel offers for zero copy, found without side
// effects: the opcode probe, the ring's feature bits and, for zero-copy
// receive, IORING_REGISTER_QUERY (which needs no ring). Each missing
// feature comes with a sentence that says what would provide it, so an
// application can print it and take its fallback.
#pragma once

#include <liburing.h>

#include <zcuring/zc_slots.h>
#include <zcuring/zcrx.h>

#include <string>

#include <zcuring/ring.hpp>

namespace zcuring {

struct features {
	bool send_zc = false;        // IORING_OP_SEND_ZC (6.0+)
	bool send_zc_slots = false;  // SEND_ZC notification slots and their flush op (zcuring series)
	bool send_zc_flush = false;  // IORING_OP_SEND_ZC_FLUSH (zcuring series, patch 0026)
	bool recv_zc = false;        // IORING_OP_RECV_ZC, device-less (zcuring series, 7.1+)
	bool recv_zc_device = false; // zcrx is there, but only for a NIC queue
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

	io_uring_query_zcrx q;
	int ret = zcrx_query(&q);
	if (ret < 0) {
		f.recv_zc_why = "IORING_OP_RECV_ZC needs the zcuring kernel series, or Linux 7.1 "
		                "for device-less mode (this kernel answers no zcrx query: " +
		                errno_code(-ret).message() + ")";
	} else if (!(q.register_flags & ZCRX_REG_NODEV)) {
		f.recv_zc_why = "this kernel's zero-copy receive has no device-less mode "
		                "(ZCRX_REG_NODEV): it needs a NIC queue with header split";
		f.recv_zc_device = true;
	} else {
		f.recv_zc = true;
		// Device mode depends on the NIC, known only by registering
		// (zcrx_options::if_index, and fallback for the answer "cannot").
	}
	return f;
}

} // namespace zcuring
