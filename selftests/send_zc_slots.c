// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_OP_SEND_ZC notification slots: many sends, one notifier, one
 * notification CQE per flushed generation. TCP and UDP, IPv4 and IPv6,
 * between two network namespaces; every byte checked at the receiver.
 */
#include <poll.h>
#include <sys/uio.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/dgram.h"

#define NR_BUFS 32
#define BUF_LEN 4096
#define SEED 0x51075
#define TAG(i) (0x7a90000000000000ull + (i))
#define NOTIF_UD(ud) ((ud) >= TAG(0))

static int register_slots(struct zc_ring *r, unsigned int nr, uint32_t first_gen)
{
	uint64_t tags[IORING_SEND_ZC_SLOTS_MAX];
	struct io_uring_send_zc_slots_reg reg = {
		.tags = (uintptr_t)tags, .nr = nr, .first_generation = first_gen,
	};

	for (unsigned int i = 0; i < nr && i < IORING_SEND_ZC_SLOTS_MAX; i++)
		tags[i] = TAG(i);
	return zc_sys_register(r->fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);
}

static void prep_slot_send(struct io_uring_sqe *sqe, int fd, const void *buf,
			   unsigned int len, unsigned int slot, uint16_t flags,
			   uint64_t ud)
{
	zc_prep_send_zc(sqe, fd, buf, len, IORING_SEND_ZC_SLOT | flags, ud);
	sqe->send_zc_slot = slot;
}

#define FLUSH_UD(i) (0x5f00000000000000ull + (i))
#define FLUSH_UD_P(ud) ((ud) >> 56 == 0x5f)

/* IORING_OP_SEND_ZC_FLUSH of @slot: no file, every other field 0. */
static void prep_flush(struct io_uring_sqe *sqe, unsigned int slot,
		       uint16_t ioprio, uint64_t ud)
{
	sqe->opcode = IORING_OP_SEND_ZC_FLUSH;
	sqe->fd = -1;
	sqe->ioprio = ioprio;
	sqe->send_zc_slot = slot;
	sqe->user_data = ud;
}

FIXTURE(slots) {
	struct zc_ring ring;
	int tx, rx;
	uint8_t *buf;	/* NR_BUFS * BUF_LEN */
	uint8_t *rbuf;
	uint8_t *sbuf;	/* re-sends of lost datagrams */
};

FIXTURE_VARIANT(slots) {
	int family;
	int type;
};

