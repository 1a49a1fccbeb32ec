// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_OP_RECV_ZC in device-less mode: TCP data copied into a
 * registered pool and handed out chunk by chunk, chunks handed back
 * through the refill ring. Every byte is checked against the sender's
 * pattern; every CQE is checked against the ABI (F_MORE, offset within the
 * pool, data never across a page, no byte of the pool handed out again
 * while user space holds it).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/zcrx.h"
#include "lib/priv.h"

#define SEED 0x2cc5
#define MAX_STREAMS 4
#define MAX_CHUNKS 4096

/* ---- a sender in a child process ------------------------------------------ */

/* Write total patterned bytes to fd in writes of wsize, then close. */
static pid_t spawn_sender(int fd, uint64_t total, uint64_t seed, size_t wsize)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (zc_write_pattern(fd, total, seed, wsize, 0))
		_exit(1);
	close(fd);
	_exit(0);
}

/* ---- the receiving side ----------------------------------------------------- */

struct stream {
	int fd;
	uint64_t seed;
	uint64_t received;	/* bytes verified */
	unsigned int cqes;
	bool done;		/* the final CQE came */
	int final_res;
};

struct rx {
	struct zc_ring *ring;
	struct zc_zcrx *z;
	struct stream s[MAX_STREAMS];
	unsigned int nr;
	/* per chunk: CQEs we hold, and where the data they name ends */
	unsigned int held[MAX_CHUNKS];
	unsigned int held_end[MAX_CHUNKS];
	uint64_t pending[MAX_CHUNKS];
	unsigned int npending;
	unsigned int rearms;	/* requests ended by -ENOMEM or -ENOSPC */
	unsigned int return_batch;	/* 0: only when told to */
	bool flush;			/* ZCRX_CTRL_FLUSH_RQ after returning */
};

static void rx_init(struct rx *rx, struct zc_ring *ring, struct zc_zcrx *z)
{
	memset(rx, 0, sizeof(*rx));
	rx->ring = ring;
	rx->z = z;
	rx->return_batch = 1;
}

static int rx_add(struct rx *rx, int fd, uint64_t seed)
{
	rx->s[rx->nr].fd = fd;
	rx->s[rx->nr].seed = seed;
	return rx->nr++;
}

static void rx_arm(struct rx *rx, int i, uint32_t len)
{
	zc_prep_recv_zc(zc_get_sqe(rx->ring), rx->s[i].fd, rx->z->reg.zcrx_id, len, i);
	rx->s[i].done = false;
}

/* We are done with the data a CQE named at off: one refill entry. */
static void rx_release(struct rx *rx, uint64_t off)
{
	uint64_t idx = off / ZC_PAGE;

	if (--rx->held[idx] == 0)
		rx->held_end[idx] = 0;
	zc_zcrx_queue_on(rx->ring, rx->z, off, 0);
}

static void rx_return_pending(struct rx *rx)
{
	for (unsigned int i = 0; i < rx->npending; i++)
		rx_release(rx, rx->pending[i]);
	rx->npending = 0;
	zc_zcrx_publish(rx->z);
	if (rx->flush)
		zc_zcrx_flush(rx->ring, rx->z);
}

/*
 * Take one CQE and check it. Returns the stream it belongs to, or -1
 * after a failed assertion.
 */
