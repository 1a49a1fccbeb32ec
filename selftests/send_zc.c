// SPDX-License-Identifier: GPL-2.0
/*
 * Stock Linux 6.1 IORING_OP_SEND_ZC / IORING_OP_SENDMSG_ZC, the base the
 * series builds on and must leave unchanged for unflagged sends: TCP and
 * UDP over IPv4 and IPv6 between two network namespaces (veth), every
 * payload byte checked, the completion-then-notification protocol checked,
 * and the kernel's answers to bad input.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/dgram.h"

#define MAX_BATCH 8
#define MAX_MSG 60000
#define PAYLOAD_SEED 0x5e9d2c
#define ROUNDS 12

/* Sizes cycled through by the transfer tests; all fit one UDP datagram. */
static const unsigned int msg_sizes[] = { 1, 7, 1000, 1448, 4096, 16384, MAX_MSG };
#define NR_SIZES (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

FIXTURE(send_zc) {
	struct zc_ring ring;
	int tx, rx;
	uint8_t *buf; /* MAX_BATCH slots of MAX_MSG bytes, one per in-flight send */
	uint8_t *rbuf;
	uint8_t *sbuf; /* re-sends of lost datagrams */
};

FIXTURE_VARIANT(send_zc) {
	int family;
	int type;
};

FIXTURE_VARIANT_ADD(send_zc, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(send_zc, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(send_zc, udp4) { .family = AF_INET, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(send_zc, udp6) { .family = AF_INET6, .type = SOCK_DGRAM };

FIXTURE_SETUP(send_zc)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 64, 0, 0));
	ASSERT_EQ(0, zc_pair(variant->family, variant->type, &self->tx, &self->rx))
		TH_LOG("no namespaces %s/%s? run through run-guest.sh", ZC_NS_A, ZC_NS_B);
	self->buf = mmap(NULL, MAX_BATCH * MAX_MSG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->rbuf = malloc(MAX_MSG);
	ASSERT_NE(NULL, self->rbuf);
	self->sbuf = malloc(MAX_MSG);
	ASSERT_NE(NULL, self->sbuf);
}

FIXTURE_TEARDOWN(send_zc)
{
	close(self->tx);
	close(self->rx);
	munmap(self->buf, MAX_BATCH * MAX_MSG);
	free(self->rbuf);
	free(self->sbuf);
	zc_ring_exit(&self->ring);
}

/*
 * Everything of d[0..n) not received yet arrives intact, every byte
 * checked: TCP as one stream, in order. UDP keeps neither order nor every
 * datagram, and a loaded guest does reorder them on veth: each datagram is
 * matched by its bytes to one expected (lib/dgram.h); one that equals
 * none fails the test as corruption, a lost one is sent again until it arrives.
 */
static void receive_check(struct __test_metadata *_metadata,
			  FIXTURE_DATA(send_zc) *self, int type,
			  struct zc_dgram *d, unsigned int n)
{
	struct zc_dgram_stats st = { 0 };
	int ret;

	ret = zc_dgram_check(&self->ring, type, self->tx, self->rx, self->rbuf,
			     MAX_MSG, self->sbuf, PAYLOAD_SEED, d, n, &st);
	if (st.lost || st.reordered || st.copies)
		TH_LOG("UDP: %u datagram(s) lost and sent again, %u arrived ahead of an older one, %u late second copies",
		       st.lost, st.reordered, st.copies);
	ASSERT_EQ(0, ret) TH_LOG("%s", st.why);
}

struct send_state {
	bool completed;	/* the request's CQE (F_MORE) was seen */
	bool notified;	/* the F_NOTIF CQE was seen */
	uint32_t notif_res;
};

/*
 * Reap the 2 * n CQEs of n zero-copy sends with user_data 0..n-1 and
 * check the stock protocol: each send completes with res = its length and
 * F_MORE, then exactly one notification follows with F_NOTIF, without
 * F_MORE, with the same user_data.
 */
static void reap_sends(struct __test_metadata *_metadata, struct zc_ring *ring,
		       const unsigned int *lens, unsigned int n,
		       struct send_state *st)
{
	struct io_uring_cqe cqe;

	memset(st, 0, n * sizeof(*st));
	for (unsigned int i = 0; i < 2 * n; i++) {
		ASSERT_EQ(0, zc_wait_cqe(ring, &cqe, NULL));
		ASSERT_LT(cqe.user_data, n);
		struct send_state *s = &st[cqe.user_data];

		if (cqe.flags & IORING_CQE_F_NOTIF) {
			ASSERT_TRUE(s->completed)
				TH_LOG("notification before completion of send %llu",
				       (unsigned long long)cqe.user_data);
			ASSERT_FALSE(s->notified);
			ASSERT_EQ(0, cqe.flags & IORING_CQE_F_MORE);
			s->notified = true;
			s->notif_res = cqe.res;
		} else {
			ASSERT_FALSE(s->completed);
			ASSERT_EQ(lens[cqe.user_data], cqe.res);
			ASSERT_EQ(IORING_CQE_F_MORE, cqe.flags & IORING_CQE_F_MORE);
			s->completed = true;
		}
	}
	ASSERT_EQ(NULL, zc_peek_cqe(ring));
}

/* Pipelined sends of every size, all bytes verified at the receiver. */
TEST_F(send_zc, data_integrity)
{
	unsigned int lens[MAX_BATCH];
	struct send_state st[MAX_BATCH];
	struct zc_dgram d[ROUNDS * MAX_BATCH];
	uint64_t off = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct zc_dgram *rd = d + round * MAX_BATCH;

		for (unsigned int i = 0; i < MAX_BATCH; i++) {
			struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);
			uint8_t *b = self->buf + i * MAX_MSG;

			lens[i] = msg_sizes[(round + i) % NR_SIZES];
			zc_pattern_fill(b, lens[i], PAYLOAD_SEED, off);
			zc_dgram_set(&rd[i], off, lens[i]);
			off += lens[i];
			zc_prep_send_zc(sqe, self->tx, b, lens[i], 0, i);
		}
		ASSERT_EQ(MAX_BATCH, zc_submit(&self->ring));
		reap_sends(_metadata, &self->ring, lens, MAX_BATCH, st);
		for (unsigned int i = 0; i < MAX_BATCH; i++)
			ASSERT_EQ(0, st[i].notif_res);

		/* all rounds so far: a late copy of a re-sent one still matches */
		receive_check(_metadata, self, variant->type, d, (round + 1) * MAX_BATCH);
	}
}