FIXTURE_VARIANT_ADD(slots, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(slots, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(slots, udp4) { .family = AF_INET, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(slots, udp6) { .family = AF_INET6, .type = SOCK_DGRAM };

FIXTURE_SETUP(slots)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 64, 0, 256));
	ASSERT_EQ(0, zc_pair(variant->family, variant->type, &self->tx, &self->rx));
	self->buf = mmap(NULL, NR_BUFS * BUF_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->rbuf = malloc(BUF_LEN);
	ASSERT_NE(NULL, self->rbuf);
	self->sbuf = malloc(BUF_LEN);
	ASSERT_NE(NULL, self->sbuf);
}

FIXTURE_TEARDOWN(slots)
{
	close(self->tx);
	close(self->rx);
	munmap(self->buf, NR_BUFS * BUF_LEN);
	free(self->rbuf);
	free(self->sbuf);
	zc_ring_exit(&self->ring);
}

struct reaped {
	unsigned int sends;	/* send CQEs */
	unsigned int notifs;	/* notification CQEs */
	unsigned int flushes;	/* IORING_OP_SEND_ZC_FLUSH CQEs */
	int notif_res[8];
	uint64_t notif_ud[8];
	unsigned int sends_before_notif[8];
	int flush_res[8];
	uint64_t flush_ud[8];
};

/*
 * Reap until @sends send CQEs, @notifs notifications and @flushes flush
 * CQEs came. Send CQEs have res = their length and no F_MORE; a
 * notification has F_NOTIF, no F_MORE and a slot's tag; a flush's CQE has
 * no flags and a FLUSH_UD user_data.
 */
static void reap_flushes(struct __test_metadata *_metadata, struct zc_ring *r,
			 unsigned int sends, unsigned int notifs,
			 unsigned int flushes, unsigned int len,
			 struct reaped *out)
{
	struct io_uring_cqe cqe;

	memset(out, 0, sizeof(*out));
	while (out->sends < sends || out->notifs < notifs ||
	       out->flushes < flushes) {
		ASSERT_EQ(0, zc_wait_cqe(r, &cqe, NULL));
		ASSERT_EQ(0, cqe.flags & IORING_CQE_F_MORE);
		if (cqe.flags & IORING_CQE_F_NOTIF) {
			ASSERT_TRUE(NOTIF_UD(cqe.user_data));
			ASSERT_LT(out->notifs, 8);
			out->notif_res[out->notifs] = cqe.res;
			out->notif_ud[out->notifs] = cqe.user_data;
			out->sends_before_notif[out->notifs] = out->sends;
			out->notifs++;
		} else if (FLUSH_UD_P(cqe.user_data)) {
			ASSERT_EQ(0, cqe.flags);
			ASSERT_LT(out->flushes, 8);
			out->flush_res[out->flushes] = cqe.res;
			out->flush_ud[out->flushes] = cqe.user_data;
			out->flushes++;
		} else {
			ASSERT_FALSE(NOTIF_UD(cqe.user_data));
			ASSERT_EQ(len, cqe.res);
			out->sends++;
		}
	}
	ASSERT_EQ(sends, out->sends);
	ASSERT_EQ(notifs, out->notifs);
	ASSERT_EQ(flushes, out->flushes);
}

static void reap(struct __test_metadata *_metadata, struct zc_ring *r,
		 unsigned int sends, unsigned int notifs, unsigned int len,
		 struct reaped *out)
{
	reap_flushes(_metadata, r, sends, notifs, 0, len, out);
}

/* Run task work and make sure nothing more was posted. */
static void expect_nothing_more(struct __test_metadata *_metadata,
				struct zc_ring *r)
{
	usleep(50000);
	zc_sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
	ASSERT_EQ(NULL, zc_peek_cqe(r));
}

/* d[0..n): n sends of len bytes, the first at pattern offset first. */
static void expect(struct zc_dgram *d, unsigned int n, unsigned int len,
		   uint64_t first)
{
	for (unsigned int i = 0; i < n; i++)
		zc_dgram_set(&d[i], first + (uint64_t)i * len, len);
}

/*
 * Everything of d[0..n) not received yet arrives intact, every byte
 * checked: TCP as one stream, in order. UDP keeps neither order nor every
 * datagram, and a loaded guest does reorder them on veth: each datagram is
 * matched by its bytes to one expected (lib/dgram.h); one that equals
 * none fails the test as corruption, a lost one is sent again (an unslotted SEND_ZC,
 * after the test's own notifications were checked) until it arrives.
 */
static void receive_all(struct __test_metadata *_metadata,
			FIXTURE_DATA(slots) *self, int type,
			struct zc_dgram *d, unsigned int n)
{
	struct zc_dgram_stats st = { 0 };
	int ret;

	ret = zc_dgram_check(&self->ring, type, self->tx, self->rx, self->rbuf,
			     BUF_LEN, self->sbuf, SEED, d, n, &st);
	if (st.lost || st.reordered || st.copies)
		TH_LOG("UDP: %u datagram(s) lost and sent again, %u arrived ahead of an older one, %u late second copies",
		       st.lost, st.reordered, st.copies);
	ASSERT_EQ(0, ret) TH_LOG("%s", st.why);
}

/*
 * One CQE per slotted send, then exactly one notification for the
 * generation, after every send CQE of it; then the pages are reusable:
 * overwriting them changes nothing the receiver sees.
 */
TEST_F(slots, one_notification_per_generation)
{
	struct reaped got;
	struct zc_dgram d[3 * NR_BUFS];

	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	for (int gen = 0; gen < 3; gen++) {
		expect(d + gen * NR_BUFS, NR_BUFS, BUF_LEN, (uint64_t)gen * NR_BUFS * BUF_LEN);
		for (int i = 0; i < NR_BUFS; i++) {
			uint8_t *b = self->buf + i * BUF_LEN;

			zc_pattern_fill(b, BUF_LEN, SEED, (uint64_t)(gen * NR_BUFS + i) * BUF_LEN);
			prep_slot_send(zc_get_sqe(&self->ring), self->tx, b, BUF_LEN, 0,
				       i == NR_BUFS - 1 ? IORING_SEND_ZC_SLOT_FLUSH : 0, i);
		}
		ASSERT_EQ(NR_BUFS, zc_submit(&self->ring));
		reap(_metadata, &self->ring, NR_BUFS, 1, BUF_LEN, &got);
		EXPECT_EQ(TAG(0), got.notif_ud[0]);
		EXPECT_EQ(gen, got.notif_res[0]);
		EXPECT_EQ(NR_BUFS, got.sends_before_notif[0]);
		ASSERT_EQ(NULL, zc_peek_cqe(&self->ring));
		/* the generation is released: scribble over its pages */
		memset(self->buf, 0xee, NR_BUFS * BUF_LEN);
		/* all generations so far: a late copy of a re-sent one matches */
		receive_all(_metadata, self, variant->type, d, (gen + 1) * NR_BUFS);
	}
}

/* Sends without a flush post no notification until the slot is flushed. */
TEST_F(slots, no_notification_before_flush)
{
	struct reaped got;
	struct zc_dgram d[5];

	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	expect(d, 5, BUF_LEN, 0);
	for (int i = 0; i < 4; i++) {
		zc_pattern_fill(self->buf + i * BUF_LEN, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);
		prep_slot_send(zc_get_sqe(&self->ring), self->tx,
			       self->buf + i * BUF_LEN, BUF_LEN, 0, 0, i);
	}
	ASSERT_EQ(4, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 4, 0, BUF_LEN, &got);
	receive_all(_metadata, self, variant->type, d, 4);
	usleep(100000);
	/* run task work: still nothing, the slot holds the generation */
	zc_sys_enter(self->ring.fd, 0, 0, IORING_ENTER_GETEVENTS);
	ASSERT_EQ(NULL, zc_peek_cqe(&self->ring));
	/* a flushing send closes it: both sends' generation, one notification */
	zc_pattern_fill(self->buf, BUF_LEN, SEED, 4 * BUF_LEN);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 0,
		       IORING_SEND_ZC_SLOT_FLUSH, 9);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 1, BUF_LEN, &got);
	EXPECT_EQ(0, got.notif_res[0]);
	receive_all(_metadata, self, variant->type, d, 5);
}