static int rx_step(struct __test_metadata *_metadata, struct rx *rx)
{
	struct io_uring_cqe cqe;
	uint64_t big[2];
	struct stream *s;

	EXPECT_EQ(0, zc_wait_cqe(rx->ring, &cqe, big));
	if (cqe.user_data >= rx->nr) {
		EXPECT_LT(cqe.user_data, rx->nr);
		return -1;
	}
	s = &rx->s[cqe.user_data];
	EXPECT_FALSE(s->done);
	if (!(cqe.flags & IORING_CQE_F_MORE)) {
		s->done = true;
		s->final_res = cqe.res;
		EXPECT_EQ(0, big[0]);
		return cqe.user_data;
	}
	uint64_t off = big[0], idx = off / ZC_PAGE, in_page = off % ZC_PAGE;

	EXPECT_EQ(0, big[1]);
	EXPECT_EQ(0, off & IORING_ZCRX_AREA_MASK);	/* area 0 */
	EXPECT_LT(off, rx->z->area_len);
	EXPECT_GT(cqe.res, 0);
	EXPECT_LE(in_page + cqe.res, ZC_PAGE);		/* never across a page */
	if (idx >= MAX_CHUNKS || off >= rx->z->area_len || cqe.res <= 0 ||
	    in_page + cqe.res > ZC_PAGE)
		return -1;
	/*
	 * Bytes we still hold are never handed out again: new data in a
	 * chunk we hold only follows what we hold.
	 */
	if (rx->held[idx])
		EXPECT_GE(in_page, rx->held_end[idx]);
	rx->held[idx]++;
	rx->held_end[idx] = in_page + cqe.res;
	EXPECT_EQ(-1, zc_pattern_check(rx->z->area + off, cqe.res, s->seed,
				       s->received))
		TH_LOG("stream %llu: bad data at byte %llu",
		       (unsigned long long)cqe.user_data,
		       (unsigned long long)s->received);
	s->received += cqe.res;
	s->cqes++;
	rx->pending[rx->npending++] = off;
	if (rx->return_batch && rx->npending >= rx->return_batch)
		rx_return_pending(rx);
	return cqe.user_data;
}

/* Run until stream i has its final CQE; returns that CQE's res. */
static int rx_until_done(struct __test_metadata *_metadata, struct rx *rx, int i)
{
	while (!rx->s[i].done)
		if (rx_step(_metadata, rx) < 0 || _metadata->passed == 0)
			return -1000;
	return rx->s[i].final_res;
}

/*
 * Receive stream i to its end as an application would: a request ended by
 * a full CQ or an empty pool is re-armed once our chunks are handed back.
 */
static int rx_stream(struct __test_metadata *_metadata, struct rx *rx, int i)
{
	for (;;) {
		int res = rx_until_done(_metadata, rx, i);

		if (res != -ENOMEM && res != -ENOSPC)
			return res;
		rx->rearms++;
		rx_return_pending(rx);
		rx_arm(rx, i, 0);
		if (zc_submit(rx->ring) != 1)
			return -1001;
	}
}

/* ---- one connection over veth ---------------------------------------------- */

FIXTURE(recv_zc) {
	struct zc_ring ring;
	struct zc_zcrx z;
	struct rx rx;
	int tx, rxfd;
	pid_t sender;
};

FIXTURE_VARIANT(recv_zc) {
	int family;
	uint64_t total;		/* bytes the peer sends */
	size_t wsize;		/* its write size */
	size_t pool;		/* pool bytes */
};

FIXTURE_VARIANT_ADD(recv_zc, tcp4_1b) { AF_INET, 1, 1, 64 * ZC_PAGE };
FIXTURE_VARIANT_ADD(recv_zc, tcp6_1000b) { AF_INET6, 1000, 100, 64 * ZC_PAGE };
FIXTURE_VARIANT_ADD(recv_zc, tcp4_page_plus_1) { AF_INET, 4097, 4097, 64 * ZC_PAGE };
FIXTURE_VARIANT_ADD(recv_zc, tcp6_64k_odd_writes) { AF_INET6, 65536 + 333, 1448, 64 * ZC_PAGE };
FIXTURE_VARIANT_ADD(recv_zc, tcp4_1m_small_pool) { AF_INET, 1 << 20, 65536, 16 * ZC_PAGE };
FIXTURE_VARIANT_ADD(recv_zc, tcp6_8m) { AF_INET6, 8 << 20, 65536, 256 * ZC_PAGE };

FIXTURE_SETUP(recv_zc)
{
	self->sender = 0;
	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, variant->pool, 256, false));
	ASSERT_EQ(0, zc_pair(variant->family, SOCK_STREAM, &self->tx, &self->rxfd))
		TH_LOG("no namespaces %s/%s? run through run-guest.sh", ZC_NS_A, ZC_NS_B);
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
}

