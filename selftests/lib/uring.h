/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A thin io_uring ring over raw syscalls for the selftests: the tests use
 * the patched kernel's own uapi headers and must not depend on what a
 * user-space library version knows. Every call returns 0 or -errno.
 */
#ifndef ZC_SELFTEST_URING_H
#define ZC_SELFTEST_URING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
/*
 * glibc's <sys/uio.h> and the kernel's <linux/fs.h> (pulled in by
 * <linux/io_uring.h>) define the same RWF_* values with different
 * spellings; take the kernel's.
 */
#undef RWF_HIPRI
#undef RWF_DSYNC
#undef RWF_SYNC
#undef RWF_NOWAIT
#undef RWF_APPEND
#include <linux/io_uring.h>

struct zc_ring {
	int fd;
	struct io_uring_params p;
	/* submission queue */
	unsigned int *sq_head, *sq_tail, *sq_array, sq_mask;
	unsigned int sqe_tail; /* local: SQEs handed out, not yet published */
	struct io_uring_sqe *sqes;
	/* completion queue */
	unsigned int *cq_head, *cq_tail, cq_mask;
	unsigned int *cq_overflow;
	void *cqes;
	unsigned int cqe_size; /* 16, or 32 with IORING_SETUP_CQE32 */
	void *sq_map, *cq_map;
	size_t sq_map_sz, cq_map_sz, sqes_sz;
};

static inline int zc_sys_setup(unsigned int entries, struct io_uring_params *p)
{
	int ret = syscall(__NR_io_uring_setup, entries, p);

	return ret < 0 ? -errno : ret;
}

static inline int zc_sys_enter(int fd, unsigned int submit, unsigned int wait,
			       unsigned int flags)
{
	int ret = syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);

	return ret < 0 ? -errno : ret;
}

static inline int zc_sys_register(int fd, unsigned int op, void *arg,
				  unsigned int nr)
{
	int ret = syscall(__NR_io_uring_register, fd, op, arg, nr);

	return ret < 0 ? -errno : ret;
}

static inline void zc_ring_exit(struct zc_ring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->sqes_sz);
	if (r->cq_map && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
		munmap(r->cq_map, r->cq_map_sz);
	if (r->sq_map && r->sq_map != MAP_FAILED)
		munmap(r->sq_map, r->sq_map_sz);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Set up a ring with the given setup flags (and CQ size if cq_entries). */
static inline int zc_ring_init(struct zc_ring *r, unsigned int entries,
			       unsigned int flags, unsigned int cq_entries)
{
	struct io_uring_params *p = &r->p;
	int ret;

	memset(r, 0, sizeof(*r));
	p->flags = flags;
	if (cq_entries) {
		p->flags |= IORING_SETUP_CQSIZE;
		p->cq_entries = cq_entries;
	}
	r->fd = zc_sys_setup(entries, p);
	if (r->fd < 0) {
		ret = r->fd;
		r->fd = -1;
		return ret;
	}
	r->cqe_size = (p->flags & IORING_SETUP_CQE32) ? 32 : 16;
	r->sq_map_sz = p->sq_off.array + p->sq_entries * sizeof(unsigned int);
	r->cq_map_sz = p->cq_off.cqes + (size_t)p->cq_entries * r->cqe_size;
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_map_sz > r->sq_map_sz)
			r->sq_map_sz = r->cq_map_sz;
		r->cq_map_sz = r->sq_map_sz;
	}
	r->sq_map = mmap(NULL, r->sq_map_sz, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_map == MAP_FAILED)
		goto fail;
	r->cq_map = r->sq_map;
	if (!(p->features & IORING_FEAT_SINGLE_MMAP)) {
		r->cq_map = mmap(NULL, r->cq_map_sz, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_POPULATE, r->fd,
				 IORING_OFF_CQ_RING);
		if (r->cq_map == MAP_FAILED)
			goto fail;
	}
	r->sqes_sz = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_sz, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		goto fail;

	r->sq_head = (unsigned int *)((char *)r->sq_map + p->sq_off.head);
	r->sq_tail = (unsigned int *)((char *)r->sq_map + p->sq_off.tail);
	r->sq_array = (unsigned int *)((char *)r->sq_map + p->sq_off.array);
	r->sq_mask = *(unsigned int *)((char *)r->sq_map + p->sq_off.ring_mask);
	r->cq_head = (unsigned int *)((char *)r->cq_map + p->cq_off.head);
	r->cq_tail = (unsigned int *)((char *)r->cq_map + p->cq_off.tail);
	r->cq_overflow = (unsigned int *)((char *)r->cq_map + p->cq_off.overflow);
	r->cq_mask = *(unsigned int *)((char *)r->cq_map + p->cq_off.ring_mask);
	r->cqes = (char *)r->cq_map + p->cq_off.cqes;
	r->sqe_tail = *r->sq_tail;
	return 0;