/* Several slots, interleaved: each generation reports its own slot's tag. */
TEST_F(slots, many_slots)
{
	struct reaped got;
	bool seen[8] = { false };
	struct zc_dgram d[16];

	ASSERT_EQ(0, register_slots(&self->ring, 8, 100));
	expect(d, 16, BUF_LEN, 0);
	for (int i = 0; i < 16; i++) {
		zc_pattern_fill(self->buf + i * BUF_LEN, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);
		prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf + i * BUF_LEN,
			       BUF_LEN, i % 8, i >= 8 ? IORING_SEND_ZC_SLOT_FLUSH : 0, i);
	}
	ASSERT_EQ(16, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 16, 8, BUF_LEN, &got);
	for (int i = 0; i < 8; i++) {
		uint64_t slot = got.notif_ud[i] - TAG(0);

		ASSERT_LT(slot, 8);
		ASSERT_FALSE(seen[slot]);
		seen[slot] = true;
		EXPECT_EQ(100, got.notif_res[i]);
	}
	receive_all(_metadata, self, variant->type, d, 16);
}

/*
 * The generation number is 31 bits: it wraps from 0x7fffffff to 0, so a
 * notification's res is never negative (send_zc_slots_lifetime checks the
 * refusal of a first generation that does not fit).
 */
TEST_F(slots, generation_wraps)
{
	struct reaped got;
	uint32_t first = 0x7ffffffe;
	struct zc_dgram d[3];

	ASSERT_EQ(0, register_slots(&self->ring, 1, first));
	expect(d, 3, BUF_LEN, 0);
	for (uint32_t g = 0; g < 3; g++) {
		zc_pattern_fill(self->buf, BUF_LEN, SEED, g * BUF_LEN);
		prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 0,
			       IORING_SEND_ZC_SLOT_FLUSH, g);
		ASSERT_EQ(1, zc_submit(&self->ring));
		reap(_metadata, &self->ring, 1, 1, BUF_LEN, &got);
		EXPECT_EQ((int32_t)((first + g) & 0x7fffffff), got.notif_res[0]);
		receive_all(_metadata, self, variant->type, d, g + 1);
	}
}

/* veth copies on local delivery: REPORT_USAGE sets the top bit. */
TEST_F(slots, report_usage)
{
	struct reaped got;
	struct zc_dgram d;

	ASSERT_EQ(0, register_slots(&self->ring, 1, 5));
	expect(&d, 1, BUF_LEN, 0);
	zc_pattern_fill(self->buf, BUF_LEN, SEED, 0);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 0,
		       IORING_SEND_ZC_SLOT_FLUSH | IORING_SEND_ZC_REPORT_USAGE, 1);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 1, BUF_LEN, &got);
	EXPECT_EQ((int32_t)(IORING_NOTIF_USAGE_ZC_COPIED | 5), got.notif_res[0]);
	receive_all(_metadata, self, variant->type, &d, 1);
}

