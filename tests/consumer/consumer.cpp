// SPDX-License-Identifier: MIT
// A C++ program of another project, on the installed zcuring only: it
// probes the kernel and says what it has. A kernel without the zcuring
// series (or without io_uring at all) is an answer, not a failure.
#include <zcuring/zcuring.hpp>

#include <cstdio>
#include <system_error>

using namespace zcuring;

int main()
{
	// The options structs take designated initializers without
	// -Wmissing-field-initializers warnings (-Wextra).
	const ring_options ro{.entries = 8, .cqe32 = true};
	const zcrx_options zo{.pool_bytes = 1u << 20, .rq_entries = 256};
	const zc_options so{.report_usage = false};
	std::printf("C++ options: ring %u entries, pool %zu bytes, report_usage %d\n",
	            ro.entries, zo.pool_bytes, so.report_usage);
	try {
		ring r(ro);
		features f = probe(r);
		std::printf("C++ probe: send_zc %s, slots %s, recv_zc %s\n",
		            f.send_zc ? "yes" : f.send_zc_why.c_str(),
		            f.send_zc_slots ? "yes" : f.slots_why.c_str(),
		            f.recv_zc ? "yes" : f.recv_zc_why.c_str());
	} catch (const std::system_error &e) {
		std::printf("C++ probe: no io_uring ring here (%s)\n", e.what());
	}
	return 0;
}
