/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy receive (IORING_OP_RECV_ZC) for liburing users, on the zcuring
 * kernel and on mainline: register an instance, prep the receive, drive
 * the refill ring, ask the kernel what it supports. Each helper only fills
 * structures or makes one io_uring_register(2) call; errors come back as
 * -errno, as in liburing.
 *
 * Where liburing has the same thing, this header has it under liburing's
 * name and in liburing's shape, and defines it only when the liburing
 * compiled against is older than the release that added it:
 *
 *   struct io_uring_zcrx_rq, io_uring_register_ifq()	liburing 2.10
 *   io_uring_register_zcrx_ctrl(), io_uring_register_query()	liburing 2.15
 *
 * What liburing has not is named zcuring_*: the refill ring helpers, the
 * prep helper, device-less registration and the query.
 */
#ifndef ZCURING_ZCRX_H
#define ZCURING_ZCRX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zcuring/compat.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !ZCURING_LIBURING_AT_LEAST(2, 10)
/* User space's side of a refill ring: liburing 2.10's, types and all. */
struct io_uring_zcrx_rq {
	__u32 *khead;
	__u32 *ktail;
	__u32 rq_tail;			/* local: entries queued, published or not */
	unsigned ring_entries;

	struct io_uring_zcrx_rqe *rqes;
	void *ring_ptr;			/* the refill ring's memory */
};

/* Register an instance (IORING_REGISTER_ZCRX_IFQ); 0 or -errno. */
static inline int io_uring_register_ifq(struct io_uring *ring,
					struct io_uring_zcrx_ifq_reg *reg)
{
	return io_uring_register(ring->ring_fd, IORING_REGISTER_ZCRX_IFQ, reg, 1);
}
#endif

#if !ZCURING_LIBURING_AT_LEAST(2, 15)
/* IORING_REGISTER_ZCRX_CTRL on an instance; 0 or -errno. */
static inline int io_uring_register_zcrx_ctrl(struct io_uring *ring,
					      struct zcrx_ctrl *ctrl)
{
	return io_uring_register(ring->ring_fd, IORING_REGISTER_ZCRX_CTRL, ctrl, 0);
}

/* IORING_REGISTER_QUERY, which needs no ring; 0 or -errno. */
static inline int io_uring_register_query(struct io_uring_query_hdr *query)
{
	return io_uring_register(-1, IORING_REGISTER_QUERY, query, 0);
}
#endif

/*
 * Ask the running kernel what zero-copy receive supports, without a ring
 * and without side effects. -EINVAL: a kernel without zcrx.
 */
static inline int zcuring_zcrx_query(struct io_uring_query_zcrx *out)
{
	struct io_uring_query_hdr hdr;
	int ret;

	memset(&hdr, 0, sizeof(hdr));
	memset(out, 0, sizeof(*out));
	hdr.query_op = IO_URING_QUERY_ZCRX;
	hdr.query_data = (__u64)(uintptr_t)out;
	hdr.size = sizeof(*out);
	ret = io_uring_register_query(&hdr);
	return ret < 0 ? ret : hdr.result;
}

/* Refill ring bytes for @entries entries, given the query's answer. */
static inline size_t zcuring_zcrx_rq_bytes(const struct io_uring_query_zcrx *q,
					   unsigned int entries)
{
	size_t align = q->rq_hdr_alignment ? q->rq_hdr_alignment : 64;
	size_t hdr = (q->rq_hdr_size + align - 1) / align * align;

	return hdr + (size_t)entries * sizeof(struct io_uring_zcrx_rqe);
}

/* Make the kernel take back every queued refill entry now. */
static inline int zcuring_zcrx_flush(struct io_uring *ring, uint32_t zcrx_id)
{
	struct zcrx_ctrl ctrl;

	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = zcrx_id;
	ctrl.op = ZCRX_CTRL_FLUSH_RQ;
	return io_uring_register_zcrx_ctrl(ring, &ctrl);
}

/*
 * IORING_OP_RECV_ZC: multishot zero-copy receive on TCP socket @fd into
 * instance @zcrx_id, at most @len bytes (0: until EOF).
 */