/* Registered buffers, and SENDMSG_ZC, work with slots. */
TEST_F(slots, fixed_buffers_and_sendmsg)
{
	struct iovec reg = { self->buf, NR_BUFS * BUF_LEN };
	struct iovec iov = { self->buf + 3 * BUF_LEN, BUF_LEN };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct io_uring_sqe *sqe;
	struct reaped got;
	struct zc_dgram d[4];

	ASSERT_EQ(0, register_slots(&self->ring, 2, 0));
	expect(d, 4, BUF_LEN, 0);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &reg, 1));
	for (int i = 0; i < 4; i++)
		zc_pattern_fill(self->buf + i * BUF_LEN, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);
	for (int i = 0; i < 3; i++) {
		sqe = zc_get_sqe(&self->ring);
		prep_slot_send(sqe, self->tx, self->buf + i * BUF_LEN, BUF_LEN, 1,
			       IORING_RECVSEND_FIXED_BUF, i);
		sqe->buf_index = 0;
	}
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_SENDMSG_ZC;
	sqe->fd = self->tx;
	sqe->addr = (uintptr_t)&msg;
	sqe->len = 1;
	sqe->ioprio = IORING_SEND_ZC_SLOT | IORING_SEND_ZC_SLOT_FLUSH;
	sqe->send_zc_slot = 1;
	sqe->user_data = 3;
	ASSERT_EQ(4, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 4, 1, BUF_LEN, &got);
	EXPECT_EQ(TAG(1), got.notif_ud[0]);
	memset(self->buf, 0, 4 * BUF_LEN);
	receive_all(_metadata, self, variant->type, d, 4);
}

/* Unregistering flushes the pending generation: its notification comes. */
TEST_F(slots, unregister_flushes_pending)
{
	struct reaped got;
	struct zc_dgram d;

	ASSERT_EQ(0, register_slots(&self->ring, 2, 7));
	expect(&d, 1, BUF_LEN, 0);
	zc_pattern_fill(self->buf, BUF_LEN, SEED, 0);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 1, 0, 1);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 0, BUF_LEN, &got);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0));
	reap(_metadata, &self->ring, 0, 1, BUF_LEN, &got);
	EXPECT_EQ(TAG(1), got.notif_ud[0]);
	EXPECT_EQ(7, got.notif_res[0]);
	/* slot 0 held no sends: no notification for it */
	usleep(50000);
	zc_sys_enter(self->ring.fd, 0, 0, IORING_ENTER_GETEVENTS);
	ASSERT_EQ(NULL, zc_peek_cqe(&self->ring));
	receive_all(_metadata, self, variant->type, &d, 1);
	/* and slots can be registered again */
	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
}

/* Ring teardown with slotted sends in flight and a generation open. */
TEST_F(slots, teardown_with_generation_open)
{
	ASSERT_EQ(0, register_slots(&self->ring, 4, 0));
	for (int i = 0; i < 8; i++)
		prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf + i * BUF_LEN,
			       BUF_LEN, i % 4, 0, i);
	ASSERT_EQ(8, zc_submit(&self->ring));
	zc_ring_exit(&self->ring);	/* kmemleak checks the rest */
}

/* ---- IORING_OP_SEND_ZC_FLUSH: closing a generation without a send ------- */

/*
 * Sends without the flush flag, then a flush SQE in the same batch: its
 * CQE names the generation it closed, whose one notification follows the
 * sends; a second flush finds the slot empty (-ENODATA) and posts nothing
 * else. The next generation is numbered one up.
 */
TEST_F(slots, flush_op_closes_generation)
{
	struct zc_dgram d[NR_BUFS + 1];
	struct reaped got;

	ASSERT_EQ(0, register_slots(&self->ring, 2, 40));
	expect(d, NR_BUFS + 1, BUF_LEN, 0);
	for (int i = 0; i < NR_BUFS; i++) {
		uint8_t *b = self->buf + i * BUF_LEN;

		zc_pattern_fill(b, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);
		prep_slot_send(zc_get_sqe(&self->ring), self->tx, b, BUF_LEN, 1, 0, i);
	}
	prep_flush(zc_get_sqe(&self->ring), 1, 0, FLUSH_UD(1));
	ASSERT_EQ(NR_BUFS + 1, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, NR_BUFS, 1, 1, BUF_LEN, &got);
	EXPECT_EQ(40, got.flush_res[0]);
	EXPECT_EQ(TAG(1), got.notif_ud[0]);
	EXPECT_EQ(40, got.notif_res[0]);
	EXPECT_EQ(NR_BUFS, got.sends_before_notif[0]);
	expect_nothing_more(_metadata, &self->ring);
	/* released: the receiver must not see this */
	memset(self->buf, 0xee, NR_BUFS * BUF_LEN);

	/* the slot is empty now, and slot 0 never held anything */
	prep_flush(zc_get_sqe(&self->ring), 1, 0, FLUSH_UD(2));
	prep_flush(zc_get_sqe(&self->ring), 0, 0, FLUSH_UD(3));
	ASSERT_EQ(2, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, 0, 0, 2, BUF_LEN, &got);
	EXPECT_EQ(-ENODATA, got.flush_res[0]);
	EXPECT_EQ(-ENODATA, got.flush_res[1]);
	expect_nothing_more(_metadata, &self->ring);

	/* the next generation is 41 */
	zc_pattern_fill(self->buf, BUF_LEN, SEED, (uint64_t)NR_BUFS * BUF_LEN);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 1, 0, 0);
	prep_flush(zc_get_sqe(&self->ring), 1, 0, FLUSH_UD(4));
	ASSERT_EQ(2, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, 1, 1, 1, BUF_LEN, &got);
	EXPECT_EQ(41, got.flush_res[0]);
	EXPECT_EQ(41, got.notif_res[0]);
	receive_all(_metadata, self, variant->type, d, NR_BUFS + 1);
}

