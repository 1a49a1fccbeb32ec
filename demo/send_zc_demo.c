// SPDX-License-Identifier: GPL-2.0
/*
 * What IORING_OP_SEND_ZC does on a path: TCP sends of 64 KiB with
 * IORING_SEND_ZC_REPORT_USAGE, every byte checked at the receiver, and a
 * count of the notifications that say the kernel had to copy after all.
 *
 *   send_zc_demo LABEL NS_TX NS_RX RX_IP [MiB]     ("-" = current netns)
 */
#include <liburing.h>
#include <zcuring/compat.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "testlib/net.h"

#define SEND_SIZE (64 << 10)
#define BATCH 8
#define SEED 0xd3e0

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "send_zc_demo: %s: %s\n", what, strerror(-err));
	exit(1);
}

int main(int argc, char **argv)
{
	const char *label, *ns_tx, *ns_rx, *ip;
	unsigned long total, sent = 0, verified = 0, copied = 0, zc = 0, cqes = 0;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint8_t *buf, *rbuf;
	int tx, rx, ret;
	double t0, dt;

	if (argc < 5) {
		fprintf(stderr, "usage: %s LABEL NS_TX NS_RX RX_IP [MiB]\n", argv[0]);
		return 2;
	}
	label = argv[1];
	ns_tx = strcmp(argv[2], "-") ? argv[2] : NULL;
	ns_rx = strcmp(argv[3], "-") ? argv[3] : NULL;
	ip = argv[4];
	total = (argc > 5 ? strtoul(argv[5], NULL, 0) : 32) << 20;

	ret = io_uring_queue_init(2 * BATCH, &ring, 0);
	if (ret)
		fail("io_uring_setup", ret);
	ret = zc_pair_at(ns_tx, ns_rx, AF_INET, SOCK_STREAM, ip, &tx, &rx);
	if (ret)
		fail("connect", ret);
	buf = mmap(NULL, BATCH * SEND_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rbuf = malloc(SEND_SIZE);
	if (buf == MAP_FAILED || !rbuf)
		fail("memory", -ENOMEM);

	t0 = now();
	while (sent < total) {
		for (int i = 0; i < BATCH; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			zc_pattern_fill(buf + i * SEND_SIZE, SEND_SIZE, SEED,
					sent + (uint64_t)i * SEND_SIZE);
			io_uring_prep_send_zc(sqe, tx, buf + i * SEND_SIZE, SEND_SIZE,
					      0, IORING_SEND_ZC_REPORT_USAGE);
			io_uring_sqe_set_data64(sqe, i);
		}
		ret = io_uring_submit(&ring);
		if (ret != BATCH)
			fail("submit", ret < 0 ? ret : -EIO);
		/* A completion and a notification per send. */
		for (int i = 0; i < 2 * BATCH; i++) {
			unsigned int flags;
			int res;

			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret)
				fail("wait", ret);
			flags = cqe->flags;
			res = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			cqes++;
			if (!(flags & IORING_CQE_F_NOTIF)) {
				if (res != SEND_SIZE)
					fail("send", res < 0 ? res : -EIO);
			} else if ((unsigned int)res & IORING_NOTIF_USAGE_ZC_COPIED) {
				copied++;
			} else {
				zc++;
			}
		}
		for (int i = 0; i < BATCH; i++) {
			ret = zc_recv_exact(rx, SOCK_STREAM, rbuf, SEND_SIZE);
			if (ret)
				fail("recv", ret);
			if (zc_pattern_check(rbuf, SEND_SIZE, SEED, sent) != -1) {
				fprintf(stderr, "send_zc_demo: data mismatch at offset %lu\n", sent);
				return 1;
			}
			sent += SEND_SIZE;
			verified += SEND_SIZE;
		}
	}
	dt = now() - t0;
	printf("%-8s %4lu MiB sent, %4lu MiB verified, %5lu sends: %5lu zero-copy, %5lu copied, "
	       "%.2f CQEs/send, %6.1f MiB/s\n",
	       label, sent >> 20, verified >> 20, zc + copied, zc, copied,
	       (double)cqes / (zc + copied), (sent >> 20) / dt);
	close(tx);
	close(rx);
	io_uring_queue_exit(&ring);
	return 0;
}
