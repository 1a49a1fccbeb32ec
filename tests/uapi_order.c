// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi headers in either include order: liburing 2.3 bundles its own
 * io_uring.h under the kernel's include guard, so whichever comes first
 * wins. Built twice (LIBURING_FIRST or not); each must still see every
 * zcrx and query definition with mainline's numbers and layout.
 */
#ifdef LIBURING_FIRST
#include <liburing.h>
#include <linux/io_uring/zcrx.h>
#include <linux/io_uring/query.h>
#include <linux/io_uring/zc_slots.h>
#else
#include <linux/io_uring.h>
#include <liburing.h>
#endif
#include <zcuring/zcrx.h>
#include <zcuring/zc_slots.h>

#include <assert.h>
#include <stddef.h>
#include <stdio.h>

static_assert(IORING_OP_RECV_ZC == 58, "opcode");
static_assert(IORING_REGISTER_ZCRX_IFQ == 32, "register opcode");
static_assert(IORING_REGISTER_QUERY == 35, "register opcode");
static_assert(IORING_REGISTER_ZCRX_CTRL == 36, "register opcode");
static_assert(IORING_ZCRX_AREA_SHIFT == 48, "area shift");
static_assert(ZCRX_REG_IMPORT == 1 && ZCRX_REG_NODEV == 2, "reg flags");
static_assert(IORING_ZCRX_AREA_DMABUF == 1, "area flags");
static_assert(IORING_MEM_REGION_TYPE_USER == 1, "region flags");
static_assert(ZCRX_CTRL_FLUSH_RQ == 0 && ZCRX_CTRL_EXPORT == 1, "ctrl ops");
static_assert(IO_URING_QUERY_OPCODES == 0 && IO_URING_QUERY_ZCRX == 1, "query ops");
static_assert(sizeof(struct io_uring_zcrx_rqe) == 16, "rqe");
static_assert(sizeof(struct io_uring_zcrx_cqe) == 16, "cqe");
static_assert(sizeof(struct io_uring_zcrx_offsets) == 32, "offsets");
static_assert(sizeof(struct io_uring_zcrx_area_reg) == 48, "area");
static_assert(sizeof(struct io_uring_region_desc) == 64, "region");
static_assert(sizeof(struct io_uring_zcrx_ifq_reg) == 96, "ifq reg");
static_assert(offsetof(struct io_uring_zcrx_ifq_reg, offsets) == 32, "ifq reg");
static_assert(offsetof(struct io_uring_zcrx_ifq_reg, zcrx_id) == 64, "ifq reg");
static_assert(sizeof(struct zcrx_ctrl) == 72, "ctrl");
static_assert(offsetof(struct zcrx_ctrl, zc_flush) == 24, "ctrl");
static_assert(sizeof(struct io_uring_query_hdr) == 40, "query hdr");
static_assert(sizeof(struct io_uring_query_opcode) == 48, "query opcodes");
static_assert(sizeof(struct io_uring_query_zcrx) == 40, "query zcrx");
static_assert(offsetof(struct io_uring_sqe, file_index) == 44, "sqe");
static_assert(IORING_REGISTER_SEND_ZC_SLOTS == 64, "slots register opcode");
static_assert(IORING_UNREGISTER_SEND_ZC_SLOTS == 65, "slots register opcode");
static_assert(IORING_SEND_ZC_SLOT == 1U << 15 && IORING_SEND_ZC_SLOT_FLUSH == 1U << 14,
	      "slot flags");
static_assert(sizeof(struct io_uring_send_zc_slots_reg) == 32, "slots reg");

int main(void)
{
	struct io_uring_sqe sqe;

	zcuring_prep_recv_zc(&sqe, 7, 100, 3);
	if (sqe.opcode != 58 || sqe.fd != 7 || sqe.len != 100 ||
	    sqe.ioprio != IORING_RECV_MULTISHOT ||
	    *(unsigned int *)((char *)&sqe + 44) != 3) {
		printf("not ok 1 zcuring_prep_recv_zc\n");
		return 1;
	}
	io_uring_prep_send_zc(&sqe, 7, NULL, 0, 0, 0);
	zcuring_sqe_set_zc_slot(&sqe, 513, 1);
	if (*(unsigned short *)((char *)&sqe + 46) != 513 ||
	    sqe.ioprio != (IORING_SEND_ZC_SLOT | IORING_SEND_ZC_SLOT_FLUSH)) {
		printf("not ok 1 zcuring_sqe_set_zc_slot\n");
		return 1;
	}
#ifndef LIBURING_FIRST
	/* the patched io_uring.h names the SQE fields too */
	if (sqe.send_zc_slot != 513) {
		printf("not ok 1 send_zc_slot\n");
		return 1;
	}
	zcuring_prep_recv_zc(&sqe, 7, 100, 3);
	if (sqe.zcrx_ifq_idx != 3) {
		printf("not ok 1 zcrx_ifq_idx\n");
		return 1;
	}
#endif
	printf("ok 1 uapi headers (%s first)\n",
#ifdef LIBURING_FIRST
	       "liburing"
#else
	       "kernel"
#endif
	);
	return 0;
}