/*
 * A flush linked after another request closes the generation when it is
 * issued: a send prepared after the flush was submitted, but before it
 * was issued, belongs to the generation it closes. The link head is a
 * poll on a pipe, which completes when the test writes to it.
 */
TEST_F(slots, flush_op_linked_runs_at_issue)
{
	struct io_uring_cqe cqe;
	struct io_uring_sqe *sqe;
	struct zc_dgram d[3];
	bool polled = false;
	int flushed = 0, notifs = 0, p[2];
	struct reaped got;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	expect(d, 3, BUF_LEN, 0);
	for (int i = 0; i < 3; i++)
		zc_pattern_fill(self->buf + i * BUF_LEN, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);

	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 0, 0, 0);
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = p[0];
	sqe->poll32_events = POLLIN;
	sqe->flags = IOSQE_IO_LINK;
	sqe->user_data = 0x6f;
	prep_flush(zc_get_sqe(&self->ring), 0, 0, FLUSH_UD(0));
	ASSERT_EQ(3, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 0, BUF_LEN, &got);
	expect_nothing_more(_metadata, &self->ring);

	/* prepared after the flush was submitted, before it was issued */
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf + BUF_LEN,
		       BUF_LEN, 0, 0, 1);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 0, BUF_LEN, &got);
	expect_nothing_more(_metadata, &self->ring);

	ASSERT_EQ(1, write(p[1], "x", 1));
	while (!polled || !flushed || !notifs) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, NULL));
		if (cqe.user_data == 0x6f) {
			ASSERT_EQ(POLLIN, cqe.res & POLLIN);
			polled = true;
		} else if (cqe.flags & IORING_CQE_F_NOTIF) {
			ASSERT_EQ(TAG(0), cqe.user_data);
			ASSERT_EQ(0, cqe.res);
			notifs++;
		} else {
			ASSERT_EQ(FLUSH_UD(0), cqe.user_data);
			ASSERT_EQ(0, cqe.res);
			flushed++;
		}
	}
	expect_nothing_more(_metadata, &self->ring);
	memset(self->buf, 0xee, 2 * BUF_LEN);

	/* a send after the flush opens generation 1 */
	zc_pattern_fill(self->buf + 2 * BUF_LEN, BUF_LEN, SEED, 2 * BUF_LEN);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf + 2 * BUF_LEN,
		       BUF_LEN, 0, IORING_SEND_ZC_SLOT_FLUSH, 2);
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 1, 1, BUF_LEN, &got);
	EXPECT_EQ(1, got.notif_res[0]);
	close(p[0]);
	close(p[1]);
	receive_all(_metadata, self, variant->type, d, 3);
}

/* The reason for the flush SQE: the last socket may be closed already. */
TEST_F(slots, flush_op_after_socket_closed)
{
	struct reaped got;
	struct zc_dgram d[2];

	ASSERT_EQ(0, register_slots(&self->ring, 1, 3));
	expect(d, 2, BUF_LEN, 0);
	for (int i = 0; i < 2; i++) {
		zc_pattern_fill(self->buf + i * BUF_LEN, BUF_LEN, SEED, (uint64_t)i * BUF_LEN);
		prep_slot_send(zc_get_sqe(&self->ring), self->tx,
			       self->buf + i * BUF_LEN, BUF_LEN, 0, 0, i);
	}
	ASSERT_EQ(2, zc_submit(&self->ring));
	reap(_metadata, &self->ring, 2, 0, BUF_LEN, &got);
	receive_all(_metadata, self, variant->type, d, 2);
	close(self->tx);
	self->tx = -1;
	expect_nothing_more(_metadata, &self->ring);

	prep_flush(zc_get_sqe(&self->ring), 0, 0, FLUSH_UD(0));
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, 0, 1, 1, BUF_LEN, &got);
	EXPECT_EQ(3, got.flush_res[0]);
	EXPECT_EQ(3, got.notif_res[0]);
}

/*
 * IOSQE_CQE_SKIP_SUCCESS: a flush that closed a generation posts only the
 * notification; one that found the slot empty still posts its -ENODATA.
 * IORING_SEND_ZC_REPORT_USAGE on the flush asks for the usage report of
 * sends that did not (veth copies: the top bit is set).
 */
