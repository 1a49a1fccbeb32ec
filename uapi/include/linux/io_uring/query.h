/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * IORING_REGISTER_QUERY: ask the kernel what its io_uring supports, with no
 * side effect and no ring needed (fd -1, nr_args 0). arg points to a chain
 * of struct io_uring_query_hdr linked through next_entry (a user pointer,
 * 0 ends the chain). The kernel sets each entry's result (0 or -errno) and
 * size, and writes at most size bytes of the answer to query_data.
 *
 * Numbers and layouts are those of mainline Linux; like zcrx.h this header
 * is self-contained so that it works next to any copy of io_uring.h.
 */
#ifndef LINUX_IO_URING_QUERY_H
#define LINUX_IO_URING_QUERY_H

#include <linux/types.h>

enum {
	IORING_REGISTER_QUERY		= 35,
};

struct io_uring_query_hdr {
	__u64	next_entry;
	__u64	query_data;
	__u32	query_op;
	__u32	size;
	__s32	result;		/* out */
	__u32	__resv[3];
};

enum {
	IO_URING_QUERY_OPCODES		= 0,	/* struct io_uring_query_opcode */
	IO_URING_QUERY_ZCRX		= 1,	/* struct io_uring_query_zcrx */

	__IO_URING_QUERY_MAX,
};

/* What requests, registrations, setup, enter and SQE flags exist. */
struct io_uring_query_opcode {
	__u32	nr_request_opcodes;
	__u32	nr_register_opcodes;
	__u64	feature_flags;
	__u64	ring_setup_flags;
	__u64	enter_flags;
	__u64	sqe_flags;
	__u32	nr_query_opcodes;
	__u32	__pad;
};

/* What zero-copy receive supports. */
struct io_uring_query_zcrx {
	__u64	register_flags;		/* ZCRX_REG_* accepted */
	__u64	area_flags;		/* IORING_ZCRX_AREA_* accepted */
	__u32	nr_ctrl_opcodes;	/* ZCRX_CTRL_* below this are supported */
	__u32	features;		/* ZCRX_FEATURE_* */
	__u32	rq_hdr_size;		/* refill ring header bytes */
	__u32	rq_hdr_alignment;	/* refill entries start aligned to this */
	__u64	__resv2;
};

#endif /* LINUX_IO_URING_QUERY_H */
