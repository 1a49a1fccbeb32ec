// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes of SEND_ZC notification slots: an open generation (sends
 * joined, no flush yet) must never block anything else. execve() returns,
 * unregistering buffers or files does not wait for a flush, files replaced
 * meanwhile are released, and memory charged to RLIMIT_MEMLOCK comes back
 * as the sends' skbs are freed. Generation numbers stay 31-bit, the usage
 * report covers every send of a generation, and a send that fails after
 * it joined still belongs to its generation (its flush closes it).
 *
 * Each case here failed on the first version of the series.
 */
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/priv.h"

#define TAG 0x5107000000000000ull
#define SEND_UD 0x1000
#define SMALL 128

static int register_slot(struct zc_ring *r, uint32_t first_gen)
{
	uint64_t tag = TAG;
	struct io_uring_send_zc_slots_reg reg = {
		.tags = (uintptr_t)&tag, .nr = 1, .first_generation = first_gen,
	};

	return zc_sys_register(r->fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);
}

static void prep_slot_send(struct io_uring_sqe *sqe, int fd, const void *buf,
			   unsigned int len, uint16_t flags, uint64_t ud)
{
	zc_prep_send_zc(sqe, fd, buf, len, IORING_SEND_ZC_SLOT | flags, ud);
	sqe->send_zc_slot = 0;
}

/* Submit one slotted send and return its own CQE's res. */
static int slot_send(struct zc_ring *r, int fd, const void *buf,
		     unsigned int len, uint16_t flags)
{
	struct io_uring_cqe cqe;
	int ret;

	prep_slot_send(zc_get_sqe(r), fd, buf, len, flags, SEND_UD);
	ret = zc_submit_one(r, &cqe);
	if (ret)
		return ret;
	if (cqe.user_data != SEND_UD || (cqe.flags & IORING_CQE_F_MORE))
		return -EPROTO;
	return cqe.res;
}

/* The same from registered buffer 0, which must hold buf. */
static int fixed_slot_send(struct zc_ring *r, int fd, const void *buf,
			   unsigned int len)
{
	struct io_uring_sqe *sqe = zc_get_sqe(r);
	struct io_uring_cqe cqe;
	int ret;

	prep_slot_send(sqe, fd, buf, len, IORING_RECVSEND_FIXED_BUF, SEND_UD);
	sqe->buf_index = 0;
	ret = zc_submit_one(r, &cqe);
	return ret ? ret : cqe.res;
}

/* Wait (bounded) for the slot's notification; its res, or -ETIME. */
static int wait_notif(struct zc_ring *r, unsigned int timeout_ms)
{
	struct io_uring_cqe *cqe;

	for (unsigned int t = 0; t < timeout_ms; t += 10) {
		cqe = zc_peek_cqe(r);
		if (cqe) {
			struct io_uring_cqe c = *cqe;

			zc_cqe_seen(r);
			if (c.user_data != TAG || !(c.flags & IORING_CQE_F_NOTIF))
				return -EPROTO;
			return c.res;
		}
		/* runs task work, which completes the notifier */
		zc_sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
		usleep(10000);
	}
	return -ETIME;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* SIGALRM interrupts a blocked syscall with -EINTR instead of killing us. */
static void arm_alarm(unsigned int seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART */
	alarm(seconds);
}

FIXTURE(life) {
	struct zc_ring ring;
	int tx, rx;
	uint8_t buf[65536];
};

/*
 * A plain ring, and a DEFER_TASKRUN one, whose task work (notifiers
 * completing) only its submitter runs: the case where waiting in the
 * kernel for a notifier can never end by itself.
 */
FIXTURE_VARIANT(life) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(life, plain) { .flags = 0 };
FIXTURE_VARIANT_ADD(life, defer_taskrun) {
	.flags = IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
};

FIXTURE_SETUP(life)
{
	ASSERT_EQ(0, zc_ring_init(&self->ring, 64, variant->flags, 256));
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_DGRAM, &self->tx, &self->rx));
	memset(self->buf, 0x5a, sizeof(self->buf));
	ASSERT_EQ(0, register_slot(&self->ring, 0));
}

FIXTURE_TEARDOWN(life)
{
	alarm(0);
	close(self->tx);
	close(self->rx);
	zc_ring_exit(&self->ring);
}

/*
 * The exec-time cancel loop waited for the open generation's notifier,
 * which only a flush could complete: the task spun in execve() until
 * SIGKILL. Now execve() closes the task's open generations.
 */