TEST_F(slots, flush_op_skip_success_and_report)
{
	struct io_uring_sqe *sqe;
	struct reaped got;
	struct zc_dgram d;

	ASSERT_EQ(0, register_slots(&self->ring, 1, 9));
	expect(&d, 1, BUF_LEN, 0);
	zc_pattern_fill(self->buf, BUF_LEN, SEED, 0);
	prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf, BUF_LEN, 0, 0, 0);
	sqe = zc_get_sqe(&self->ring);
	prep_flush(sqe, 0, IORING_SEND_ZC_REPORT_USAGE, FLUSH_UD(0));
	sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
	ASSERT_EQ(2, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, 1, 1, 0, BUF_LEN, &got);
	EXPECT_EQ((int32_t)(IORING_NOTIF_USAGE_ZC_COPIED | 9), got.notif_res[0]);
	expect_nothing_more(_metadata, &self->ring);

	sqe = zc_get_sqe(&self->ring);
	prep_flush(sqe, 0, 0, FLUSH_UD(1));
	sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_flushes(_metadata, &self->ring, 0, 0, 1, BUF_LEN, &got);
	EXPECT_EQ(-ENODATA, got.flush_res[0]);
	expect_nothing_more(_metadata, &self->ring);
	receive_all(_metadata, self, variant->type, &d, 1);
}

/* ---- TCP appends slotted sends to one skb ---------------------------------- */

/* TCP segments sent by namespace ns so far (Tcp: OutSegs of its snmp). */
static unsigned long ns_tcp_out_segs(const char *ns)
{
	char cmd[128], hdr[1024], val[1024];
	unsigned long segs = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /proc/net/snmp", ns);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		char *hs, *vs, *h, *v;

		if (strncmp(hdr, "Tcp:", 4))
			continue;
		h = strtok_r(hdr, " \n", &hs);
		v = strtok_r(val, " \n", &vs);
		while (h && v && strcmp(h, "OutSegs")) {
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		if (h && v)
			segs = strtoul(v, NULL, 10);
	}
	pclose(f);
	return segs;
}

/*
 * 32 corked sends of 128 bytes: with per-request notifiers every send needs
 * an skb of its own (an skb holds one ubuf_info); sharing the slot's
 * notifier they are appended to the previous skb, so the 4 KiB leave in a
 * few MSS-sized segments.
 */
static unsigned int corked_sends(struct __test_metadata *_metadata,
				 FIXTURE_DATA(slots) *self, bool slot)
{
	unsigned long before = ns_tcp_out_segs(ZC_NS_A);
	unsigned int n = 32, len = 128;
	struct io_uring_cqe cqe;
	struct zc_dgram d[32];

	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

		zc_pattern_fill(self->buf + i * len, len, SEED, (uint64_t)i * len);
		if (slot)
			prep_slot_send(sqe, self->tx, self->buf + i * len, len, 0,
				       i == n - 1 ? IORING_SEND_ZC_SLOT_FLUSH : 0, i);
		else
			zc_prep_send_zc(sqe, self->tx, self->buf + i * len, len, 0, i);
		sqe->msg_flags = i == n - 1 ? 0 : MSG_MORE;
	}
	EXPECT_EQ(n, zc_submit(&self->ring));
	for (unsigned int i = 0; i < (slot ? n + 1 : 2 * n); i++)
		EXPECT_EQ(0, zc_wait_cqe(&self->ring, &cqe, NULL));
	expect(d, n, len, 0);
	receive_all(_metadata, self, SOCK_STREAM, d, n);
	return ns_tcp_out_segs(ZC_NS_A) - before;
}

TEST_F(slots, tcp_appends_to_one_skb)
{
	unsigned int per_request, slotted;

	if (variant->type != SOCK_STREAM)
		SKIP(return, "TCP only");
	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	per_request = corked_sends(_metadata, self, false);
	slotted = corked_sends(_metadata, self, true);
	TH_LOG("segments out: %u with per-request notifiers, %u with a slot",
	       per_request, slotted);
	/* an skb per send, against 4 KiB in MSS-sized segments */
	ASSERT_GE(per_request, 32);
	ASSERT_LE(slotted, per_request / 3);
}

/* ---- bad input --------------------------------------------------------------- */

FIXTURE(slots_bad) {
	struct zc_ring ring;
	int sock;
	char buf[64];
};

FIXTURE_SETUP(slots_bad)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, 0, 0));
	self->sock = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(0, connect(self->sock, (struct sockaddr *)&sin, sizeof(sin)));
}

FIXTURE_TEARDOWN(slots_bad)
{
	close(self->sock);
	zc_ring_exit(&self->ring);
}

/* One CQE, no notification. */
static int submit_bad(struct __test_metadata *_metadata, struct zc_ring *r)
{
	struct io_uring_cqe cqe = { 0 };

	EXPECT_EQ(0, zc_submit_one(r, &cqe));
	EXPECT_EQ(0, cqe.flags);
	usleep(20000);
	zc_sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
	EXPECT_EQ(NULL, zc_peek_cqe(r));
	return cqe.res;
}

