/* SPDX-License-Identifier: MIT */
/*
 * liburing-style helpers for io_uring zero-copy receive on the zcuring
 * kernel (and on mainline): prep an SQE, register an instance, drive the
 * refill ring, ask the kernel what it supports. Each helper only fills
 * structures or makes one syscall; errors come back as -errno.
 *
 * Works next to liburing 2.3, whichever is included first: the zcrx and
 * query definitions come from <linux/io_uring/zcrx.h> and
 * <linux/io_uring/query.h>, which do not depend on the io_uring.h that
 * won the include guard.
 */
#ifndef ZCURING_ZCRX_H
#define ZCURING_ZCRX_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring/zcrx.h>
#include <linux/io_uring/query.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int zcrx_sys_register(int fd, unsigned int op, void *arg,
				    unsigned int nr)
{
	int ret = (int)syscall(__NR_io_uring_register, fd, op, arg, nr);

	return ret < 0 ? -errno : ret;
}

/*
 * Ask the running kernel what zero-copy receive supports, without a ring
 * and without side effects. -EINVAL: a kernel without zcrx.
 */
static inline int zcrx_query(struct io_uring_query_zcrx *out)
{
	struct io_uring_query_hdr hdr;
	int ret;

	memset(&hdr, 0, sizeof(hdr));
	memset(out, 0, sizeof(*out));
	hdr.query_op = IO_URING_QUERY_ZCRX;
	hdr.query_data = (uint64_t)(uintptr_t)out;
	hdr.size = sizeof(*out);
	ret = zcrx_sys_register(-1, IORING_REGISTER_QUERY, &hdr, 0);
	return ret < 0 ? ret : hdr.result;
}

/* Refill ring bytes for @entries entries, given the query's answer. */
static inline size_t zcrx_rq_bytes(const struct io_uring_query_zcrx *q,
				   unsigned int entries)
{
	size_t align = q->rq_hdr_alignment ? q->rq_hdr_alignment : 64;
	size_t hdr = (q->rq_hdr_size + align - 1) / align * align;

	return hdr + (size_t)entries * sizeof(struct io_uring_zcrx_rqe);
}

/* Register an instance (IORING_REGISTER_ZCRX_IFQ); 0 or -errno. */
static inline int zcrx_register(int ring_fd, struct io_uring_zcrx_ifq_reg *reg)
{
	return zcrx_sys_register(ring_fd, IORING_REGISTER_ZCRX_IFQ, reg, 1);
}

/* Make the kernel take back every queued refill entry now. */
static inline int zcrx_flush(int ring_fd, uint32_t zcrx_id)
{
	struct zcrx_ctrl ctrl;

	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.zcrx_id = zcrx_id;
	ctrl.op = ZCRX_CTRL_FLUSH_RQ;
	return zcrx_sys_register(ring_fd, IORING_REGISTER_ZCRX_CTRL, &ctrl, 0);
}

/*
 * IORING_OP_RECV_ZC: multishot zero-copy receive on TCP socket @fd into
 * instance @zcrx_id, at most @len bytes (0: until EOF).
 */
static inline void io_uring_prep_recv_zc(struct io_uring_sqe *sqe, int fd,
					 unsigned int len, uint32_t zcrx_id)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_RECV_ZC;
	sqe->fd = fd;
	sqe->len = len;
	sqe->ioprio = IORING_RECV_MULTISHOT;
	/* zcrx_ifq_idx shares offset 44 with file_index in every io_uring.h */
	sqe->file_index = zcrx_id;
}

/* The upper half of a data CQE of a 32-byte CQE ring. */
static inline const struct io_uring_zcrx_cqe *
zcrx_cqe(const struct io_uring_cqe *cqe)
{
	return (const struct io_uring_zcrx_cqe *)(cqe + 1);
}

/* User space's side of a refill ring. */
struct zcrx_rq {
	uint32_t *khead;
	uint32_t *ktail;
	struct io_uring_zcrx_rqe *rqes;
	uint32_t tail;
	uint32_t entries;
};