TEST_F_TIMEOUT(life, exec_returns_with_open_generation, 60)
{
	int st = 0, i;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *argv[] = { "true", NULL };
		struct zc_ring r;

		/* a ring of its own: a DEFER_TASKRUN ring is its creator's */
		if (zc_ring_init(&r, 8, variant->flags, 0) || register_slot(&r, 0))
			_exit(4);
		if (slot_send(&r, self->tx, self->buf, SMALL, 0) != SMALL)
			_exit(2);
		execv("/bin/true", argv);
		_exit(3);
	}
	/* 20 s: an exec under TCG takes well under one */
	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == 200) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ASSERT_LT(i, 200) TH_LOG("execve() did not return in 20 s");
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
}

/*
 * An open generation held the resource node, so unregistering buffers
 * waited until a signal; it must return at once, and the generation must
 * still complete (with its own number) at its flush.
 */
TEST_F_TIMEOUT(life, unregister_buffers_with_open_generation, 60)
{
	struct iovec iov = { .iov_base = self->buf, .iov_len = sizeof(self->buf) };

	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &iov, 1));
	ASSERT_EQ(SMALL, fixed_slot_send(&self->ring, self->tx, self->buf, SMALL));

	arm_alarm(10);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_BUFFERS, NULL, 0))
		TH_LOG("unregistering buffers waited for the slot's flush");
	alarm(0);

	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
}

/* The same for registered files, with only plain sends on the slot. */
TEST_F_TIMEOUT(life, unregister_files_with_open_generation, 60)
{
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_FILES, fds, 2));
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));

	arm_alarm(10);
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_FILES, NULL, 0))
		TH_LOG("unregistering files waited for the slot's flush");
	alarm(0);
	close(fds[0]);
	close(fds[1]);
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
}

/*
 * A file replaced in the file table while a generation with a fixed-buffer
 * send is open must be released (here: the pipe's read end sees the write
 * end close) without a flush.
 */
TEST_F_TIMEOUT(life, replaced_file_released_with_open_generation, 60)
{
	struct iovec iov = { .iov_base = self->buf, .iov_len = sizeof(self->buf) };
	struct io_uring_rsrc_update up = { .offset = 0 };
	struct pollfd pfd;
	int fds[2], none = -1, ret = 0;

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &iov, 1));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_FILES, &fds[1], 1));
	close(fds[1]);	/* the file table holds the write end now */
	ASSERT_EQ(SMALL, fixed_slot_send(&self->ring, self->tx, self->buf, SMALL));

	up.data = (uintptr_t)&none;
	ASSERT_EQ(1, zc_sys_register(self->ring.fd, IORING_REGISTER_FILES_UPDATE, &up, 1));
	/* resources are put by delayed work (1 s); give it 10 */
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (int i = 0; i < 100 && !ret; i++) {
		zc_sys_enter(self->ring.fd, 0, 0, IORING_ENTER_GETEVENTS);
		ret = poll(&pfd, 1, 100);
	}
	ASSERT_EQ(1, ret) TH_LOG("the replaced file is still held");
	ASSERT_TRUE(pfd.revents & POLLHUP);
	close(fds[0]);
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
}

/*
 * A node switch on an io-wq worker (IORING_OP_CLOSE of a fixed file with
 * IOSQE_ASYNC) splits the open generation there: the new part must be
 * counted for the task that opened the generation (the worker has no
 * io_uring context of its own), and the generation still completes once.
 */
TEST_F_TIMEOUT(life, split_on_io_wq_worker, 60)
{
	struct iovec iov = { .iov_base = self->buf, .iov_len = sizeof(self->buf) };
	struct io_uring_cqe cqe;
	struct io_uring_sqe *sqe;
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_BUFFERS, &iov, 1));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_REGISTER_FILES, fds, 2));
	ASSERT_EQ(SMALL, fixed_slot_send(&self->ring, self->tx, self->buf, SMALL));
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_CLOSE;
	sqe->file_index = 1;	/* fixed file 0 */
	sqe->flags = IOSQE_ASYNC;
	sqe->user_data = 7;
	ASSERT_EQ(0, zc_submit_one(&self->ring, &cqe));
	ASSERT_EQ(7, cqe.user_data);
	ASSERT_EQ(0, cqe.res);
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
	close(fds[0]);
	close(fds[1]);
}

/*
 * Each non-fixed send charges its pages to RLIMIT_MEMLOCK. They stayed
 * charged until the generation's flush and completion, so enough unflushed
 * small sends failed with -ENOMEM long after their skbs were gone.
 */