FIXTURE_TEARDOWN(recv_zc)
{
	if (self->sender > 0)
		kill(self->sender, SIGKILL), zc_reap(self->sender);
	close(self->tx);
	close(self->rxfd);
	zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
}

static void start_sender(FIXTURE_DATA(recv_zc) *self,
			 const FIXTURE_VARIANT(recv_zc) *variant, uint64_t total)
{
	self->sender = spawn_sender(self->tx, total, SEED, variant->wsize);
	close(self->tx);
	self->tx = -1;
}

static void finish_sender(struct __test_metadata *_metadata,
			  FIXTURE_DATA(recv_zc) *self)
{
	ASSERT_EQ(0, zc_reap(self->sender));
	self->sender = 0;
}

/*
 * Every byte arrives, in order, exactly once; chunks are recycled through
 * the refill ring with no flush (device-less mode takes them back when it
 * needs them); the stream ends with one CQE of res 0 without F_MORE.
 */
TEST_F_TIMEOUT(recv_zc, stream_integrity, 120)
{
	start_sender(self, variant, variant->total);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(variant->total, self->rx.s[0].received);
	finish_sender(_metadata, self);
	TH_LOG("%u CQEs, %u re-arms", self->rx.s[0].cqes, self->rx.rearms);
}

/* Chunks handed back in batches of 8 and taken back by an explicit flush. */
TEST_F_TIMEOUT(recv_zc, batched_returns_with_flush, 120)
{
	self->rx.return_batch = 8;
	self->rx.flush = true;
	start_sender(self, variant, variant->total);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(variant->total, self->rx.s[0].received);
	finish_sender(_metadata, self);
}

/* The len limit: exactly that many bytes, res 0, then re-arm for the rest. */
TEST_F_TIMEOUT(recv_zc, byte_limit_then_rearm, 120)
{
	uint32_t limit = variant->total > 2 ? variant->total / 3 : 1;

	start_sender(self, variant, variant->total);
	rx_arm(&self->rx, 0, limit);
	ASSERT_EQ(1, zc_submit(&self->ring));
	/* a request ended early is re-armed for what is left of the limit */
	for (;;) {
		int res = rx_until_done(_metadata, &self->rx, 0);

		if (res == 0)
			break;
		ASSERT_TRUE(res == -ENOMEM || res == -ENOSPC);
		rx_return_pending(&self->rx);
		rx_arm(&self->rx, 0, limit - self->rx.s[0].received);
		ASSERT_EQ(1, zc_submit(&self->ring));
	}
	ASSERT_EQ(limit, self->rx.s[0].received);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(variant->total, self->rx.s[0].received);
	finish_sender(_metadata, self);
}

/* ---- pool exhaustion, CQ overflow, garbage returns --------------------------- */

FIXTURE(recv_zc_edge) {
	struct zc_ring ring;
	struct zc_zcrx z;
	struct rx rx;
	int tx, rxfd;
	long pinned_before;
};

FIXTURE_SETUP(recv_zc_edge)
{
	self->pinned_before = zc_vm_pinned_kb();
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rxfd));
}

FIXTURE_TEARDOWN(recv_zc_edge)
{
	close(self->tx);
	close(self->rxfd);
	zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
}

/*
 * Send bytes [from, to) of the stream and wait until the receive queue
 * holds all that was not read yet (queued bytes).
 */
static void send_range(struct __test_metadata *_metadata, int tx, int rxfd,
		       uint64_t from, uint64_t to, uint64_t queued)
{
	uint8_t buf[8192];
	uint64_t off = from;
	int inq = 0;

	while (off < to) {
		size_t n = to - off < sizeof(buf) ? to - off : sizeof(buf);

		zc_pattern_fill(buf, n, SEED, off);
		ASSERT_EQ((ssize_t)n, write(tx, buf, n));
		off += n;
	}
	for (int i = 0; i < 500 && (uint64_t)inq < queued; i++) {
		ASSERT_EQ(0, ioctl(rxfd, FIONREAD, &inq));
		usleep(2000);
	}
	ASSERT_EQ(queued, inq);
}

static void send_all_now(struct __test_metadata *_metadata, int tx, int rxfd,
			 uint64_t total)
{
	send_range(_metadata, tx, rxfd, 0, total, total);
}