/* @base: the refill ring's memory, as registered or mmapped. */
static inline void zcrx_rq_init(struct zcrx_rq *rq, void *base,
				const struct io_uring_zcrx_ifq_reg *reg)
{
	rq->khead = (uint32_t *)((char *)base + reg->offsets.head);
	rq->ktail = (uint32_t *)((char *)base + reg->offsets.tail);
	rq->rqes = (struct io_uring_zcrx_rqe *)((char *)base + reg->offsets.rqes);
	rq->tail = 0;
	rq->entries = reg->rq_entries;
}

/* Entries that may be queued now without overwriting unconsumed ones. */
static inline uint32_t zcrx_rq_space(const struct zcrx_rq *rq)
{
	return rq->entries - (rq->tail - __atomic_load_n(rq->khead, __ATOMIC_ACQUIRE));
}

/*
 * Hand back the data of one CQE: exactly one entry per data CQE. The caller
 * checks zcrx_rq_space() first; zcrx_rq_publish() makes entries visible.
 */
static inline void zcrx_rq_return(struct zcrx_rq *rq, uint64_t off, uint32_t len)
{
	struct io_uring_zcrx_rqe *rqe = &rq->rqes[rq->tail & (rq->entries - 1)];

	rqe->off = off;
	rqe->len = len;
	rqe->__pad = 0;
	rq->tail++;
}

static inline void zcrx_rq_publish(struct zcrx_rq *rq)
{
	/* pairs with the kernel's acquire load of the tail */
	__atomic_store_n(rq->ktail, rq->tail, __ATOMIC_RELEASE);
}

/*
 * An instance on user memory: register @pool (page aligned) and a refill
 * ring of @entries entries in @rq_mem (@rq_len bytes: at least
 * zcrx_rq_bytes(), page aligned), and set up @rq. With @if_idx 0 the
 * instance is device-less (ZCRX_REG_NODEV: the kernel copies into the
 * pool); otherwise the pool is bound to receive queue @if_rxq of that
 * interface, whose NIC then writes payload into it (CAP_NET_ADMIN;
 * -EOPNOTSUPP for a device without support). 0 or -errno; on success
 * reg->zcrx_id names the instance in SQEs.
 */
static inline int zcrx_register_area(int ring_fd, uint32_t if_idx,
				     uint32_t if_rxq, void *pool,
				     size_t pool_len, void *rq_mem,
				     size_t rq_len, unsigned int entries,
				     struct io_uring_zcrx_ifq_reg *reg,
				     struct zcrx_rq *rq)
{
	struct io_uring_zcrx_area_reg area;
	struct io_uring_region_desc rd;
	int ret;

	memset(&area, 0, sizeof(area));
	memset(&rd, 0, sizeof(rd));
	memset(reg, 0, sizeof(*reg));
	area.addr = (uint64_t)(uintptr_t)pool;
	area.len = pool_len;
	rd.user_addr = (uint64_t)(uintptr_t)rq_mem;
	rd.size = rq_len;
	rd.flags = IORING_MEM_REGION_TYPE_USER;
	if (if_idx) {
		reg->if_idx = if_idx;
		reg->if_rxq = if_rxq;
	} else {
		reg->flags = ZCRX_REG_NODEV;
	}
	reg->rq_entries = entries;
	reg->area_ptr = (uint64_t)(uintptr_t)&area;
	reg->region_ptr = (uint64_t)(uintptr_t)&rd;
	ret = zcrx_register(ring_fd, reg);
	/* they pointed to this function's locals */
	reg->area_ptr = 0;
	reg->region_ptr = 0;
	if (!ret)
		zcrx_rq_init(rq, rq_mem, reg);
	return ret;
}

/* zcrx_register_area() without a device. */
static inline int zcrx_register_nodev(int ring_fd, void *pool, size_t pool_len,
				      void *rq_mem, size_t rq_len,
				      unsigned int entries,
				      struct io_uring_zcrx_ifq_reg *reg,
				      struct zcrx_rq *rq)
{
	return zcrx_register_area(ring_fd, 0, 0, pool, pool_len, rq_mem,
				  rq_len, entries, reg, rq);
}

#ifdef __cplusplus
}
#endif

#endif /* ZCURING_ZCRX_H */
