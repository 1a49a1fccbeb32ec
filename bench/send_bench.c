// SPDX-License-Identifier: GPL-2.0
/*
 * Send-side cost of zero-copy sends, five ways:
 *   send      send(2)
 *   zc        IORING_OP_SEND_ZC with a notification per send
 *   slotN     IORING_OP_SEND_ZC on a notification slot, the Nth send of a
 *             generation carrying IORING_SEND_ZC_SLOT_FLUSH (slot8, slot32)
 *   slotopN   the same sends without the flag, and an IORING_OP_SEND_ZC_FLUSH
 *             SQE after every Nth (slotop32)
 *   MODE-fixed (the io_uring modes) sends from registered buffers
 *             (IORING_RECVSEND_FIXED_BUF): no page pinning or memlock
 *             charge a send, as zero-copy applications are meant to send
 * over TCP or UDP, to a receiver that discards (send_bench sink/usink, in
 * another namespace or across the e1000e pair) or to a dummy device, which
 * frees skbs at transmit: nothing is copied. All io_uring modes keep DEPTH
 * sends in flight, cycle through the same 8 MiB of send buffers
 * (send_buffers()) and ask for IORING_SEND_ZC_REPORT_USAGE. Every mode ends
 * once the kernel holds none of the data any more (every notification
 * came, and the socket's SIOCOUTQ is 0), so the cost of transmitting and of
 * the acknowledgements is inside the measured section for all of them.
 *
 *   send_bench [-m] [-c CPU] tcp|tcp-nic|udp|udp-nic|udp-dummy MODE SIZE
 *              COUNT NS DST_IP PORT
 * prints one line: proto=... mode=... size=... sends=... wall_s=...
 *                  cqes=... copied=... flushes=...
 *   -m       execute the tcg_insn plugin's start and stop markers around
 *            the sends (bench/tcg-insn): guest instructions by vCPU
 *   -c CPU   run on this CPU
 *   send_bench sink NS IP PORT     TCP: accept and discard, in namespace NS
 *   send_bench usink NS IP PORT    UDP: receive and discard ("-": this one)
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/sockios.h>
#include <time.h>

#include <liburing.h>
#include <zcuring/zc_slots.h>

#include "testlib/net.h"
#include "tcg_mark.h"

#define DEPTH 32

static void die(const char *what, int err)
{
	fprintf(stderr, "send_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct stats {
	unsigned long cqes;
	unsigned long copied;	/* sends whose notification said "copied" */
	unsigned long flushes;	/* IORING_OP_SEND_ZC_FLUSH requests */
};


/*
 * The application's send memory: BUF_BYTES (ZC_SEND_BUF_BYTES in the
 * environment) cut into buffers of one send each, at least 2 * DEPTH. A
 * buffer is busy from its send until the notification that covers it, so
 * this is the window of unnotified data: for TCP, data not yet acked. Every
 * io_uring mode gets the same memory; a window of only 2 * DEPTH buffers
 * would measure the round trip of an ack instead of the cost of a send.
 */
#define BUF_BYTES (8ul << 20)
#define GENS 8192	/* buffers at most, so also generations in flight */

static unsigned long send_buffers(size_t size)
{
	const char *env = getenv("ZC_SEND_BUF_BYTES");
	unsigned long bytes = env ? strtoul(env, NULL, 0) : BUF_BYTES;
	unsigned long n = bytes / size;

	if (n < 2 * DEPTH)
		n = 2 * DEPTH;
	return n < GENS ? n : GENS;
}

/*
 * io_uring sends, DEPTH in flight, each from its own buffer; a buffer is
 * reused only after the notification covering it (per send, or per
 * generation of the slot).
 */
/*
 * Until the kernel holds none of the socket's data: for TCP, everything
 * sent was acknowledged; for UDP, every skb was freed by the device.
 */
static void drain(int fd)
{
	int outq = 1;

	for (int i = 0; i < 100000; i++) {
		if (ioctl(fd, SIOCOUTQ, &outq))
			die("SIOCOUTQ", -errno);
		if (!outq)
			return;
		usleep(100);
	}
	die("socket never drained", -ETIMEDOUT);
}

static bool marks;
static double section_t0, section_wall;

/*
 * The measured section: from the first send until the kernel holds none
 * of the data, without the setup (buffers, ring) or the teardown.
 */