TEST_F(slots_bad, slot_flag_without_slots)
{
	prep_slot_send(zc_get_sqe(&self->ring), self->sock, self->buf, 8, 0, 0, 1);
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(slots_bad, slot_index_out_of_range)
{
	ASSERT_EQ(0, register_slots(&self->ring, 2, 0));
	prep_slot_send(zc_get_sqe(&self->ring), self->sock, self->buf, 8, 2, 0, 1);
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(slots_bad, flush_without_slot_flag)
{
	ASSERT_EQ(0, register_slots(&self->ring, 2, 0));
	zc_prep_send_zc(zc_get_sqe(&self->ring), self->sock, self->buf, 8,
			IORING_SEND_ZC_SLOT_FLUSH, 1);
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

/* A refused send does not join, or flush, the generation. */
TEST_F(slots_bad, refused_send_does_not_flush)
{
	struct io_uring_sqe *sqe;

	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	sqe = zc_get_sqe(&self->ring);
	prep_slot_send(sqe, self->sock, self->buf, 8, 0,
		       IORING_SEND_ZC_SLOT_FLUSH | IORING_RECVSEND_FIXED_BUF, 1);
	ASSERT_EQ(-EFAULT, submit_bad(_metadata, &self->ring));
}

TEST_F(slots_bad, registration_errors)
{
	uint64_t tags[2] = { 1, 2 };
	struct io_uring_send_zc_slots_reg reg = { .tags = (uintptr_t)tags, .nr = 2 };
	int fd = self->ring.fd;

	reg.nr = 0;
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	reg.nr = IORING_SEND_ZC_SLOTS_MAX + 1;
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	reg.nr = 2;
	reg.__resv[1] = 1;
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	reg.__resv[1] = 0;
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 2));
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, NULL, 1));
	EXPECT_EQ(-EFAULT, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, (void *)8, 1));
	reg.tags = 8;
	EXPECT_EQ(-EFAULT, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	reg.tags = (uintptr_t)tags;
	EXPECT_EQ(-ENXIO, zc_sys_register(fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0));
	EXPECT_EQ(0, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	EXPECT_EQ(-EBUSY, zc_sys_register(fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1));
	EXPECT_EQ(-EINVAL, zc_sys_register(fd, IORING_UNREGISTER_SEND_ZC_SLOTS, &reg, 0));
	EXPECT_EQ(0, zc_sys_register(fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0));
	EXPECT_EQ(-ENXIO, zc_sys_register(fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0));
}

/*
 * A failed send before a hard-linked flush does not cancel it: the
 * generation (the failed send joined it at prep) still closes. A flush of
 * an empty slot fails with -ENODATA, which cancels what is linked to it.
 */
TEST_F(slots_bad, flush_op_links)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe c[3];
	int unconnected = socket(AF_INET, SOCK_DGRAM, 0);

	ASSERT_LE(0, unconnected);
	ASSERT_EQ(0, register_slots(&self->ring, 1, 0));
	/* no destination: the send fails at issue, -EDESTADDRREQ */
	sqe = zc_get_sqe(&self->ring);
	prep_slot_send(sqe, unconnected, self->buf, 8, 0, 0, 1);
	sqe->flags = IOSQE_IO_HARDLINK;
	prep_flush(zc_get_sqe(&self->ring), 0, 0, FLUSH_UD(1));
	ASSERT_EQ(2, zc_submit(&self->ring));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &c[i], NULL));
	for (int i = 0; i < 3; i++) {
		if (c[i].user_data == 1) {
			EXPECT_EQ(-EDESTADDRREQ, c[i].res);
		} else if (c[i].user_data == FLUSH_UD(1)) {
			EXPECT_EQ(0, c[i].res);
		} else {
			EXPECT_EQ(TAG(0), c[i].user_data);
		}
	}
	close(unconnected);

	/* empty now: -ENODATA, and the NOP linked after it is cancelled */
	sqe = zc_get_sqe(&self->ring);
	prep_flush(sqe, 0, 0, FLUSH_UD(2));
	sqe->flags = IOSQE_IO_LINK;
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = 3;
	ASSERT_EQ(2, zc_submit(&self->ring));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &c[0], NULL));
		if (c[0].user_data == 3) {
			EXPECT_EQ(-ECANCELED, c[0].res);
		} else {
			EXPECT_EQ(-ENODATA, c[0].res);
		}
	}
	usleep(20000);
	zc_sys_enter(self->ring.fd, 0, 0, IORING_ENTER_GETEVENTS);
	EXPECT_EQ(NULL, zc_peek_cqe(&self->ring));
}

