// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_OP_RECV_ZC on the patched kernel: a TCP stream received into a
 * registered pool, every byte checked, chunks handed back through the
 * refill ring with no syscall.
 *
 *   recv_zc_demo LABEL NS_TX NS_RX RX_IP [MiB]     ("-" = current netns)
 */
#include <liburing.h>
#include <zcuring/zcrx.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "testlib/net.h"

#define SEED 0x7a11
#define POOL (4 << 20)

static void fail(const char *what, int err)
{
	fprintf(stderr, "recv_zc_demo: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

int main(int argc, char **argv)
{
	/* room for a whole pool's worth of CQEs: few -ENOSPC re-arms */
	struct io_uring_params p = { .flags = IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_CQE32 | IORING_SETUP_CQSIZE,
		.cq_entries = 1024 };
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_query_zcrx q;
	unsigned long cqes = 0, rearms = 0;
	uint64_t total, got = 0;
	struct io_uring_zcrx_rq rq;
	struct io_uring ring;
	struct timespec t0, t1;
	bool armed = false, done = false;
	int tx, rx, ret, st;
	uint8_t *pool;
	void *rq_mem;
	size_t rq_len;
	pid_t pid;

	if (argc < 5) {
		fprintf(stderr, "usage: %s LABEL NS_TX NS_RX RX_IP [MiB]\n", argv[0]);
		return 2;
	}
	total = (uint64_t)(argc > 5 ? strtoul(argv[5], NULL, 0) : 32) << 20;
	ret = zcuring_zcrx_query(&q);
	if (ret || !(q.register_flags & ZCRX_REG_NODEV))
		fail("this kernel has no device-less zero-copy receive (zcuring series)",
		     ret ? ret : -EOPNOTSUPP);
	ret = zc_pair_at(strcmp(argv[2], "-") ? argv[2] : NULL,
			 strcmp(argv[3], "-") ? argv[3] : NULL,
			 AF_INET, SOCK_STREAM, argv[4], &tx, &rx);
	if (ret)
		fail("connect", ret);
	pid = fork();
	if (!pid) {
		static uint8_t buf[1 << 16];

		for (uint64_t off = 0; off < total; off += sizeof(buf)) {
			zc_pattern_fill(buf, sizeof(buf), SEED, off);
			if (write(tx, buf, sizeof(buf)) != sizeof(buf))
				_exit(1);
		}
		_exit(0);
	}
	close(tx);

	ret = io_uring_queue_init_params(16, &ring, &p);
	if (ret)
		fail("io_uring_queue_init", ret);
	rq_len = (zcuring_zcrx_rq_bytes(&q, 1024) + 4095) & ~4095UL;
	pool = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rq_mem = mmap(NULL, rq_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED || rq_mem == MAP_FAILED)
		fail("mmap", -errno);
	ret = zcuring_zcrx_register_nodev(&ring, pool, POOL, rq_mem, rq_len, 1024, &reg, &rq);
	if (ret)
		fail("register the pool", ret);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		if (!armed) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			if (!sqe)
				fail("no SQE", -EBUSY);
			zcuring_prep_recv_zc(sqe, rx, 0, reg.zcrx_id);
			armed = true;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			fail("io_uring_submit_and_wait", ret);
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = zcuring_zcrx_cqe(cqe)->off;

				if (zc_pattern_check(pool + (off & ~IORING_ZCRX_AREA_MASK),
						     cqe->res, SEED, got) != -1) {
					fprintf(stderr, "recv_zc_demo: wrong data at byte %llu\n",
						(unsigned long long)got);
					return 1;
				}
				got += cqe->res;
				cqes++;
				zcuring_zcrx_rq_return(&rq, off, cqe->res);
				continue;
			}
			armed = false;
			if (cqe->res == 0)
				done = true;
			else if (cqe->res == -ENOMEM || cqe->res == -ENOSPC)
				rearms++;
			else
				fail("recv_zc", cqe->res);
		}
		io_uring_cq_advance(&ring, n);
		zcuring_zcrx_rq_publish(&rq);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("sender", -EIO);
	printf("%-8s %4llu MiB received by RECV_ZC, %4llu MiB verified, %6lu data CQEs "
	       "(%.0f B each), %lu re-arms, pool %d KiB, %.1f MiB/s\n",
	       argv[1], (unsigned long long)(got >> 20), (unsigned long long)(got >> 20),
	       cqes, (double)got / cqes, rearms, POOL >> 10,
	       (got >> 20) / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return got == total ? 0 : 1;
}
