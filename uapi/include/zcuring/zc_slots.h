/* SPDX-License-Identifier: MIT */
/*
 * liburing-style helpers for SEND_ZC notification slots on the zcuring
 * kernel (see <linux/io_uring/zc_slots.h>). Works next to liburing 2.3,
 * whichever is included first.
 */
#ifndef ZCURING_ZC_SLOTS_H
#define ZCURING_ZC_SLOTS_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring/zc_slots.h>

#ifdef __cplusplus
extern "C" {
#endif

/* liburing 2.3's io_uring.h predates it */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE	(1U << 3)
#endif

/* Register @nr slots with their tags; 0 or -errno. */
static inline int zc_slots_register(int ring_fd, const uint64_t *tags,
				    unsigned int nr, uint32_t first_generation)
{
	struct io_uring_send_zc_slots_reg reg;
	int ret;

	memset(&reg, 0, sizeof(reg));
	reg.tags = (uint64_t)(uintptr_t)tags;
	reg.nr = nr;
	reg.first_generation = first_generation;
	ret = (int)syscall(__NR_io_uring_register, ring_fd,
			   IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);
	return ret < 0 ? -errno : ret;
}

/* Close every open generation and drop the slots; 0 or -errno. */
static inline int zc_slots_unregister(int ring_fd)
{
	int ret = (int)syscall(__NR_io_uring_register, ring_fd,
			       IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0);

	return ret < 0 ? -errno : ret;
}

/*
 * Bind a prepared IORING_OP_SEND_ZC or IORING_OP_SENDMSG_ZC to @slot;
 * @flush closes the slot's generation after this send.
 */
static inline void io_uring_sqe_set_zc_slot(struct io_uring_sqe *sqe,
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
static inline void io_uring_prep_send_zc_flush(struct io_uring_sqe *sqe,
					       uint16_t slot, int report)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_SEND_ZC_FLUSH;
	sqe->fd = -1;
	if (report)
		sqe->ioprio = IORING_SEND_ZC_REPORT_USAGE;
	memcpy((char *)sqe + 46, &slot, sizeof(slot));
}

#ifdef __cplusplus
}
#endif

#endif /* ZCURING_ZC_SLOTS_H */
