/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * IORING_OP_SEND_ZC / IORING_OP_SENDMSG_ZC notification slots: many
 * zero-copy sends share one notifier and one notification CQE.
 *
 * A send with IORING_SEND_ZC_SLOT in sqe->ioprio joins the current
 * generation of slot sqe->send_zc_slot (the u16 at SQE offset 46) and
 * completes with one CQE without IORING_CQE_F_MORE; it posts no
 * notification of its own. IORING_SEND_ZC_SLOT_FLUSH closes the
 * generation after that send. When every skb of a closed generation has
 * been freed, one CQE arrives: user_data = the slot's tag, flags =
 * IORING_CQE_F_NOTIF, res = the generation number (31 bits, incremented
 * by each flush of the slot, wrapping from 0x7fffffff to 0); if any send
 * of the generation had IORING_SEND_ZC_REPORT_USAGE, the top bit of res
 * (IORING_NOTIF_USAGE_ZC_COPIED) says some of the generation's data was
 * copied. Flushing a slot that holds no sends posts nothing. Only then
 * may the pages of the generation's sends be reused. A send that fails
 * after it was prepared still belongs to its generation, and its flush
 * still closes it.
 *
 * IORING_OP_SEND_ZC_FLUSH closes slot sqe->send_zc_slot's generation
 * without a send, and without a file: sqe->fd is -1, sqe->ioprio is 0 or
 * IORING_SEND_ZC_REPORT_USAGE, every other field but user_data, flags
 * and personality is 0. It takes effect when it is issued, so it can be
 * linked after sends (IOSQE_IO_HARDLINK: a failed send must not cancel
 * it). Its CQE's res is the number of the generation it closed, or
 * -ENODATA if the slot held no sends (then nothing else is posted).
 *
 * This is an extension of this kernel (zcuring), not of mainline Linux:
 * its numbers are ones no mainline kernel up to 7.1 assigns, so that a
 * kernel without it fails them with -EINVAL. IORING_FEAT_SEND_ZC_SLOTS in
 * io_uring_params.features and in the IO_URING_QUERY_OPCODES answer's
 * feature_flags says the kernel has it.
 */
#ifndef LINUX_IO_URING_ZC_SLOTS_H
#define LINUX_IO_URING_ZC_SLOTS_H

#include <linux/types.h>

enum {
	/*
	 * An opcode far past mainline's (58 is RECV_ZC), so that no mainline
	 * opcode will be taken for it; 59..127 are holes.
	 */
	IORING_OP_SEND_ZC_FLUSH			= 128,
};

enum {
	/* arg: struct io_uring_send_zc_slots_reg, nr_args 1 */
	IORING_REGISTER_SEND_ZC_SLOTS		= 64,
	/* arg: NULL, nr_args 0; flushes every slot */
	IORING_UNREGISTER_SEND_ZC_SLOTS		= 65,
};

/* sqe->ioprio of SEND_ZC and SENDMSG_ZC */
#define IORING_SEND_ZC_SLOT		(1U << 15)
#define IORING_SEND_ZC_SLOT_FLUSH	(1U << 14)

/* io_uring_params.features, and the query's feature_flags */
#define IORING_FEAT_SEND_ZC_SLOTS	(1U << 31)

/* At most this many slots per ring. */
#define IORING_SEND_ZC_SLOTS_MAX	1024

struct io_uring_send_zc_slots_reg {
	__u64	tags;		/* pointer to nr __u64 tags, one per slot */
	__u32	nr;		/* 1..IORING_SEND_ZC_SLOTS_MAX */
	__u32	first_generation; /* every slot's first generation, < 2^31 */
	__u64	__resv[2];
};

#endif /* LINUX_IO_URING_ZC_SLOTS_H */