/*
 * A pool with no free chunk ends the request with -ENOMEM after what fit;
 * once chunks come back a new request receives the rest.
 */
TEST_F(recv_zc_edge, pool_exhausted_rearm)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 8 * ZC_PAGE, 64, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	self->rx.return_batch = 0;	/* hold everything */
	send_all_now(_metadata, self->tx, self->rxfd, 20 * ZC_PAGE);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	/* the pool holds exactly 8 pages: chunks are filled before the next */
	ASSERT_EQ(-ENOMEM, rx_until_done(_metadata, &self->rx, 0));
	ASSERT_EQ(8 * ZC_PAGE, self->rx.s[0].received);
	ASSERT_LE(8, self->rx.s[0].cqes);
	/* hand everything back, then receive the rest returning as we go */
	rx_return_pending(&self->rx);
	self->rx.return_batch = 1;
	shutdown(self->tx, SHUT_WR);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(20 * ZC_PAGE, self->rx.s[0].received);
}


/*
 * A full CQ ends the request with -ENOSPC (its final CQE waits in the
 * overflow list); no data is lost, and a new request receives the rest.
 */
TEST_F(recv_zc_edge, cq_full_rearm)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 4, ZC_RING_FLAGS, 8));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 64 * ZC_PAGE, 64, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));	/* nothing to read: armed */
	send_all_now(_metadata, self->tx, self->rxfd, 40 * ZC_PAGE);
	ASSERT_EQ(-ENOSPC, rx_until_done(_metadata, &self->rx, 0));
	/* the 8 CQEs that fit, one full chunk each; the rest waits */
	ASSERT_EQ(8, self->rx.s[0].cqes);
	ASSERT_EQ(8 * ZC_PAGE, self->rx.s[0].received);
	shutdown(self->tx, SHUT_WR);
	rx_return_pending(&self->rx);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(40 * ZC_PAGE, self->rx.s[0].received);
}

/*
 * Garbage on the refill ring is consumed and ignored; a chunk returned
 * twice is freed once (rx_step fails if bytes we hold are handed out
 * again).
 */
TEST_F(recv_zc_edge, garbage_returns)
{
	uint64_t area_len = 16 * ZC_PAGE, first;

	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, area_len, 64, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	self->rx.return_batch = 0;
	send_all_now(_metadata, self->tx, self->rxfd, 4 * ZC_PAGE);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	while (self->rx.s[0].received < 4 * ZC_PAGE)
		ASSERT_LE(0, rx_step(_metadata, &self->rx));
	/* all 4 pages arrived before the issue: one full chunk per CQE */
	ASSERT_EQ(4, self->rx.npending);
	/* hand back the first properly, then twice more, and garbage */
	first = self->rx.pending[0];
	ASSERT_EQ(0, first % ZC_PAGE);
	rx_release(&self->rx, first);
	memmove(self->rx.pending, self->rx.pending + 1, 3 * sizeof(uint64_t));
	self->rx.npending = 3;
	zc_zcrx_queue(&self->z, first, 0);
	zc_zcrx_queue(&self->z, first + 100, 0);	/* same chunk again */
	zc_zcrx_queue(&self->z, area_len, 0);		/* past the pool */
	zc_zcrx_queue(&self->z, 1ULL << 48, 0);		/* area 1 */
	zc_zcrx_queue(&self->z, ~0ULL, 0);
	zc_zcrx_queue(&self->z, 0, 0);
	self->z.rq.rqes[(self->z.rq.rq_tail - 1) & (self->z.rq.ring_entries - 1)].__pad = 7;
	zc_zcrx_publish(&self->z);
	/*
	 * 12 free chunks and the one handed back: 13 more pages fit before
	 * the pool is dry, and none of them may be one we hold.
	 */
	send_range(_metadata, self->tx, self->rxfd, 4 * ZC_PAGE, 24 * ZC_PAGE,
		   20 * ZC_PAGE);
	ASSERT_EQ(-ENOMEM, rx_until_done(_metadata, &self->rx, 0));
	ASSERT_EQ(17 * ZC_PAGE, self->rx.s[0].received);
	ASSERT_EQ(0, zc_zcrx_queued(&self->z));
}