TEST_F_TIMEOUT(life, memlock_returned_with_open_generation, 120)
{
	struct io_uring_cqe cqe;
	int i, ret = 0, n = 0;

	/* 4 MiB: 1024 pages, two charged per small send */
	ASSERT_EQ(0, zc_drop_ipc_lock(4 << 20));
	/* a ring made now is charged to us */
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 64, variant->flags, 256));
	ASSERT_EQ(0, register_slot(&self->ring, 0));

	for (i = 0; i < 2000; i += 50) {
		for (int j = 0; j < 50; j++)
			prep_slot_send(zc_get_sqe(&self->ring), self->tx, self->buf,
				       SMALL, 0, SEND_UD);
		ASSERT_EQ(50, zc_submit_wait(&self->ring, 50));
		for (int j = 0; j < 50; j++) {
			ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, NULL));
			if (cqe.res != SMALL && !ret)
				ret = cqe.res;
			n++;
		}
		/* let the split-off parts complete (task work) */
		zc_sys_enter(self->ring.fd, 0, 0, IORING_ENTER_GETEVENTS);
		if (ret)
			break;
	}
	ASSERT_EQ(0, ret) TH_LOG("send %d of an open generation failed", n);
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
}

/*
 * Generations are 31-bit: after 0x7fffffff comes 0, so a notification's
 * res is never negative and its top bit only ever means "copied".
 */
TEST_F(life, generation_wraps_at_31_bits)
{
	static const int want[] = { 0x7ffffffe, 0x7fffffff, 0, 1 };

	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_SEND_ZC_SLOTS,
				     NULL, 0));
	ASSERT_EQ(-EINVAL, register_slot(&self->ring, 0x80000000u));
	ASSERT_EQ(-EINVAL, register_slot(&self->ring, 0xfffffffeu));
	ASSERT_EQ(0, register_slot(&self->ring, 0x7ffffffe));
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
					   IORING_SEND_ZC_SLOT_FLUSH));
		ASSERT_EQ(want[i], wait_notif(&self->ring, 5000));
	}
}

/* A UDP socket in ZC_NS_A whose datagrams leave through a dummy device. */
static int dummy_sender(void)
{
	struct sockaddr_storage ss;
	socklen_t len = zc_sockaddr(AF_INET, "10.92.0.2", 9, &ss);
	int fd;

	/* the dummy device frees skbs at transmit: nothing is copied */
	if (system("ip -n " ZC_NS_A " link show zcdum0 >/dev/null 2>&1 || "
		   "{ ip -n " ZC_NS_A " link add zcdum0 type dummy && "
		   "ip -n " ZC_NS_A " addr add 10.92.0.1/24 dev zcdum0 && "
		   "ip -n " ZC_NS_A " link set zcdum0 up; }"))
		return -ENODEV;
	fd = zc_socket_in(ZC_NS_A, AF_INET, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * The usage report covers every send of the generation, also those that
 * did not ask: a copied send (UDP over veth is always copied), then one
 * that asks for the report and is not copied (to a dummy device). The
 * generation was partly copied, so the copied bit must be set.
 */
TEST_F(life, usage_report_covers_sends_that_did_not_ask)
{
	struct pollfd pfd = { .fd = self->rx, .events = POLLIN };
	int res, dfd = dummy_sender();

	ASSERT_LE(0, dfd);
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));
	/* delivered, so copied: its skb reported before the next send joins */
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(SMALL, slot_send(&self->ring, dfd, self->buf, SMALL,
				   IORING_SEND_ZC_REPORT_USAGE |
				   IORING_SEND_ZC_SLOT_FLUSH));
	res = wait_notif(&self->ring, 5000);
	close(dfd);
	ASSERT_EQ(0, res & 0x7fffffff);
	ASSERT_NE(0, res & IORING_NOTIF_USAGE_ZC_COPIED);
}

/* The dummy device alone: not copied, and the report says so. */
TEST_F(life, usage_report_not_copied_to_dummy)
{
	int res, dfd = dummy_sender();

	ASSERT_LE(0, dfd);
	ASSERT_EQ(SMALL, slot_send(&self->ring, dfd, self->buf, SMALL,
				   IORING_SEND_ZC_REPORT_USAGE |
				   IORING_SEND_ZC_SLOT_FLUSH));
	res = wait_notif(&self->ring, 5000);
	close(dfd);
	ASSERT_EQ(0, res);
}

/*
 * A slotted send that fails at issue (here UDP -EMSGSIZE) joined its
 * generation at prep: its CQE carries the error and its flush still
 * closes the generation, whose notification comes as usual.
 */
TEST_F(life, failed_send_still_closes_generation)
{
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));
	ASSERT_EQ(-EMSGSIZE, slot_send(&self->ring, self->tx, self->buf,
				       sizeof(self->buf), IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
	/* the next send opens generation 1 */
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL,
				   IORING_SEND_ZC_SLOT_FLUSH));
	ASSERT_EQ(1, wait_notif(&self->ring, 5000));
}