fail:
	ret = -errno;
	zc_ring_exit(r);
	return ret;
}

/* A zeroed SQE, or NULL when the SQ is full. */
static inline struct io_uring_sqe *zc_get_sqe(struct zc_ring *r)
{
	unsigned int head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
	struct io_uring_sqe *sqe;

	if (r->sqe_tail - head >= r->p.sq_entries)
		return NULL;
	sqe = &r->sqes[r->sqe_tail & r->sq_mask];
	r->sq_array[r->sqe_tail & r->sq_mask] = r->sqe_tail & r->sq_mask;
	r->sqe_tail++;
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

/*
 * Publish the SQEs handed out so far and enter the kernel, waiting for
 * wait_nr completions. Returns the number submitted or -errno.
 */
static inline int zc_submit_wait(struct zc_ring *r, unsigned int wait_nr)
{
	unsigned int n = r->sqe_tail - *r->sq_tail;

	/* Pairs with the kernel's acquire of the SQ tail. */
	__atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
	return zc_sys_enter(r->fd, n, wait_nr,
			    wait_nr ? IORING_ENTER_GETEVENTS : 0);
}

static inline int zc_submit(struct zc_ring *r)
{
	return zc_submit_wait(r, 0);
}

/* The next CQE, or NULL. Its storage stays valid until zc_cqe_seen(). */
static inline struct io_uring_cqe *zc_peek_cqe(struct zc_ring *r)
{
	/* Pairs with the kernel's release of the CQ tail. */
	unsigned int tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
	unsigned int head = *r->cq_head;

	if (head == tail)
		return NULL;
	return (struct io_uring_cqe *)((char *)r->cqes +
				       (size_t)(head & r->cq_mask) * r->cqe_size);
}

static inline void zc_cqe_seen(struct zc_ring *r)
{
	/* Tells the kernel the slot may be reused: release our reads of it. */
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}

/*
 * Wait for and copy out the next CQE (16 bytes, or 32 into big[] when
 * the ring has CQE32 and big is given), then advance the CQ.
 */
static inline int zc_wait_cqe(struct zc_ring *r, struct io_uring_cqe *out,
			      uint64_t big[2])
{
	struct io_uring_cqe *cqe;
	int ret;

	while (!(cqe = zc_peek_cqe(r))) {
		ret = zc_sys_enter(r->fd, 0, 1, IORING_ENTER_GETEVENTS);
		if (ret < 0 && ret != -EINTR)
			return ret;
	}
	*out = *cqe;
	if (big && r->cqe_size == 32)
		memcpy(big, (char *)cqe + 16, 16);
	zc_cqe_seen(r);
	return 0;
}

static inline void zc_prep_send_zc(struct io_uring_sqe *sqe, int fd,
				   const void *buf, unsigned int len,
				   uint16_t ioprio, uint64_t user_data)
{
	sqe->opcode = IORING_OP_SEND_ZC;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)buf;
	sqe->len = len;
	sqe->ioprio = ioprio;
	sqe->user_data = user_data;
}

/* Submit everything and return the CQE of the single submitted request. */
static inline int zc_submit_one(struct zc_ring *r, struct io_uring_cqe *out)
{
	int ret = zc_submit_wait(r, 1);

	if (ret < 0)
		return ret;
	return zc_wait_cqe(r, out, NULL);
}

#endif /* ZC_SELFTEST_URING_H */