/*
 * Each refill entry user space writes is read at most once, and entries it
 * never wrote are never read. A producer that republishes spent entries
 * (its tail moved a whole ring ahead without writing) must not make the
 * kernel free a chunk that user space holds again by now: the next CQEs
 * would name bytes we still hold (rx_step() checks every CQE for that).
 */
TEST_F(recv_zc_edge, stale_refill_entries_never_free_a_held_chunk)
{
	uint32_t entries;

	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 8 * ZC_PAGE, 64, false));
	entries = self->z.reg.rq_entries;
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	self->rx.return_batch = 0;
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));

	/* a page arrives and goes back properly: the kernel takes it back */
	send_range(_metadata, self->tx, self->rxfd, 0, ZC_PAGE, ZC_PAGE);
	while (self->rx.s[0].received < ZC_PAGE)
		ASSERT_LE(0, rx_step(_metadata, &self->rx));
	rx_return_pending(&self->rx);
	ASSERT_EQ(0, zc_zcrx_flush(&self->ring, &self->z));
	ASSERT_EQ(0, zc_zcrx_queued(&self->z));

	/* the next page reuses that chunk, and we hold it */
	send_range(_metadata, self->tx, self->rxfd, ZC_PAGE, 2 * ZC_PAGE, ZC_PAGE);
	while (self->rx.s[0].received < 2 * ZC_PAGE)
		ASSERT_LE(0, rx_step(_metadata, &self->rx));

	/* republish a whole ring of entries we did not write */
	self->z.rq.rq_tail += entries;
	zc_zcrx_publish(&self->z);
	ASSERT_EQ(0, zc_zcrx_flush(&self->ring, &self->z));
	/* and a tail far ahead, then back where it was */
	*self->z.rq.ktail = self->z.rq.rq_tail + 12345;
	ASSERT_EQ(0, zc_zcrx_flush(&self->ring, &self->z));
	zc_zcrx_publish(&self->z);
	ASSERT_EQ(0, zc_zcrx_flush(&self->ring, &self->z));

	/*
	 * 7 free chunks: 7 more of the 8 pages sent fit, none of them one
	 * we hold. Had a stale entry freed ours, all 8 would.
	 */
	send_range(_metadata, self->tx, self->rxfd, 2 * ZC_PAGE, 10 * ZC_PAGE,
		   8 * ZC_PAGE);
	ASSERT_EQ(-ENOMEM, rx_until_done(_metadata, &self->rx, 0));
	ASSERT_EQ(9 * ZC_PAGE, self->rx.s[0].received);
}

/*
 * A busy multishot RECV_ZC requeues itself after each bounded issue; one
 * io_uring_enter() must still come back to user space after a few rounds,
 * not run the request until the socket is empty (here 768 chunks queued,
 * a CQ with room for all of them, and one CQE asked for).
 */
TEST_F_TIMEOUT(recv_zc_edge, requeue_returns_to_user, 120)
{
	const uint64_t total = 3 << 20;
	unsigned int ready;
	int inq = 0, i;

	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 4096));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 2 * total, 4096, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	send_range(_metadata, self->tx, self->rxfd, 0, total, 0);
	for (i = 0; i < 2000 && (uint64_t)inq < total; i++) {
		ASSERT_EQ(0, ioctl(self->rxfd, FIONREAD, &inq));
		usleep(10000);
	}
	ASSERT_EQ(total, inq);
	shutdown(self->tx, SHUT_WR);

	rx_arm(&self->rx, 0, 0);
	/* submit and wait for one CQE, in one io_uring_enter() */
	ASSERT_EQ(1, zc_submit_wait(&self->ring, 1));
	ready = __atomic_load_n(self->ring.cq_tail, __ATOMIC_ACQUIRE) -
		*self->ring.cq_head;
	ASSERT_LT(0, ready);
	/*
	 * 64 CQEs an issue, four rounds of local work a run, two runs an
	 * enter (after submitting, and in the wait), and the issue that
	 * armed the request: 576 in the runs seen, never more than ten
	 * rounds (640), while an unbounded run takes all 768 chunks.
	 */
	ASSERT_GE(640, ready) TH_LOG("one enter posted %u CQEs", ready);
	TH_LOG("one enter posted %u CQEs", ready);
	ASSERT_EQ(0, rx_stream(_metadata, &self->rx, 0));
	ASSERT_EQ(total, self->rx.s[0].received);
}

