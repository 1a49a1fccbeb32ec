// SPDX-License-Identifier: GPL-2.0
/*
 * Send-side cost of small zero-copy sends, four ways:
 *   send    send(2)
 *   zc      IORING_OP_SEND_ZC with a notification per send
 *   slot8   IORING_OP_SEND_ZC on a notification slot, flushed every 8 sends
 *   slot32  ... every 32 sends
 * over TCP (to a receiver that discards, in another namespace) or UDP (to
 * a dummy device, which frees skbs at transmit: nothing is copied). All
 * io_uring modes keep DEPTH sends in flight, cycle through the same 8 MiB
 * of send buffers (send_buffers()) and ask for IORING_SEND_ZC_REPORT_USAGE.
 *
 *   send_bench tcp|udp MODE SIZE COUNT NS DST_IP PORT
 * prints one line: proto=... mode=... size=... sends=... wall_s=...
 *                  cqes=... copied=...
 *   send_bench sink NS IP PORT
 * accepts TCP connections in namespace NS ("-": the current one) and
 * discards what they bring.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "lib/uring.h"
#include "lib/net.h"

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
static void run_uring(int fd, size_t size, unsigned long count, int flush_every,
		      struct stats *st)
{
	uint64_t tag = 1ull << 63;
	struct zc_ring ring;
	struct io_uring_cqe cqe;
	unsigned long submitted = 0, done = 0, notified = 0;
	unsigned long nbuf = send_buffers(size);
	/* sends per generation of the slot, by generation number */
	unsigned int gen_size[GENS] = { 0 }, gen = 0;
	uint8_t *buf;
	int ret;

	ret = zc_ring_init(&ring, 2 * DEPTH, 0, 8 * DEPTH);
	if (ret)
		die("io_uring_setup", ret);
	if (flush_every) {
		struct io_uring_send_zc_slots_reg reg = { .tags = (uintptr_t)&tag, .nr = 1 };

		ret = zc_sys_register(ring.fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);
		if (ret)
			die("register slots (kernel without the zcuring series?)", ret);
	}
	buf = mmap(NULL, nbuf * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap", -errno);
	memset(buf, 0x5a, nbuf * size);

	while (notified < count) {
		/* buffers are busy until notified: at most 2 * DEPTH of them */
		while (submitted < count && submitted - done < DEPTH &&
		       submitted - notified < nbuf) {
			struct io_uring_sqe *sqe = zc_get_sqe(&ring);
			uint16_t flags = IORING_SEND_ZC_REPORT_USAGE;

			if (!sqe)
				break;
			if (flush_every) {
				flags |= IORING_SEND_ZC_SLOT;
				gen_size[gen % GENS]++;
				if ((submitted + 1) % flush_every == 0 || submitted + 1 == count) {
					flags |= IORING_SEND_ZC_SLOT_FLUSH;
					gen++;
				}
			}
			zc_prep_send_zc(sqe, fd, buf + (submitted % nbuf) * size,
					size, flags, submitted);
			/* a full TCP send buffer: io_uring retries, no short send */
			sqe->msg_flags = MSG_WAITALL;
			submitted++;
		}
		ret = zc_submit_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_enter", ret);
		while (zc_peek_cqe(&ring)) {
			ret = zc_wait_cqe(&ring, &cqe, NULL);
			st->cqes++;
			if (!(cqe.flags & IORING_CQE_F_NOTIF)) {
				if (cqe.res != (int)size)
					die("send", cqe.res < 0 ? cqe.res : -EIO);
				done++;
				continue;
			}
			if (flush_every) {
				/* one notification for the sends of a generation */
				unsigned int g = cqe.res & ~IORING_NOTIF_USAGE_ZC_COPIED;
				unsigned int n = gen_size[g % GENS];

				gen_size[g % GENS] = 0;
				if (cqe.res & IORING_NOTIF_USAGE_ZC_COPIED)
					st->copied += n;
				notified += n;
			} else {
				if (cqe.res & IORING_NOTIF_USAGE_ZC_COPIED)
					st->copied++;
				notified++;
			}
		}
	}
	zc_ring_exit(&ring);
	munmap(buf, nbuf * size);
}

static void run_send(int fd, size_t size, unsigned long count)
{
	uint8_t *buf = malloc(size);

	memset(buf, 0x5a, size);
	for (unsigned long i = 0; i < count; i++)
		if (send(fd, buf, size, 0) != (ssize_t)size)
			die("send", -errno);
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

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct stats st = { 0 };
	unsigned long count;
	int type, fd, flush = 0;
	socklen_t len;
	double t0, wall;
	size_t size;

	if (argc == 5 && !strcmp(argv[1], "sink"))
		return sink(strcmp(argv[2], "-") ? argv[2] : NULL, argv[3], atoi(argv[4]));
	if (argc != 8) {
		fprintf(stderr, "usage: %s tcp|tcp-nic|udp send|zc|slot8|slot32 SIZE COUNT NS DST_IP PORT\n",
			argv[0]);
		return 2;
	}
	/* "tcp-nic" is TCP too, named apart in the results */
	type = !strncmp(argv[1], "tcp", 3) ? SOCK_STREAM : SOCK_DGRAM;
	size = strtoul(argv[3], NULL, 0);
	count = strtoul(argv[4], NULL, 0);
	fd = zc_socket_in(strcmp(argv[5], "-") ? argv[5] : NULL, AF_INET, type);
	if (fd < 0)
		die("socket", fd);
	zc_sockbufs(fd, 4 << 20);
	len = zc_sockaddr(AF_INET, argv[6], atoi(argv[7]), &ss);
	if (connect(fd, (struct sockaddr *)&ss, len))
		die("connect", -errno);
	if (!strncmp(argv[2], "slot", 4))
		flush = atoi(argv[2] + 4);

	t0 = now();
	if (!strcmp(argv[2], "send"))
		run_send(fd, size, count);
	else
		run_uring(fd, size, count, flush, &st);
	wall = now() - t0;
	printf("proto=%s mode=%s size=%zu sends=%lu wall_s=%.6f cqes=%lu copied=%lu\n",
	       argv[1], argv[2], size, count, wall, st.cqes, st.copied);
	close(fd);
	return 0;
}