/*
 * After the notification the kernel no longer reads the buffer: change it
 * at once, and the receiver must still see what was sent.
 */
TEST_F(send_zc, buffer_reusable_after_notif)
{
	unsigned int len = MAX_MSG;
	struct send_state st;
	struct zc_dgram d;

	zc_pattern_fill(self->buf, len, PAYLOAD_SEED, 0);
	zc_dgram_set(&d, 0, len);
	zc_prep_send_zc(zc_get_sqe(&self->ring), self->tx, self->buf, len, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_sends(_metadata, &self->ring, &len, 1, &st);
	memset(self->buf, 0xa5, len);
	receive_check(_metadata, self, variant->type, &d, 1);
}

/* veth delivers locally, which copies the frags: REPORT_USAGE says so. */
TEST_F(send_zc, report_usage_copied_on_veth)
{
	unsigned int len = 16384;
	struct send_state st;
	struct zc_dgram d;

	zc_pattern_fill(self->buf, len, PAYLOAD_SEED, 0);
	zc_dgram_set(&d, 0, len);
	zc_prep_send_zc(zc_get_sqe(&self->ring), self->tx, self->buf, len,
		     IORING_SEND_ZC_REPORT_USAGE, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_sends(_metadata, &self->ring, &len, 1, &st);
	ASSERT_EQ(IORING_NOTIF_USAGE_ZC_COPIED, st.notif_res);
	receive_check(_metadata, self, variant->type, &d, 1);
}

/* IORING_RECVSEND_FIXED_BUF: send from inside a registered buffer. */
TEST_F(send_zc, fixed_buffer)
{
	struct iovec reg = { .iov_base = self->buf, .iov_len = MAX_BATCH * MAX_MSG };
	unsigned int lens[3] = { 4096, 1, MAX_MSG };
	unsigned int offs[3] = { 100, 8191, MAX_MSG + 100 }; /* across pages */
	struct send_state st[3];
	struct zc_dgram d[3];
	uint64_t off = 0;

	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &reg, 1));
	for (int i = 0; i < 3; i++) {
		struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

		zc_pattern_fill(self->buf + offs[i], lens[i], PAYLOAD_SEED, off);
		zc_dgram_set(&d[i], off, lens[i]);
		off += lens[i];
		zc_prep_send_zc(sqe, self->tx, self->buf + offs[i], lens[i],
			     IORING_RECVSEND_FIXED_BUF, i);
		sqe->buf_index = 0;
	}
	ASSERT_EQ(3, zc_submit(&self->ring));
	reap_sends(_metadata, &self->ring, lens, 3, st);
	receive_check(_metadata, self, variant->type, d, 3);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_BUFFERS, NULL, 0));
}

/* SENDMSG_ZC gathers an iovec into one message (one datagram for UDP). */
TEST_F(send_zc, sendmsg_zc_iovec)
{
	struct iovec iov[3] = {
		{ self->buf, 100 },
		{ self->buf + MAX_MSG, 5000 },
		{ self->buf + 3 * MAX_MSG, 30000 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
	unsigned int total = 35100;
	struct send_state st;
	struct zc_dgram d;
	uint64_t off = 0;

	for (int i = 0; i < 3; i++) {
		zc_pattern_fill(iov[i].iov_base, iov[i].iov_len, PAYLOAD_SEED, off);
		off += iov[i].iov_len;
	}
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	sqe->opcode = IORING_OP_SENDMSG_ZC;
	sqe->fd = self->tx;
	sqe->addr = (uintptr_t)&msg;
	sqe->len = 1;
	sqe->user_data = 0;
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_sends(_metadata, &self->ring, &total, 1, &st);
	zc_dgram_set(&d, 0, total);
	receive_check(_metadata, self, variant->type, &d, 1);
}

/* ---- bad input: one request, one CQE with the kernel's error ---------- */

FIXTURE(send_zc_bad) {
	struct zc_ring ring;
	int sock;
	char buf[64];
};

FIXTURE_SETUP(send_zc_bad)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, 0, 0));
	self->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->sock);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ASSERT_EQ(0, connect(self->sock, (struct sockaddr *)&sin, sizeof(sin)));
}

