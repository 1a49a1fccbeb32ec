// SPDX-License-Identifier: GPL-2.0
/*
 * The C layer next to a newer liburing. liburing 2.10 declares struct
 * io_uring_zcrx_rq and io_uring_register_ifq(), 2.15
 * io_uring_register_zcrx_ctrl() and io_uring_register_query();
 * <zcuring/zcrx.h> defines each only for an older liburing.
 *
 * Built against the host's liburing (2.3 on Debian 12) three times: as is
 * (ZC_AS_MINOR unset: zcuring's definitions), and as liburing 2.10 and
 * 2.15 would be seen (ZC_AS_MINOR=10 or 15): then this file defines the
 * version macros and declares and defines liburing's own structure and
 * functions first, as that liburing would, and the header must neither
 * define them again (which would not compile) nor bypass them (checked
 * below: the helpers reach these definitions).
 */
#include <string.h>
#include <stdio.h>

#ifdef ZC_AS_MINOR
#define IO_URING_VERSION_MAJOR 2
#define IO_URING_VERSION_MINOR ZC_AS_MINOR
#include <liburing.h>
#include <linux/io_uring/zcrx.h>
#include <linux/io_uring/query.h>

static int calls_ifq;

struct io_uring_zcrx_rq {
	__u32 *khead;
	__u32 *ktail;
	__u32 rq_tail;
	unsigned ring_entries;

	struct io_uring_zcrx_rqe *rqes;
	void *ring_ptr;
};

int io_uring_register_ifq(struct io_uring *ring,
			  struct io_uring_zcrx_ifq_reg *reg);
int io_uring_register_ifq(struct io_uring *ring,
			  struct io_uring_zcrx_ifq_reg *reg)
{
	(void)ring;
	calls_ifq++;
	reg->offsets.head = 0;
	reg->offsets.tail = 4;
	reg->offsets.rqes = 64;
	reg->zcrx_id = 5;
	return 0;
}

#if ZC_AS_MINOR >= 15
static int calls_ctrl, calls_query;

int io_uring_register_zcrx_ctrl(struct io_uring *ring, struct zcrx_ctrl *ctrl);
int io_uring_register_zcrx_ctrl(struct io_uring *ring, struct zcrx_ctrl *ctrl)
{
	(void)ring;
	calls_ctrl++;
	return ctrl->op == ZCRX_CTRL_FLUSH_RQ && ctrl->zcrx_id == 5 ? 0 : -EINVAL;
}

int io_uring_register_query(struct io_uring_query_hdr *query);
int io_uring_register_query(struct io_uring_query_hdr *query)
{
	struct io_uring_query_zcrx *q = (void *)(uintptr_t)query->query_data;

	calls_query++;
	q->register_flags = ZCRX_REG_NODEV;
	q->rq_hdr_size = 8;
	q->rq_hdr_alignment = 64;
	return 0;
}
#endif
#endif /* ZC_AS_MINOR */

#include <zcuring/zcrx.h>

#ifndef ZC_AS_MINOR
#define ZC_AS_MINOR 3
#endif

static int fail(const char *what)
{
	printf("not ok 1 liburing 2.%d: %s\n", ZC_AS_MINOR, what);
	return 1;
}

int main(void)
{
	static unsigned char rq_mem[4096] __attribute__((aligned(64)));
	static unsigned char pool[4096];
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_zcrx_rq rq;
	struct io_uring ring;

	/* the refill ring helpers on liburing's structure, or on ours */
	memset(&reg, 0, sizeof(reg));
	reg.offsets.head = 0;
	reg.offsets.tail = 4;
	reg.offsets.rqes = 64;
	reg.rq_entries = 4;
	zcuring_zcrx_rq_init(&rq, rq_mem, &reg);
	if (rq.ring_ptr != rq_mem || rq.ring_entries != 4 ||
	    zcuring_zcrx_rq_space(&rq) != 4)
		return fail("rq_init");
	for (unsigned int i = 0; i < 4; i++)
		zcuring_zcrx_rq_return(&rq, 4096 * i, 100 + i);
	if (zcuring_zcrx_rq_space(&rq) != 0 || *rq.ktail != 0)
		return fail("rq_return");
	zcuring_zcrx_rq_publish(&rq);
	if (*rq.ktail != 4 || rq.rqes[3].off != 3 * 4096 || rq.rqes[3].len != 103)
		return fail("rq_publish");
	*rq.khead = 3;
	if (zcuring_zcrx_rq_space(&rq) != 3)
		return fail("rq_space");

#if ZC_AS_MINOR >= 10
	memset(&ring, 0, sizeof(ring));
	ring.ring_fd = -1;
	if (zcuring_zcrx_register_nodev(&ring, pool, sizeof(pool), rq_mem,
					sizeof(rq_mem), 4, &reg, &rq) ||
	    calls_ifq != 1 || reg.zcrx_id != 5 || !(reg.flags & ZCRX_REG_NODEV) ||
	    rq.ring_ptr != rq_mem)
		return fail("io_uring_register_ifq() of liburing not used");
#endif
#if ZC_AS_MINOR >= 15
	{
		struct io_uring_query_zcrx q;

		if (zcuring_zcrx_flush(&ring, 5) || calls_ctrl != 1)
			return fail("io_uring_register_zcrx_ctrl() of liburing not used");
		if (zcuring_zcrx_query(&q) || calls_query != 1 ||
		    zcuring_zcrx_rq_bytes(&q, 4) != 64 + 4 * 16)
			return fail("io_uring_register_query() of liburing not used");
	}
#else
	(void)ring;
	(void)pool;
#endif
	printf("ok 1 the C layer next to liburing 2.%d\n", ZC_AS_MINOR);
	return 0;
}
