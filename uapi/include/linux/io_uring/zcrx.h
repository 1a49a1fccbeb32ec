/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * io_uring zero-copy receive ("zcrx").
 *
 * A zcrx instance (upstream: "interface queue", ifq) owns a buffer pool
 * (upstream: "area") in user memory and a refill ring (RQ) through which
 * user space hands completed chunks back. IORING_OP_RECV_ZC receives TCP
 * data into chunks of the pool and posts one 32-byte CQE per chunk, whose
 * upper half is a struct io_uring_zcrx_cqe naming the chunk.
 *
 * The numbers and layouts here are those of mainline Linux (zcrx since
 * 6.15, device-less mode since 7.1), so that programs written for mainline
 * run unchanged. This header is self-contained on purpose: a program whose
 * <linux/io_uring.h> was replaced by another copy (liburing 2.3 bundles one
 * under the same include guard) still gets every zcrx definition by
 * including <linux/io_uring/zcrx.h> itself.
 */
#ifndef LINUX_IO_ZCRX_H
#define LINUX_IO_ZCRX_H

#include <linux/types.h>

/* The opcode of zero-copy receive; 49..57 are unassigned on this kernel. */
enum {
	IORING_OP_RECV_ZC		= 58,
};

/* io_uring_register(2) opcodes of zcrx. */
enum {
	/* register a zcrx instance; arg: struct io_uring_zcrx_ifq_reg, nr_args 1 */
	IORING_REGISTER_ZCRX_IFQ	= 32,
	/* control a zcrx instance; arg: struct zcrx_ctrl, nr_args 0 */
	IORING_REGISTER_ZCRX_CTRL	= 36,
};

/*
 * A memory region shared with the kernel. With IORING_MEM_REGION_TYPE_USER
 * the memory is the user's, at user_addr; otherwise the kernel allocates
 * size bytes and returns in mmap_offset where to mmap(2) them on the ring
 * fd.
 */
enum {
	IORING_MEM_REGION_TYPE_USER	= 1,
};

struct io_uring_region_desc {
	__u64	user_addr;
	__u64	size;
	__u32	flags;
	__u32	id;
	__u64	mmap_offset;	/* out */
	__u64	__resv[4];
};

/* A refill entry: one chunk handed back, off as its CQE gave it. */
struct io_uring_zcrx_rqe {
	__u64	off;
	__u32	len;
	__u32	__pad;		/* must be 0 */
};

/* The upper half of a RECV_ZC data CQE. */
struct io_uring_zcrx_cqe {
	__u64	off;		/* area id << IORING_ZCRX_AREA_SHIFT | offset */
	__u64	__pad;
};

/* The area id lives in the top bits of every offset. */
#define IORING_ZCRX_AREA_SHIFT	48
#define IORING_ZCRX_AREA_MASK	(~(((__u64)1 << IORING_ZCRX_AREA_SHIFT) - 1))

/* Where the refill ring's parts are, from the start of its region. */
struct io_uring_zcrx_offsets {
	__u32	head;
	__u32	tail;
	__u32	rqes;
	__u32	__resv2;
	__u64	__resv[2];
};

enum io_uring_zcrx_area_flags {
	/* the area is a dma-buf (not supported on this kernel) */
	IORING_ZCRX_AREA_DMABUF		= 1,
};

struct io_uring_zcrx_area_reg {
	__u64	addr;
	__u64	len;
	__u64	rq_area_token;	/* out: area id << IORING_ZCRX_AREA_SHIFT */
	__u32	flags;
	__u32	dmabuf_fd;
	__u64	__resv2[2];
};

enum zcrx_reg_flags {
	/* share another ring's instance (not supported on this kernel) */
	ZCRX_REG_IMPORT	= 1,
	/*
	 * Device-less: no NIC queue is attached; every byte is copied into
	 * the area. if_idx and if_rxq must be 0.
	 */
	ZCRX_REG_NODEV	= 2,
};

enum zcrx_features {
	/* rx_buf_len may ask for chunks larger than a page */
	ZCRX_FEATURE_RX_PAGE_SIZE	= 1 << 0,
};

/* Argument of IORING_REGISTER_ZCRX_IFQ. */
struct io_uring_zcrx_ifq_reg {
	__u32	if_idx;
	__u32	if_rxq;
	__u32	rq_entries;	/* in: wanted, out: rounded up to a power of 2 */
	__u32	flags;		/* ZCRX_REG_* */

	__u64	area_ptr;	/* pointer to struct io_uring_zcrx_area_reg */
	__u64	region_ptr;	/* pointer to struct io_uring_region_desc */

	struct io_uring_zcrx_offsets offsets;	/* out */
	__u32	zcrx_id;	/* out: the SQE's zcrx_ifq_idx */
	__u32	rx_buf_len;	/* in: chunk size, 0 = default; out: used */
	__u64	__resv[3];
};

enum zcrx_ctrl_op {
	/* take back every queued refill entry now */
	ZCRX_CTRL_FLUSH_RQ,
	/* export the instance as a file (not supported on this kernel) */
	ZCRX_CTRL_EXPORT,

	__ZCRX_CTRL_LAST,
};

struct zcrx_ctrl_flush_rq {
	__u64	__resv[6];
};

struct zcrx_ctrl_export {
	__u32	zcrx_fd;
	__u32	__resv1[11];
};

/* Argument of IORING_REGISTER_ZCRX_CTRL. */
struct zcrx_ctrl {
	__u32	zcrx_id;
	__u32	op;		/* enum zcrx_ctrl_op */
	__u64	__resv[2];

	union {
		struct zcrx_ctrl_export		zc_export;
		struct zcrx_ctrl_flush_rq	zc_flush;
	};
};

#endif /* LINUX_IO_ZCRX_H */