static void section_start(void)
{
	if (marks)
		TCG_MARK(TCG_MARK_START);
	section_t0 = now();
}

static void section_stop(int fd)
{
	drain(fd);
	section_wall = now() - section_t0;
	if (marks)
		TCG_MARK(TCG_MARK_STOP);
}

#define FLUSH_UD (~0ull)

static void run_uring(int fd, size_t size, unsigned long count, int flush_every,
		      bool flush_op, bool fixed, struct stats *st)
{
	uint64_t tag = 1ull << 63;
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = 8 * DEPTH };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	unsigned long submitted = 0, done = 0, notified = 0;
	unsigned long nbuf = send_buffers(size);
	/* sends per generation of the slot, by generation number */
	unsigned int gen_size[GENS] = { 0 }, gen = 0;
	uint8_t *buf;
	int ret;

	ret = io_uring_queue_init_params(2 * DEPTH, &ring, &p);
	if (ret)
		die("io_uring_setup", ret);
	if (flush_every) {
		ret = zcuring_zc_slots_register(&ring, &tag, 1, 0);
		if (ret)
			die("register slots (kernel without the zcuring series?)", ret);
	}
	buf = mmap(NULL, nbuf * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap", -errno);
	memset(buf, 0x5a, nbuf * size);
	if (fixed) {
		struct iovec iov = { .iov_base = buf, .iov_len = nbuf * size };

		ret = io_uring_register_buffers(&ring, &iov, 1);
		if (ret)
			die("register buffers", ret);
	}

	section_start();
	while (notified < count) {
		/* buffers are busy until notified: at most 2 * DEPTH of them */
		while (submitted < count && submitted - done < DEPTH &&
		       submitted - notified < nbuf) {
			/* room for the send and the flush that may follow it */
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring), *fsqe;
			unsigned int flags = IORING_SEND_ZC_REPORT_USAGE;
			bool last = false;

			if (fixed)
				flags |= IORING_RECVSEND_FIXED_BUF;

			if (!sqe)
				break;
			/* a full TCP send buffer: io_uring retries, no short send */
			io_uring_prep_send_zc(sqe, fd, buf + (submitted % nbuf) * size,
					      size, MSG_WAITALL, flags);
			io_uring_sqe_set_data64(sqe, submitted);
			if (flush_every) {
				gen_size[gen % GENS]++;
				last = (submitted + 1) % flush_every == 0 ||
				       submitted + 1 == count;
				zcuring_sqe_set_zc_slot(sqe, 0, last && !flush_op);
			}
			if (last && flush_op) {
				fsqe = io_uring_get_sqe(&ring);
				if (!fsqe)
					die("SQ full", -EBUSY);
				zcuring_prep_send_zc_flush(fsqe, 0, 0);
				io_uring_sqe_set_data64(fsqe, FLUSH_UD);
				st->flushes++;
			}
			if (last)
				gen++;
			submitted++;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_enter", ret);
		while (!io_uring_peek_cqe(&ring, &cqe)) {
			struct io_uring_cqe c = *cqe;

			io_uring_cqe_seen(&ring, cqe);
			st->cqes++;
			if (c.user_data == FLUSH_UD) {
				/* the generation it closed: sends joined it first */
				if (c.res < 0)
					die("IORING_OP_SEND_ZC_FLUSH", c.res);
				continue;
			}
			if (!(c.flags & IORING_CQE_F_NOTIF)) {
				if (c.res != (int)size)
					die("send", c.res < 0 ? c.res : -EIO);
				done++;
				continue;
			}
			if (flush_every) {
				/* one notification for the sends of a generation */
				unsigned int g = c.res & ~IORING_NOTIF_USAGE_ZC_COPIED;
				unsigned int n = gen_size[g % GENS];

				gen_size[g % GENS] = 0;
				if (c.res & IORING_NOTIF_USAGE_ZC_COPIED)
					st->copied += n;
				notified += n;
			} else {
				if (c.res & IORING_NOTIF_USAGE_ZC_COPIED)
					st->copied++;
				notified++;
			}
		}
	}
	section_stop(fd);
	io_uring_queue_exit(&ring);
	munmap(buf, nbuf * size);
}