static inline void zcuring_prep_recv_zc(struct io_uring_sqe *sqe, int fd,
					unsigned int len, uint32_t zcrx_id)
{
	io_uring_prep_rw(IORING_OP_RECV_ZC, sqe, fd, NULL, len, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
	/* zcrx_ifq_idx shares offset 44 with file_index in every io_uring.h */
	sqe->file_index = zcrx_id;
}

/* The upper half of a data CQE of a 32-byte CQE ring. */
static inline const struct io_uring_zcrx_cqe *
zcuring_zcrx_cqe(const struct io_uring_cqe *cqe)
{
	return (const struct io_uring_zcrx_cqe *)(cqe + 1);
}

/* @base: the refill ring's memory, as registered or mmapped. */
static inline void zcuring_zcrx_rq_init(struct io_uring_zcrx_rq *rq, void *base,
					const struct io_uring_zcrx_ifq_reg *reg)
{
	rq->khead = (__u32 *)((char *)base + reg->offsets.head);
	rq->ktail = (__u32 *)((char *)base + reg->offsets.tail);
	rq->rqes = (struct io_uring_zcrx_rqe *)((char *)base + reg->offsets.rqes);
	rq->rq_tail = 0;
	rq->ring_entries = reg->rq_entries;
	rq->ring_ptr = base;
}

/* Entries that may be queued now without overwriting unconsumed ones. */
static inline unsigned int
zcuring_zcrx_rq_space(const struct io_uring_zcrx_rq *rq)
{
	return rq->ring_entries -
	       (rq->rq_tail - __atomic_load_n(rq->khead, __ATOMIC_ACQUIRE));
}

/*
 * Hand back the data of one CQE: exactly one entry per data CQE. The caller
 * checks zcuring_zcrx_rq_space() first; zcuring_zcrx_rq_publish() makes
 * entries visible to the kernel.
 */
static inline void zcuring_zcrx_rq_return(struct io_uring_zcrx_rq *rq,
					  uint64_t off, uint32_t len)
{
	struct io_uring_zcrx_rqe *rqe =
		&rq->rqes[rq->rq_tail & (rq->ring_entries - 1)];

	rqe->off = off;
	rqe->len = len;
	rqe->__pad = 0;
	rq->rq_tail++;
}

static inline void zcuring_zcrx_rq_publish(struct io_uring_zcrx_rq *rq)
{
	/* pairs with the kernel's acquire load of the tail */
	__atomic_store_n(rq->ktail, rq->rq_tail, __ATOMIC_RELEASE);
}

/*
 * An instance on user memory: register @pool (page aligned) and a refill
 * ring of @entries entries in @rq_mem (@rq_len bytes: at least
 * zcuring_zcrx_rq_bytes(), page aligned), and set up @rq. With @if_idx 0
 * the instance is device-less (ZCRX_REG_NODEV: the kernel copies into the
 * pool); otherwise the pool is bound to receive queue @if_rxq of that
 * interface, whose NIC then writes payload into it (CAP_NET_ADMIN;
 * -EOPNOTSUPP for a device without support). 0 or -errno; on success
 * reg->zcrx_id names the instance in SQEs.
 */
static inline int zcuring_zcrx_register(struct io_uring *ring, uint32_t if_idx,
					uint32_t if_rxq, void *pool,
					size_t pool_len, void *rq_mem,
					size_t rq_len, unsigned int entries,
					struct io_uring_zcrx_ifq_reg *reg,
					struct io_uring_zcrx_rq *rq)
{
	struct io_uring_zcrx_area_reg area;
	struct io_uring_region_desc rd;
	int ret;

	memset(&area, 0, sizeof(area));
	memset(&rd, 0, sizeof(rd));
	memset(reg, 0, sizeof(*reg));
	area.addr = (__u64)(uintptr_t)pool;
	area.len = pool_len;
	rd.user_addr = (__u64)(uintptr_t)rq_mem;
	rd.size = rq_len;
	rd.flags = IORING_MEM_REGION_TYPE_USER;
	if (if_idx) {
		reg->if_idx = if_idx;
		reg->if_rxq = if_rxq;
	} else {
		reg->flags = ZCRX_REG_NODEV;
	}
	reg->rq_entries = entries;
	reg->area_ptr = (__u64)(uintptr_t)&area;
	reg->region_ptr = (__u64)(uintptr_t)&rd;
	ret = io_uring_register_ifq(ring, reg);
	/* they pointed to this function's locals */
	reg->area_ptr = 0;
	reg->region_ptr = 0;
	if (!ret)
		zcuring_zcrx_rq_init(rq, rq_mem, reg);
	return ret;
}

/* zcuring_zcrx_register() without a device. */
static inline int zcuring_zcrx_register_nodev(struct io_uring *ring, void *pool,
					      size_t pool_len, void *rq_mem,
					      size_t rq_len, unsigned int entries,
					      struct io_uring_zcrx_ifq_reg *reg,
					      struct io_uring_zcrx_rq *rq)
{
	return zcuring_zcrx_register(ring, 0, 0, pool, pool_len, rq_mem,
				     rq_len, entries, reg, rq);
}

#ifdef __cplusplus
}
#endif

#endif /* ZCURING_ZCRX_H */