FIXTURE_TEARDOWN(send_zc_bad)
{
	close(self->sock);
	zc_ring_exit(&self->ring);
}

/*
 * Submit one prepared request and return its res. Stock 6.1 allocates the
 * notifier half-way through prep: a request failed after that point
 * completes with F_MORE and then posts its (empty) notification, one that
 * failed before it posts a single CQE. notif says which one is expected.
 */
static int submit_bad(struct __test_metadata *_metadata, struct zc_ring *r,
		      bool notif)
{
	struct io_uring_cqe cqe = { 0 }, ncqe = { 0 };

	EXPECT_EQ(0, zc_submit_one(r, &cqe));
	EXPECT_EQ(0, cqe.flags & IORING_CQE_F_NOTIF);
	if (notif) {
		EXPECT_EQ(IORING_CQE_F_MORE, cqe.flags & IORING_CQE_F_MORE);
		EXPECT_EQ(0, zc_wait_cqe(r, &ncqe, NULL));
		EXPECT_EQ(cqe.user_data, ncqe.user_data);
		EXPECT_EQ(IORING_CQE_F_NOTIF, ncqe.flags);
	} else {
		EXPECT_EQ(0, cqe.flags & IORING_CQE_F_MORE);
	}
	EXPECT_EQ(NULL, zc_peek_cqe(r));
	return cqe.res;
}

TEST_F(send_zc_bad, fixed_buf_index_without_buffers)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_send_zc(sqe, self->sock, self->buf, 8, IORING_RECVSEND_FIXED_BUF, 1);
	ASSERT_EQ(-EFAULT, submit_bad(_metadata, &self->ring, true));
}

TEST_F(send_zc_bad, fixed_buf_index_out_of_range)
{
	struct iovec reg = { .iov_base = self->buf, .iov_len = sizeof(self->buf) };
	struct io_uring_sqe *sqe;

	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &reg, 1));
	sqe = zc_get_sqe(&self->ring);
	zc_prep_send_zc(sqe, self->sock, self->buf, 8, IORING_RECVSEND_FIXED_BUF, 1);
	sqe->buf_index = 1;
	ASSERT_EQ(-EFAULT, submit_bad(_metadata, &self->ring, true));
}

TEST_F(send_zc_bad, unknown_ioprio_flag)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_send_zc(sqe, self->sock, self->buf, 8, 1U << 8, 1);
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring, false));
}

TEST_F(send_zc_bad, cqe_skip_success)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_send_zc(sqe, self->sock, self->buf, 8, 0, 1);
	sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring, false));
}

/* SQE offset 46 must stay 0 for unflagged sends, with or without slots. */
TEST_F(send_zc_bad, nonzero_pad3)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_send_zc(sqe, self->sock, self->buf, 8, 0, 1);
	sqe->__pad3[0] = 1;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring, true));
}

TEST_F(send_zc_bad, nonzero_addr3)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_send_zc(sqe, self->sock, self->buf, 8, 0, 1);
	sqe->addr3 = 1;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring, false));
}

/* SENDMSG_ZC has no fixed-buffer mode, even with a valid buffer index. */
TEST_F(send_zc_bad, sendmsg_zc_fixed_buf)
{
	struct iovec iov = { self->buf, 8 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct io_uring_sqe *sqe;

	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &iov, 1));
	sqe = zc_get_sqe(&self->ring);

	sqe->opcode = IORING_OP_SENDMSG_ZC;
	sqe->fd = self->sock;
	sqe->addr = (uintptr_t)&msg;
	sqe->len = 1;
	sqe->ioprio = IORING_RECVSEND_FIXED_BUF;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring, true));
}

TEST_F(send_zc_bad, not_a_socket)
{
	int pfd[2];
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	ASSERT_EQ(0, pipe(pfd));
	zc_prep_send_zc(sqe, pfd[1], self->buf, 8, 0, 1);
	ASSERT_EQ(-ENOTSOCK, submit_bad(_metadata, &self->ring, true));
	close(pfd[0]);
	close(pfd[1]);
}

/* AF_UNIX sockets do not take zero-copy frags (no SOCK_SUPPORT_ZC). */
TEST_F(send_zc_bad, unix_socket_unsupported)
{
	int sv[2];
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	zc_prep_send_zc(sqe, sv[0], self->buf, 8, 0, 1);
	ASSERT_EQ(-EOPNOTSUPP, submit_bad(_metadata, &self->ring, true));
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