/* Ring teardown with a request armed and chunks held: all comes back. */
TEST_F(recv_zc_edge, teardown_in_flight_with_chunks_held)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 32 * ZC_PAGE, 64, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	self->rx.return_batch = 0;
	send_all_now(_metadata, self->tx, self->rxfd, 5 * ZC_PAGE + 100);
	rx_arm(&self->rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&self->ring));
	while (self->rx.s[0].received < 5 * ZC_PAGE + 100)
		ASSERT_LE(0, rx_step(_metadata, &self->rx));
	ASSERT_FALSE(self->rx.s[0].done);
	ASSERT_LT(self->pinned_before, zc_vm_pinned_kb());
	zc_ring_exit(&self->ring);
	for (int i = 0; i < 100 && zc_vm_pinned_kb() != self->pinned_before; i++)
		usleep(20000);
	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
}

/* IORING_OP_ASYNC_CANCEL ends an armed RECV_ZC with -ECANCELED. */
TEST_F(recv_zc_edge, async_cancel)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	bool cancel_seen = false, recv_seen = false;

	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 8 * ZC_PAGE, 64, false));
	zc_prep_recv_zc(zc_get_sqe(&self->ring), self->rxfd, self->z.reg.zcrx_id, 0, 1);
	ASSERT_EQ(1, zc_submit(&self->ring));
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->addr = 1;
	sqe->user_data = 2;
	ASSERT_EQ(1, zc_submit(&self->ring));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, NULL));
		if (cqe.user_data == 2) {
			ASSERT_EQ(0, cqe.res);
			cancel_seen = true;
		} else {
			ASSERT_EQ(1, cqe.user_data);
			ASSERT_EQ(-ECANCELED, cqe.res);
			ASSERT_EQ(0, cqe.flags & IORING_CQE_F_MORE);
			recv_seen = true;
		}
	}
	ASSERT_TRUE(cancel_seen && recv_seen);
}

/* IORING_RECVSEND_POLL_FIRST waits for data before the first read. */
TEST_F(recv_zc_edge, poll_first)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 16 * ZC_PAGE, 64, false));
	rx_init(&self->rx, &self->ring, &self->z);
	rx_add(&self->rx, self->rxfd, SEED);
	send_all_now(_metadata, self->tx, self->rxfd, 3 * ZC_PAGE + 5);
	shutdown(self->tx, SHUT_WR);
	rx_arm(&self->rx, 0, 0);
	self->ring.sqes[(self->ring.sqe_tail - 1) & self->ring.sq_mask].ioprio |=
		IORING_RECVSEND_POLL_FIRST;
	ASSERT_EQ(1, zc_submit(&self->ring));
	ASSERT_EQ(0, rx_until_done(_metadata, &self->rx, 0));
	ASSERT_EQ(3 * ZC_PAGE + 5, self->rx.s[0].received);
}

/* ---- many connections, rings and instances ------------------------------------ */

static void pair_or_die(struct __test_metadata *_metadata, int family,
			int *tx, int *rxfd)
{
	ASSERT_EQ(0, zc_pair(family, SOCK_STREAM, tx, rxfd));
}

/* Tests that build their own rings and connections. */
FIXTURE(recv_zc_multi) {
	int unused;
};

FIXTURE_SETUP(recv_zc_multi)
{
}

FIXTURE_TEARDOWN(recv_zc_multi)
{
}