/* Bad flush SQEs fail with -EINVAL, flush nothing and post nothing else. */
TEST_F(slots_bad, flush_op_errors)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	int i;

	/* no slots registered */
	prep_flush(zc_get_sqe(&self->ring), 0, 0, FLUSH_UD(0));
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));

	ASSERT_EQ(0, register_slots(&self->ring, 2, 0));
	/* a generation that none of the bad flushes may close */
	prep_slot_send(zc_get_sqe(&self->ring), self->sock, self->buf, 8, 1, 0, 1);
	ASSERT_EQ(0, zc_submit_one(&self->ring, &cqe));
	ASSERT_EQ(8, cqe.res);

	prep_flush(zc_get_sqe(&self->ring), 2, 0, FLUSH_UD(0));
	EXPECT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
	for (i = 0; i < 11; i++) {
		sqe = zc_get_sqe(&self->ring);
		prep_flush(sqe, 1, 0, FLUSH_UD(i));
		switch (i) {
		case 0: sqe->fd = self->sock; break;
		case 1: sqe->fd = 0; break;
		case 2: sqe->off = 1; break;
		case 3: sqe->addr = (uintptr_t)self->buf; break;
		case 4: sqe->len = 8; break;
		case 5: sqe->msg_flags = MSG_DONTWAIT; break;
		case 6: sqe->buf_index = 1; break;
		case 7: sqe->addr3 = 1; break;
		case 8: sqe->ioprio = IORING_SEND_ZC_SLOT; break;
		case 9: sqe->ioprio = IORING_RECVSEND_POLL_FIRST; break;
		case 10: sqe->addr_len = 1; break;	/* bytes 44-45 */
		}
		EXPECT_EQ(-EINVAL, submit_bad(_metadata, &self->ring)) TH_LOG("case %d", i);
	}
	/* no buffer to select: refused before prep, as for NOP */
	sqe = zc_get_sqe(&self->ring);
	prep_flush(sqe, 1, 0, FLUSH_UD(11));
	sqe->flags = IOSQE_BUFFER_SELECT;
	EXPECT_EQ(-EOPNOTSUPP, submit_bad(_metadata, &self->ring));
	/* a fixed file needs registered files: refused, with them too */
	sqe = zc_get_sqe(&self->ring);
	prep_flush(sqe, 1, 0, FLUSH_UD(20));
	sqe->fd = 0;
	sqe->flags = IOSQE_FIXED_FILE;
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_FILES, &self->sock, 1));
	EXPECT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));

	/* slot 1 is still open: a good flush closes generation 0 */
	prep_flush(zc_get_sqe(&self->ring), 1, 0, FLUSH_UD(30));
	ASSERT_EQ(1, zc_submit(&self->ring));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, NULL));
		if (cqe.flags & IORING_CQE_F_NOTIF) {
			EXPECT_EQ(TAG(1), cqe.user_data);
		} else {
			EXPECT_EQ(FLUSH_UD(30), cqe.user_data);
		}
		EXPECT_EQ(0, cqe.res & ~IORING_NOTIF_USAGE_ZC_COPIED);
	}
}

/*
 * The probe tells the flush opcode apart: supported here, and the holes
 * around it are not (they fail with -EINVAL, as on a kernel without it).
 */
TEST_F(slots_bad, flush_op_probe_and_holes)
{
	size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, len);
	unsigned int holes[] = { IORING_OP_RECV_ZC + 1, IORING_OP_SEND_ZC_FLUSH - 1 };

	ASSERT_NE(NULL, probe);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_PROBE, probe, 256));
	ASSERT_EQ(IORING_OP_SEND_ZC_FLUSH, probe->last_op);
	EXPECT_NE(0, probe->ops[IORING_OP_SEND_ZC_FLUSH].flags & IO_URING_OP_SUPPORTED);
	for (unsigned int i = 0; i < 2; i++) {
		struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

		EXPECT_EQ(0, probe->ops[holes[i]].flags & IO_URING_OP_SUPPORTED);
		sqe->opcode = holes[i];
		sqe->fd = -1;
		sqe->user_data = 1;
		EXPECT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
	}
	free(probe);
}

/* Without side effects: the setup features and the query both say so. */
TEST_F(slots_bad, feature_detection)
{
	struct io_uring_query_opcode op;
	struct io_uring_query_hdr h = { .query_op = IO_URING_QUERY_OPCODES,
					.query_data = (uintptr_t)&op,
					.size = sizeof(op) };

	ASSERT_NE(0, self->ring.p.features & IORING_FEAT_SEND_ZC_SLOTS);
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(0, h.result);
	ASSERT_NE(0, op.feature_flags & IORING_FEAT_SEND_ZC_SLOTS);
	/* counts stop at the first hole: slots are told by the feature bit */
	ASSERT_EQ(IORING_REGISTER_FILE_ALLOC_RANGE + 1, op.nr_register_opcodes);
}

TEST_HARNESS_MAIN
