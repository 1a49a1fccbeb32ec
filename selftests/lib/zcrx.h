/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test helpers for zero-copy receive: a pool and refill ring registered
 * on a zc_ring, in the shape mainline programs use them. Registration goes
 * through the raw system call (the tests pass values no library would);
 * the refill ring and the RECV_ZC SQE are the C layer's
 * (<zcuring/zcrx.h>: struct io_uring_zcrx_rq, zcuring_zcrx_rq_*(),
 * zcuring_prep_recv_zc()).
 */
#ifndef ZC_SELFTEST_ZCRX_H
#define ZC_SELFTEST_ZCRX_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "uring.h"
#include <zcuring/zcrx.h>

#define ZC_PAGE 4096UL
#define ZC_RING_FLAGS (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | \
		       IORING_SETUP_CQE32)

struct zc_zcrx {
	uint8_t *area;
	size_t area_len;
	void *rq_mem;
	size_t rq_len;
	bool rq_kernel;		/* refill ring memory is the kernel's, mmapped */
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_zcrx_area_reg area_reg;
	struct io_uring_region_desc rd;
	/* the refill ring as user space sees it */
	struct io_uring_zcrx_rq rq;
};

static inline size_t zc_zcrx_rq_len(unsigned int entries)
{
	size_t len = 64 + entries * sizeof(struct io_uring_zcrx_rqe);

	return (len + ZC_PAGE - 1) & ~(ZC_PAGE - 1);
}

/*
 * Fill in registration structs for a device-less instance with an area of
 * area_len bytes and a refill ring of entries entries (in user memory, or
 * in the kernel's when rq_kernel), without registering.
 */
static inline int zc_zcrx_prepare(struct zc_zcrx *z, size_t area_len,
				  unsigned int entries, bool rq_kernel)
{
	memset(z, 0, sizeof(*z));
	z->area_len = area_len;
	z->area = mmap(NULL, area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z->area == MAP_FAILED)
		return -errno;
	z->rq_len = zc_zcrx_rq_len(entries < 32768 ? entries : 32768);
	z->rq_kernel = rq_kernel;
	if (!rq_kernel) {
		z->rq_mem = mmap(NULL, z->rq_len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (z->rq_mem == MAP_FAILED)
			return -errno;
		z->rd.user_addr = (uintptr_t)z->rq_mem;
		z->rd.flags = IORING_MEM_REGION_TYPE_USER;
	}
	z->rd.size = z->rq_len;
	z->area_reg.addr = (uintptr_t)z->area;
	z->area_reg.len = area_len;
	z->reg.flags = ZCRX_REG_NODEV;
	z->reg.rq_entries = entries;
	z->reg.area_ptr = (uintptr_t)&z->area_reg;
	z->reg.region_ptr = (uintptr_t)&z->rd;
	return 0;
}

/* After a successful registration: map the refill ring. */
static inline int zc_zcrx_map(struct zc_ring *r, struct zc_zcrx *z)
{
	if (z->rq_kernel) {
		z->rq_mem = mmap(NULL, z->rq_len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd, z->rd.mmap_offset);
		if (z->rq_mem == MAP_FAILED) {
			z->rq_mem = NULL;
			return -errno;
		}
	}
	zcuring_zcrx_rq_init(&z->rq, z->rq_mem, &z->reg);
	return 0;
}

/* Register what zc_zcrx_prepare() set up and map the refill ring. */
static inline int zc_zcrx_register(struct zc_ring *r, struct zc_zcrx *z)
{
	int ret = zc_sys_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &z->reg, 1);

	return ret ? ret : zc_zcrx_map(r, z);
}

static inline int zc_zcrx_setup(struct zc_ring *r, struct zc_zcrx *z,
				size_t area_len, unsigned int entries,
				bool rq_kernel)
{
	int ret = zc_zcrx_prepare(z, area_len, entries, rq_kernel);

	return ret ? ret : zc_zcrx_register(r, z);
}

static inline int zc_zcrx_flush(struct zc_ring *r, struct zc_zcrx *z);
static inline void zc_zcrx_publish(struct zc_zcrx *z);
static inline uint32_t zc_zcrx_queued(struct zc_zcrx *z);

/*
 * Queue one refill entry; publish with zc_zcrx_publish(). A full refill
 * ring is published and flushed first: entries must never overwrite ones
 * the kernel has not consumed.
 */
static inline void zc_zcrx_queue_on(struct zc_ring *r, struct zc_zcrx *z,
				    uint64_t off, uint32_t len)
{
	if (!zcuring_zcrx_rq_space(&z->rq)) {
		zc_zcrx_publish(z);
		zc_zcrx_flush(r, z);
	}
	zcuring_zcrx_rq_return(&z->rq, off, len);
}

/* Queue one refill entry; the caller knows the refill ring has room. */
static inline void zc_zcrx_queue(struct zc_zcrx *z, uint64_t off, uint32_t len)
{
	zcuring_zcrx_rq_return(&z->rq, off, len);
}

static inline void zc_zcrx_publish(struct zc_zcrx *z)
{
	zcuring_zcrx_rq_publish(&z->rq);
}

/* Entries the kernel has not consumed yet. */
static inline uint32_t zc_zcrx_queued(struct zc_zcrx *z)
{
	return z->rq.ring_entries - zcuring_zcrx_rq_space(&z->rq);
}

static inline int zc_zcrx_flush(struct zc_ring *r, struct zc_zcrx *z)
{
	struct zcrx_ctrl ctrl = { .zcrx_id = z->reg.zcrx_id,
				  .op = ZCRX_CTRL_FLUSH_RQ };

	return zc_sys_register(r->fd, IORING_REGISTER_ZCRX_CTRL, &ctrl, 0);
}

static inline void zc_zcrx_free(struct zc_zcrx *z)
{
	if (z->area && z->area != MAP_FAILED)
		munmap(z->area, z->area_len);
	if (z->rq_mem && z->rq_mem != MAP_FAILED)
		munmap(z->rq_mem, z->rq_len);
	memset(z, 0, sizeof(*z));
}

/* A multishot IORING_OP_RECV_ZC of fd into instance id, len bytes (0: all). */
static inline void zc_prep_recv_zc(struct io_uring_sqe *sqe, int fd,
				   uint32_t id, uint32_t len, uint64_t ud)
{
	zcuring_prep_recv_zc(sqe, fd, len, id);
	sqe->user_data = ud;
}

/* Pages pinned by this process (VmPin of /proc/self/status), in kB. */
static inline long zc_vm_pinned_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#endif /* ZC_SELFTEST_ZCRX_H */