/* Four connections share one pool smaller than any one stream. */
TEST_F_TIMEOUT(recv_zc_multi, many_connections_one_pool, 120)
{
	struct zc_ring ring;
	struct zc_zcrx z;
	struct rx rx;
	int tx[MAX_STREAMS], rxfd[MAX_STREAMS];
	pid_t pid[MAX_STREAMS];
	uint64_t total = 512 << 10;

	ASSERT_EQ(0, zc_ring_init(&ring, 16, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&ring, &z, 32 * ZC_PAGE, 128, false));
	rx_init(&rx, &ring, &z);
	for (int i = 0; i < MAX_STREAMS; i++) {
		pair_or_die(_metadata, i & 1 ? AF_INET6 : AF_INET, &tx[i], &rxfd[i]);
		rx_add(&rx, rxfd[i], SEED + i);
		pid[i] = spawn_sender(tx[i], total, SEED + i, 3000 + 1000 * i);
		close(tx[i]);
		rx_arm(&rx, i, 0);
	}
	ASSERT_EQ(MAX_STREAMS, zc_submit(&ring));
	for (int i = 0; i < MAX_STREAMS; i++)
		ASSERT_EQ(0, rx_stream(_metadata, &rx, i));
	for (int i = 0; i < MAX_STREAMS; i++) {
		ASSERT_EQ(total, rx.s[i].received);
		ASSERT_EQ(0, zc_reap(pid[i]));
		close(rxfd[i]);
	}
	zc_ring_exit(&ring);
	zc_zcrx_free(&z);
}

/* The stream ended: its request did not just stop for a full pool or CQ. */
static bool stream_finished(const struct stream *st)
{
	return st->done && st->final_res != -ENOMEM && st->final_res != -ENOSPC;
}

/* Two rings, each with its own instance, receiving at the same time. */
TEST_F_TIMEOUT(recv_zc_multi, two_rings_two_instances, 120)
{
	struct zc_ring ring[2];
	struct zc_zcrx z[2];
	struct rx rx[2];
	int tx[2], rxfd[2];
	pid_t pid[2];
	uint64_t total = 256 << 10;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, zc_ring_init(&ring[i], 8, ZC_RING_FLAGS, 0));
		ASSERT_EQ(0, zc_zcrx_setup(&ring[i], &z[i], 16 * ZC_PAGE, 64, i));
		/* a second instance on the ring: the one used has id 1 */
		ASSERT_EQ(0, zc_zcrx_setup(&ring[i], &z[i], 16 * ZC_PAGE, 64, !i));
		ASSERT_EQ(1, z[i].reg.zcrx_id);
		rx_init(&rx[i], &ring[i], &z[i]);
		pair_or_die(_metadata, AF_INET6, &tx[i], &rxfd[i]);
		rx_add(&rx[i], rxfd[i], SEED * (i + 2));
		pid[i] = spawn_sender(tx[i], total, SEED * (i + 2), 8192);
		close(tx[i]);
		rx_arm(&rx[i], 0, 0);
		ASSERT_EQ(1, zc_submit(&ring[i]));
	}
	while (!stream_finished(&rx[0].s[0]) || !stream_finished(&rx[1].s[0])) {
		for (int i = 0; i < 2; i++) {
			struct stream *st = &rx[i].s[0];

			/* re-arm a request that a full pool or CQ ended */
			if (st->done && !stream_finished(st)) {
				rx_return_pending(&rx[i]);
				rx_arm(&rx[i], 0, 0);
				ASSERT_EQ(1, zc_submit(&ring[i]));
			}
			if (st->done)
				continue;
			/* run task work, then take what it posted */
			zc_sys_enter(ring[i].fd, 0, 0, IORING_ENTER_GETEVENTS);
			if (zc_peek_cqe(&ring[i])) {
				ASSERT_LE(0, rx_step(_metadata, &rx[i]));
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, rx[i].s[0].final_res);
		ASSERT_EQ(total, rx[i].s[0].received);
		ASSERT_EQ(0, zc_reap(pid[i]));
		close(rxfd[i]);
		zc_ring_exit(&ring[i]);
	}
}

/*
 * A whole stream charged to RLIMIT_MEMLOCK: CAP_NET_ADMIN (which every
 * registration needs) without CAP_IPC_LOCK.
 */