static void run_send(int fd, size_t size, unsigned long count)
{
	uint8_t *buf = malloc(size);

	memset(buf, 0x5a, size);
	section_start();
	for (unsigned long i = 0; i < count; i++)
		if (send(fd, buf, size, 0) != (ssize_t)size)
			die("send", -errno);
	section_stop(fd);
	free(buf);
}

/* A TCP receiver that discards everything, one child per connection. */
static int sink(const char *ns, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = zc_sockaddr(AF_INET, ip, port, &ss);
	int one = 1, lfd = zc_socket_in(ns, AF_INET, SOCK_STREAM);

	if (lfd < 0)
		die("socket", lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 16))
		die("listen", -errno);
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		static char buf[1 << 16];
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (fork() == 0) {
			zc_sockbufs(fd, 4 << 20);
			while (recv(fd, buf, sizeof(buf), 0) > 0)
				;
			_exit(0);
		}
		close(fd);
	}
}

/* A UDP receiver that discards everything. */
static int usink(const char *ns, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = zc_sockaddr(AF_INET, ip, port, &ss);
	int fd = zc_socket_in(ns, AF_INET, SOCK_DGRAM);
	static char buf[1 << 16];

	if (fd < 0)
		die("socket", fd);
	zc_sockbufs(fd, 4 << 20);
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind", -errno);
	while (recv(fd, buf, sizeof(buf), 0) >= 0 || errno == EINTR)
		;
	die("recv", -errno);
	return 1;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity", -errno);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct stats st = { 0 };
	bool flush_op = false, fixed;
	unsigned long count;
	int type, fd, opt, flush = 0;
	socklen_t len;
	size_t size;

	if (argc == 5 && !strcmp(argv[1], "sink"))
		return sink(strcmp(argv[2], "-") ? argv[2] : NULL, argv[3], atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "usink"))
		return usink(strcmp(argv[2], "-") ? argv[2] : NULL, argv[3], atoi(argv[4]));
	while ((opt = getopt(argc, argv, "mc:")) != -1) {
		switch (opt) {
		case 'm':
			marks = true;
			break;
		case 'c':
			pin(atoi(optarg));
			break;
		default:
			return 2;
		}
	}
	argv += optind - 1;
	argc -= optind - 1;
	if (argc != 8) {
		fprintf(stderr, "usage: send_bench [-m] [-c CPU] tcp|tcp-nic|udp|udp-nic|udp-dummy send|zc|slotN|slotopN SIZE COUNT NS DST_IP PORT\n");
		return 2;
	}
	/* "tcp-nic", "udp-dummy"...: the same protocols, named apart */
	type = !strncmp(argv[1], "tcp", 3) ? SOCK_STREAM : SOCK_DGRAM;
	size = strtoul(argv[3], NULL, 0);
	count = strtoul(argv[4], NULL, 0);
	/* MODE-fixed: sends from one registered buffer, no pinning a send */
	fixed = strlen(argv[2]) > 6 && !strcmp(argv[2] + strlen(argv[2]) - 6, "-fixed");
	if (!strncmp(argv[2], "slotop", 6)) {
		flush = atoi(argv[2] + 6);
		flush_op = true;
	} else if (!strncmp(argv[2], "slot", 4)) {
		flush = atoi(argv[2] + 4);
	} else if (strcmp(argv[2], "send") && strncmp(argv[2], "zc", 2)) {
		fprintf(stderr, "send_bench: unknown mode %s\n", argv[2]);
		return 2;
	}
	if (!strncmp(argv[2], "slot", 4) && flush <= 0) {
		fprintf(stderr, "send_bench: %s: N must be at least 1\n", argv[2]);
		return 2;
	}

	fd = zc_socket_in(strcmp(argv[5], "-") ? argv[5] : NULL, AF_INET, type);
	if (fd < 0)
		die("socket", fd);
	zc_sockbufs(fd, 4 << 20);
	len = zc_sockaddr(AF_INET, argv[6], atoi(argv[7]), &ss);
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect", -errno);
	if (!strcmp(argv[2], "send"))
		run_send(fd, size, count);
	else
		run_uring(fd, size, count, flush, flush_op, fixed, &st);
	printf("proto=%s mode=%s size=%zu sends=%lu wall_s=%.6f cqes=%lu copied=%lu flushes=%lu\n",
	       argv[1], argv[2], size, count, section_wall, st.cqes, st.copied, st.flushes);
	close(fd);
	return 0;
}
