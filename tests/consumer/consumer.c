// SPDX-License-Identifier: MIT
/*
 * A C program of another project, on the installed zcuring only: liburing
 * and the C helpers (zcuring/zcrx.h, zcuring/zc_slots.h, zcuring/compat.h,
 * and through them the series' uapi headers). Probes and prints; a kernel without the
 * series is an answer, not a failure.
 */
#include <stdio.h>
#include <string.h>

#include <liburing.h>
#include <zcuring/zc_slots.h>
#include <zcuring/zcrx.h>

int main(void)
{
	struct io_uring_query_zcrx q;
	struct io_uring ring;
	int ret;

	ret = zcuring_zcrx_query(&q);
	if (ret < 0)
		printf("C zcuring_zcrx_query: %s (no zcuring series here)\n", strerror(-ret));
	else
		printf("C zcuring_zcrx_query: register_flags 0x%llx, device-less %s\n",
		       (unsigned long long)q.register_flags,
		       (q.register_flags & ZCRX_REG_NODEV) ? "yes" : "no");
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		printf("C io_uring_queue_init: %s\n", strerror(-ret));
		return 0;
	}
	printf("C ring: features 0x%x, slots %s\n", ring.features,
	       (ring.features & IORING_FEAT_SEND_ZC_SLOTS) ? "yes" : "no");
	io_uring_queue_exit(&ring);
	return 0;
}