TEST_F_TIMEOUT(recv_zc_multi, memlock_charged_receive, 60)
{
	struct zc_ring ring;
	struct zc_zcrx z;
	struct rx rx;
	int tx, rxfd;
	pid_t pid;

	pair_or_die(_metadata, AF_INET, &tx, &rxfd);
	ASSERT_EQ(0, zc_drop_ipc_lock(1 << 20));
	ASSERT_EQ(0, zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&ring, &z, 16 * ZC_PAGE, 64, false));
	rx_init(&rx, &ring, &z);
	rx_add(&rx, rxfd, SEED);
	pid = spawn_sender(tx, 300000, SEED, 10000);
	close(tx);
	rx_arm(&rx, 0, 0);
	ASSERT_EQ(1, zc_submit(&ring));
	ASSERT_EQ(0, rx_stream(_metadata, &rx, 0));
	ASSERT_EQ(300000, rx.s[0].received);
	ASSERT_EQ(0, zc_reap(pid));
}

/* ---- bad input ------------------------------------------------------------------ */

FIXTURE(recv_zc_bad) {
	struct zc_ring ring;
	struct zc_zcrx z;
	int tx, rxfd;
};

FIXTURE_SETUP(recv_zc_bad)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, 8 * ZC_PAGE, 64, false));
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rxfd));
}

FIXTURE_TEARDOWN(recv_zc_bad)
{
	close(self->tx);
	close(self->rxfd);
	zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
}

/* One CQE, without F_MORE, carrying the error. */
static int submit_bad(struct __test_metadata *_metadata, struct zc_ring *r)
{
	struct io_uring_cqe cqe = { 0 };

	EXPECT_EQ(0, zc_submit_one(r, &cqe));
	EXPECT_EQ(0, cqe.flags & IORING_CQE_F_MORE);
	EXPECT_EQ(NULL, zc_peek_cqe(r));
	return cqe.res;
}

static struct io_uring_sqe *good_sqe(FIXTURE_DATA(recv_zc_bad) *self)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);

	zc_prep_recv_zc(sqe, self->rxfd, self->z.reg.zcrx_id, 0, 9);
	return sqe;
}

TEST_F(recv_zc_bad, not_a_socket)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	good_sqe(self)->fd = p[0];
	ASSERT_EQ(-ENOTSOCK, submit_bad(_metadata, &self->ring));
	close(p[0]);
	close(p[1]);
}

TEST_F(recv_zc_bad, udp_socket)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	good_sqe(self)->fd = fd;
	ASSERT_EQ(-EPROTONOSUPPORT, submit_bad(_metadata, &self->ring));
	close(fd);
}

TEST_F(recv_zc_bad, unix_stream_socket)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	good_sqe(self)->fd = sv[0];
	ASSERT_EQ(-EPROTONOSUPPORT, submit_bad(_metadata, &self->ring));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(recv_zc_bad, unconnected_tcp)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	good_sqe(self)->fd = fd;
	ASSERT_EQ(-ENOTCONN, submit_bad(_metadata, &self->ring));
	close(fd);
}

TEST_F(recv_zc_bad, without_multishot)
{
	good_sqe(self)->ioprio = 0;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, unknown_ioprio_flag)
{
	good_sqe(self)->ioprio |= IORING_RECVSEND_FIXED_BUF;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, addr_set)
{
	good_sqe(self)->addr = 0x1000;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, addr2_set)
{
	good_sqe(self)->addr2 = 1;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, addr3_set)
{
	good_sqe(self)->addr3 = 1;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, msg_flags_set)
{
	good_sqe(self)->msg_flags = MSG_WAITALL;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, unknown_zcrx_id)
{
	good_sqe(self)->zcrx_ifq_idx = self->z.reg.zcrx_id + 1;
	ASSERT_EQ(-EINVAL, submit_bad(_metadata, &self->ring));
}

TEST_F(recv_zc_bad, probe_reports_recv_zc)
{
	struct {
		struct io_uring_probe p;
		struct io_uring_probe_op ops[64];
	} pr;

	memset(&pr, 0, sizeof(pr));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_PROBE, &pr, 64));
	ASSERT_NE(0, pr.ops[IORING_OP_RECV_ZC].flags & IO_URING_OP_SUPPORTED);
}

TEST_HARNESS_MAIN
