/* SPDX-License-Identifier: MIT */
/*
 * SEND_ZC notification slots of the zcuring kernel (see
 * <linux/io_uring/zc_slots.h>) for liburing users. Mainline Linux and
 * liburing have no such thing: every helper here is named zcuring_*.
 * Registration helpers return 0 or -errno, as in liburing.
 */
#ifndef ZCURING_ZC_SLOTS_H
#define ZCURING_ZC_SLOTS_H

#include <stdint.h>
#include <string.h>
#include <zcuring/compat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Register @nr slots with their tags; 0 or -errno. */
static inline int zcuring_zc_slots_register(struct io_uring *ring,
					    const uint64_t *tags,
					    unsigned int nr,
					    uint32_t first_generation)
{
	struct io_uring_send_zc_slots_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.tags = (__u64)(uintptr_t)tags;
	reg.nr = nr;
	reg.first_generation = first_generation;
	return io_uring_register(ring->ring_fd, IORING_REGISTER_SEND_ZC_SLOTS,
				 &reg, 1);
}

/* Close every open generation and drop the slots; 0 or -errno. */
static inline int zcuring_zc_slots_unregister(struct io_uring *ring)
{
	return io_uring_register(ring->ring_fd, IORING_UNREGISTER_SEND_ZC_SLOTS,
				 NULL, 0);
}

/*
 * Bind a prepared IORING_OP_SEND_ZC or IORING_OP_SENDMSG_ZC to @slot;
 * @flush closes the slot's generation after this send.
 */
static inline void zcuring_sqe_set_zc_slot(struct io_uring_sqe *sqe,
					   uint16_t slot, int flush)
{
	sqe->ioprio |= IORING_SEND_ZC_SLOT;
	if (flush)
		sqe->ioprio |= IORING_SEND_ZC_SLOT_FLUSH;
	/* send_zc_slot is the u16 at offset 46 in every io_uring.h */
	memcpy((char *)sqe + 46, &slot, sizeof(slot));
}

/*
 * IORING_OP_SEND_ZC_FLUSH: close @slot's generation without a send. The
 * CQE's res is the generation closed (its notification follows), or
 * -ENODATA if the slot held no sends. @report asks for the usage report.
 */
static inline void zcuring_prep_send_zc_flush(struct io_uring_sqe *sqe,
					      uint16_t slot, int report)
{
	io_uring_prep_rw(IORING_OP_SEND_ZC_FLUSH, sqe, -1, NULL, 0, 0);
	if (report)
		sqe->ioprio = IORING_SEND_ZC_REPORT_USAGE;
	memcpy((char *)sqe + 46, &slot, sizeof(slot));
}

#ifdef __cplusplus
}
#endif

#endif /* ZCURING_ZC_SLOTS_H */