/* ---- IORING_OP_SEND_ZC_FLUSH ---------------------------------------------- */

#define FLUSH_UD 0xf1
#define POLL_UD 0x90

/* Collect @n CQEs into @out (bounded wait); 0, or -ETIME. */
static int collect(struct zc_ring *r, unsigned int n, struct io_uring_cqe *out,
		   unsigned int timeout_ms)
{
	unsigned int got = 0;

	for (unsigned int t = 0; got < n && t < timeout_ms; ) {
		struct io_uring_cqe *cqe = zc_peek_cqe(r);

		if (cqe) {
			out[got++] = *cqe;
			zc_cqe_seen(r);
			continue;
		}
		zc_sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
		usleep(10000);
		t += 10;
	}
	return got == n ? 0 : -ETIME;
}

static const struct io_uring_cqe *find_ud(const struct io_uring_cqe *c,
					  unsigned int n, uint64_t ud)
{
	for (unsigned int i = 0; i < n; i++)
		if (c[i].user_data == ud)
			return &c[i];
	return NULL;
}

static void prep_flush(struct io_uring_sqe *sqe, uint8_t sqe_flags)
{
	sqe->opcode = IORING_OP_SEND_ZC_FLUSH;
	sqe->fd = -1;
	sqe->flags = sqe_flags;
	sqe->user_data = FLUSH_UD;
}

/* POLL_ADD on @fd, linked to the next SQE: it goes when @fd is readable. */
static void prep_poll_link(struct zc_ring *r, int fd)
{
	struct io_uring_sqe *sqe = zc_get_sqe(r);

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->flags = IOSQE_IO_LINK;
	sqe->user_data = POLL_UD;
}

/*
 * A flush issued by an io-wq worker (IOSQE_ASYNC), which does not hold
 * uring_lock: it takes it to find and close the slot; the generation
 * completes once, on the task that opened it.
 */
TEST_F_TIMEOUT(life, flush_op_on_io_wq_worker, 60)
{
	struct io_uring_cqe c[2];

	for (int g = 0; g < 3; g++) {
		ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));
		prep_flush(zc_get_sqe(&self->ring), IOSQE_ASYNC);
		ASSERT_EQ(1, zc_submit(&self->ring));
		ASSERT_EQ(0, collect(&self->ring, 2, c, 5000));
		ASSERT_NE(NULL, find_ud(c, 2, FLUSH_UD));
		ASSERT_NE(NULL, find_ud(c, 2, TAG));
		EXPECT_EQ(g, find_ud(c, 2, FLUSH_UD)->res);
		EXPECT_EQ(g, find_ud(c, 2, TAG)->res);
	}
}

/*
 * A flush prepared while slots were registered and issued after they
 * were unregistered (it waited behind a poll) finds no slot: -EINVAL. The
 * unregistering closed the generation, whose notification came then.
 */
TEST_F_TIMEOUT(life, flush_op_issued_after_unregister, 60)
{
	struct io_uring_cqe c[3];
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));
	prep_poll_link(&self->ring, p[0]);
	prep_flush(zc_get_sqe(&self->ring), 0);
	ASSERT_EQ(2, zc_submit(&self->ring));
	ASSERT_EQ(0, zc_sys_register(self->ring.fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0));
	ASSERT_EQ(0, wait_notif(&self->ring, 5000));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(0, collect(&self->ring, 2, c, 5000));
	ASSERT_NE(NULL, find_ud(c, 2, POLL_UD));
	ASSERT_NE(NULL, find_ud(c, 2, FLUSH_UD));
	EXPECT_EQ(-EINVAL, find_ud(c, 2, FLUSH_UD)->res);
	/* slots registered again: the flush finds the new, empty slot */
	ASSERT_EQ(0, register_slot(&self->ring, 0));
	prep_flush(zc_get_sqe(&self->ring), 0);
	ASSERT_EQ(0, zc_submit_one(&self->ring, c));
	EXPECT_EQ(-ENODATA, c[0].res);
	close(p[0]);
	close(p[1]);
}

/*
 * The ring goes away with a flush still waiting behind a poll and the
 * generation open: the flush is cancelled, the generation closed by the
 * teardown, and nothing leaks (kmemleak checks after the suite).
 */
TEST_F_TIMEOUT(life, ring_exit_with_flush_op_waiting, 60)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(SMALL, slot_send(&self->ring, self->tx, self->buf, SMALL, 0));
	prep_poll_link(&self->ring, p[0]);
	prep_flush(zc_get_sqe(&self->ring), 0);
	ASSERT_EQ(2, zc_submit(&self->ring));
	zc_ring_exit(&self->ring);
	close(p[0]);
	close(p[1]);
}

TEST_HARNESS_MAIN
