// SPDX-License-Identifier: GPL-2.0
/*
 * Receive-side cost of one TCP stream, by mode:
 *   recv    recv(2) into a buffer of SIZE bytes
 *   mshot   io_uring multishot recv with a provided-buffer ring of SIZE-byte
 *           buffers
 *   zc      IORING_OP_RECV_ZC, device-less (the kernel copies into the
 *           pool), chunks handed back every SIZE bytes
 *   zcdev   IORING_OP_RECV_ZC in device mode: the pool bound to receive
 *           queue 0 of the interface of -i, so that the NIC writes payload
 *           into it; chunks handed back every SIZE bytes
 *   memcpy  no network: copy MIB MiB in SIZE-byte memcpy() calls from an
 *           8 MiB buffer, the cost of a copy to calibrate the others with
 *   movsb   the same with "rep movsb", the instruction the kernel's copy
 *           to user space uses on a CPU with ERMS (copy_user_enhanced_
 *           fast_string), whatever glibc picks for SIZE
 * A child process sends MIB MiB as fast as it can (from its namespace -n
 * to the address -a, loopback by default); the receiver reports wall time,
 * its own CPU time (user + system: with DEFER_TASKRUN the kernel's receive
 * work runs in the receiver's context in every io_uring mode), and for
 * RECV_ZC the bytes the kernel delivered with and without a copy (the
 * ring's fdinfo).
 *
 *   recv_bench [-a ADDR] [-n NETNS] [-i IFNAME] [-c RXCPU,TXCPU] [-m]
 *              MODE SIZE MIB
 *     -c  pin the receiver and the sender to these CPUs
 *     -m  bracket the receiver's data phase (first byte to end of stream)
 *         with the tcg_insn plugin's start and stop markers
 *         (bench/tcg-insn): guest instructions by vCPU
 * prints one line: mode=... size=... bytes=... wall_s=... cpu_s=...
 * cqes=... zc_bytes=... copied_bytes=...
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <zcuring/zcrx.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>

#include "tcg_mark.h"

#define RING_FLAGS (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER)
#define CQ_ENTRIES 1024
#define NR_BUFS 64

static void die(const char *what, int err)
{
	fprintf(stderr, "recv_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* The stream's byte at offset off: cheap to make and to check. */
static inline uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 12));
}

/* Check the first and last byte of each piece received. */
static void check(const uint8_t *p, size_t len, uint64_t off)
{
	if (p[0] != pattern(off) || p[len - 1] != pattern(off + len - 1)) {
		fprintf(stderr, "recv_bench: wrong data at offset %llu\n",
			(unsigned long long)off);
		exit(1);
	}
}

/* The one request of a mode is re-armed only when the SQ is empty. */
static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		die("no SQE", EBUSY);
	return sqe;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* pattern() repeats every MiB: (off * 131) by 256 bytes, (off >> 12) by 1 MiB */
#define PATTERN_PERIOD (1u << 20)
#define SEND_MAX (1u << 16)


static bool marks;

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity", errno);
}

/*
 * The sender: from namespace @netns (NULL: this one) connect to @addr, wait
 * for go() on @go_pipe, and send @total bytes of the pattern, from a buffer made once, so that its
 * CPU goes to the stack and not to making the bytes.
 */
static pid_t sender(const struct sockaddr_in *addr, const char *netns,
		    int cpu, uint64_t total, int go_pipe[2])
{
	uint8_t *buf;
	uint64_t off = 0;
	pid_t pid = fork();
	int fd;
	char c;

	if (pid)
		return pid;
	close(go_pipe[1]);
	pin(cpu);
	if (netns) {
		char path[128];
		int nsfd;

		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET))
			_exit(3);
		close(nsfd);
	}
	buf = malloc(PATTERN_PERIOD + SEND_MAX);
	if (!buf)
		_exit(1);
	for (size_t i = 0; i < PATTERN_PERIOD + SEND_MAX; i++)
		buf[i] = pattern(i);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
		_exit(2);
	/* the receiver says when: its data phase starts with the first byte */
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(4);
	while (off < total) {
		size_t n = total - off < SEND_MAX ? total - off : SEND_MAX;
		ssize_t w = send(fd, buf + off % PATTERN_PERIOD, n, 0);

		if (w <= 0)
			_exit(1);
		off += w;
	}
	close(fd);
	_exit(0);
}

/* The sender waits for this before it sends: the data phase starts here. */
static int go_fd = -1;

static void go(void)
{
	if (marks)
		TCG_MARK(TCG_MARK_START);
	if (write(go_fd, "g", 1) != 1)
		die("start the sender", errno);
	close(go_fd);
}

static void stop(void)
{
	if (marks)
		TCG_MARK(TCG_MARK_STOP);
}

static uint64_t run_recv(int fd, size_t size)
{
	uint8_t *buf = malloc(size);
	uint64_t got = 0;
	ssize_t n;

	if (!buf)
		die("malloc", ENOMEM);
	go();
	while ((n = recv(fd, buf, size, 0)) > 0) {
		check(buf, n, got);
		got += n;
	}
	stop();
	if (n < 0)
		die("recv", errno);
	free(buf);
	return got;
}

static uint64_t run_mshot(int fd, size_t size, unsigned long *cqes)
{
	struct io_uring_params p = { .flags = RING_FLAGS | IORING_SETUP_CQSIZE,
				     .cq_entries = CQ_ENTRIES };
	struct io_uring_buf_reg reg = { .ring_entries = NR_BUFS, .bgid = 0 };
	struct io_uring_buf_ring *br;
	struct io_uring ring;
	uint8_t *bufs;
	uint64_t got = 0;
	bool armed = false, done = false;
	int ret;

	ret = io_uring_queue_init_params(64, &ring, &p);
	if (ret)
		die("io_uring_queue_init", ret);
	br = mmap(NULL, NR_BUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = mmap(NULL, NR_BUFS * size, PROT_READ | PROT_WRITE,
		    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED || bufs == MAP_FAILED)
		die("mmap", errno);
	reg.ring_addr = (uintptr_t)br;
	ret = io_uring_register_buf_ring(&ring, &reg, 0);
	if (ret)
		die("register_buf_ring", ret);
	io_uring_buf_ring_init(br);
	for (int i = 0; i < NR_BUFS; i++)
		io_uring_buf_ring_add(br, bufs + i * size, size, i,
				      io_uring_buf_ring_mask(NR_BUFS), i);
	io_uring_buf_ring_advance(br, NR_BUFS);

	go();
	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0, added = 0;

		if (!armed) {
			struct io_uring_sqe *sqe = get_sqe(&ring);

			io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
			armed = true;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("submit_and_wait", ret);
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			if (cqe->res > 0) {
				unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

				check(bufs + bid * size, cqe->res, got);
				got += cqe->res;
				io_uring_buf_ring_add(br, bufs + bid * size, size, bid,
						      io_uring_buf_ring_mask(NR_BUFS),
						      added++);
			} else if (cqe->res == 0) {
				done = true;
			} else if (cqe->res != -ENOBUFS) {
				die("multishot recv", cqe->res);
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				armed = false;
		}
		io_uring_cq_advance(&ring, n);
		io_uring_buf_ring_advance(br, added);
		*cqes += n;
	}
	stop();
	io_uring_queue_exit(&ring);
	munmap(bufs, NR_BUFS * size);
	munmap(br, NR_BUFS * sizeof(struct io_uring_buf));
	return got;
}

/* A RECV_ZC instance: set up before the connection (device mode binds the NIC). */
struct zc {
	struct io_uring ring;
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_zcrx_rq rq;
	uint8_t *pool;
	void *rq_mem;
	size_t pool_len, rq_len;
};

/*
 * Binding and unbinding reset the NIC: wait (up to 10 s) until the link
 * is back, so that no run starts on a link that is still down.
 */
static void dev_wait_carrier(const char *ifname)
{
	char path[128], c = '0';

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			c = (char)fgetc(f);
			fclose(f);
		}
		if (c == '1')
			return;
		usleep(10000);
	}
	die("the link did not come back", ETIMEDOUT);
}

/*
 * A ring's exit unbinds its pool from the NIC asynchronously. While bound
 * the driver refuses ring changes with -EBUSY: set the ring as it is until
 * that stops (up to 10 s), then wait for the link, so that the next run
 * neither finds the queue taken nor sees the link reset under it.
 */
static void dev_wait_unbound(const char *ifname)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };
	struct ifreq ifr = { .ifr_data = (void *)&rp };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), i;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr))
		die("ETHTOOL_GRINGPARAM", errno);
	rp.cmd = ETHTOOL_SRINGPARAM;
	for (i = 0; i < 1000 && ioctl(fd, SIOCETHTOOL, &ifr) && errno == EBUSY; i++)
		usleep(10000);
	if (i == 1000)
		die("the NIC stayed bound", ETIMEDOUT);
	close(fd);
	dev_wait_carrier(ifname);
}

static void zc_setup(struct zc *z, size_t size, unsigned int if_idx)
{
	struct io_uring_params p = { .flags = RING_FLAGS | IORING_SETUP_CQE32 |
					      IORING_SETUP_CQSIZE,
				     .cq_entries = CQ_ENTRIES };
	struct io_uring_query_zcrx q;
	int ret;

	ret = zcuring_zcrx_query(&q);
	if (ret)
		die("this kernel has no zero-copy receive", ret);
	if (!if_idx && !(q.register_flags & ZCRX_REG_NODEV))
		die("this kernel has no device-less zero-copy receive", EOPNOTSUPP);
	ret = io_uring_queue_init_params(64, &z->ring, &p);
	if (ret)
		die("io_uring_queue_init", ret);
	z->pool_len = size * 4 > (8 << 20) ? size * 4 : (8 << 20);
	z->rq_len = (zcuring_zcrx_rq_bytes(&q, 4096) + 4095) & ~4095UL;
	z->pool = mmap(NULL, z->pool_len, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	z->rq_mem = mmap(NULL, z->rq_len, PROT_READ | PROT_WRITE,
			 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (z->pool == MAP_FAILED || z->rq_mem == MAP_FAILED)
		die("mmap", errno);
	/* the forked sender needs no copy of the pinned pool */
	if (madvise(z->pool, z->pool_len, MADV_DONTFORK))
		die("madvise", errno);
	ret = zcuring_zcrx_register(&z->ring, if_idx, 0, z->pool, z->pool_len,
				 z->rq_mem, z->rq_len, 4096, &z->reg, &z->rq);
	if (ret == -EEXIST)
		die("the queue is bound to another ring", EEXIST);
	if (ret)
		die(if_idx ? "register zcrx on the device" : "register zcrx", ret);
}

/* The instance's bytes delivered without and with a copy (ring fdinfo). */
static void zc_counts(struct zc *z, uint64_t *zc, uint64_t *copied)
{
	char path[64], line[256];
	FILE *f;

	*zc = *copied = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", z->ring.ring_fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		unsigned int id;
		char *p = strstr(line, "bytes_zc ");

		if (p && sscanf(line, " %u:", &id) == 1 && id == z->reg.zcrx_id &&
		    sscanf(p, "bytes_zc %llu bytes_copied %llu", &a, &b) == 2) {
			*zc = a;
			*copied = b;
		}
	}
	fclose(f);
}

static uint64_t run_zc(struct zc *z, int fd, size_t size, unsigned long *cqes)
{
	struct io_uring *ring = &z->ring;
	uint64_t got = 0, since_return = 0;
	bool armed = false, done = false;
	int ret;

	go();
	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		if (!armed) {
			zcuring_prep_recv_zc(get_sqe(ring), fd, 0, z->reg.zcrx_id);
			armed = true;
		}
		ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("submit_and_wait", ret);
		io_uring_for_each_cqe(ring, head, cqe) {
			n++;
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = zcuring_zcrx_cqe(cqe)->off;

				check(z->pool + (off & ~IORING_ZCRX_AREA_MASK), cqe->res, got);
				got += cqe->res;
				/* the application is done with SIZE bytes at a time */
				if (!zcuring_zcrx_rq_space(&z->rq)) {
					zcuring_zcrx_rq_publish(&z->rq);
					zcuring_zcrx_flush(ring, z->reg.zcrx_id);
				}
				zcuring_zcrx_rq_return(&z->rq, off, cqe->res);
				since_return += cqe->res;
				if (since_return >= size) {
					zcuring_zcrx_rq_publish(&z->rq);
					since_return = 0;
				}
				continue;
			}
			armed = false;
			if (cqe->res == 0)
				done = true;
			else if (cqe->res == -ENOMEM || cqe->res == -ENOSPC)
				zcuring_zcrx_rq_publish(&z->rq);	/* and re-arm */
			else
				die("recv_zc", cqe->res);
		}
		io_uring_cq_advance(ring, n);
		*cqes += n;
	}
	stop();
	return got;
}

static void zc_teardown(struct zc *z)
{
	io_uring_queue_exit(&z->ring);
	munmap(z->pool, z->pool_len);
	munmap(z->rq_mem, z->rq_len);
}

static void copy_movsb(void *dst, const void *src, size_t n)
{
#ifdef __x86_64__
	asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
#else
	memcpy(dst, src, n);
#endif
}

/* The calibration: MIB MiB copied SIZE bytes at a time, no network. */
static uint64_t run_memcpy(size_t size, uint64_t total, bool movsb)
{
	const size_t src_len = 8 << 20;
	uint8_t *src = malloc(src_len), *dst = malloc(size);
	uint64_t done = 0, off = 0;

	if (!src || !dst || size > src_len)
		die("memcpy buffers", ENOMEM);
	for (size_t i = 0; i < src_len; i++)
		src[i] = pattern(i);
	memset(dst, 0, size);
	if (marks)
		TCG_MARK(TCG_MARK_START);
	while (done < total) {
		size_t n = total - done < size ? total - done : size;

		if (off + n > src_len)
			off = 0;
		if (movsb)
			copy_movsb(dst, src + off, n);
		else
			memcpy(dst, src + off, n);
		/* keep the copy: its result is used */
		asm volatile("" : : "r"(dst) : "memory");
		check(dst, n, off);
		off += n;
		done += n;
	}
	if (marks)
		TCG_MARK(TCG_MARK_STOP);
	free(src);
	free(dst);
	return done;
}

static void usage(const char *me)
{
	fprintf(stderr, "usage: %s [-a ADDR] [-n NETNS] [-i IFNAME] [-c RXCPU,TXCPU] [-m] recv|mshot|zc|zcdev|memcpy|movsb SIZE MIB\n",
		me);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	const char *netns = NULL, *ifname = NULL, *mode;
	int lfd, fd = -1, st, one = 1, rxcpu = -1, txcpu = -1, go_pipe[2], opt;
	unsigned long cqes = 0;
	uint64_t total, got, zcb = 0, cpb = 0;
	unsigned int if_idx = 0;
	double t0, c0, wall, cpu;
	struct zc z;
	size_t size;
	pid_t pid = 0;

	while ((opt = getopt(argc, argv, "a:n:i:c:m")) != -1) {
		switch (opt) {
		case 'a':
			if (inet_pton(AF_INET, optarg, &sin.sin_addr) != 1)
				usage(argv[0]);
			break;
		case 'n':
			netns = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &rxcpu, &txcpu) != 2)
				usage(argv[0]);
			break;
		case 'm':
			marks = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (argc - optind != 3)
		usage(argv[0]);
	mode = argv[optind];
	size = strtoul(argv[optind + 1], NULL, 0);
	total = strtoull(argv[optind + 2], NULL, 0) << 20;
	if (!size || !total)
		usage(argv[0]);
	pin(rxcpu);

	if (!strcmp(mode, "memcpy") || !strcmp(mode, "movsb")) {
		t0 = now();
		c0 = cpu_seconds();
		got = run_memcpy(size, total, mode[0] == 'm' && mode[1] == 'o');
		wall = now() - t0;
		cpu = cpu_seconds() - c0;
		goto print;
	}
	if (!strcmp(mode, "zcdev")) {
		if (!ifname || !(if_idx = if_nametoindex(ifname)))
			die("zcdev needs the receiving interface (-i)", ENODEV);
		dev_wait_unbound(ifname);
		zc_setup(&z, size, if_idx);
		dev_wait_carrier(ifname);
	} else if (!strcmp(mode, "zc")) {
		zc_setup(&z, size, 0);
	} else if (strcmp(mode, "recv") && strcmp(mode, "mshot")) {
		usage(argv[0]);
	}

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("listen", errno);
	if (pipe2(go_pipe, O_CLOEXEC))
		die("pipe", errno);
	pid = sender(&sin, netns, txcpu, total, go_pipe);
	if (pid < 0)
		die("fork", errno);
	close(go_pipe[0]);
	go_fd = go_pipe[1];
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", errno);
	close(lfd);

	t0 = now();
	c0 = cpu_seconds();
	if (!strcmp(mode, "recv"))
		got = run_recv(fd, size);
	else if (!strcmp(mode, "mshot"))
		got = run_mshot(fd, size, &cqes);
	else
		got = run_zc(&z, fd, size, &cqes);
	wall = now() - t0;
	cpu = cpu_seconds() - c0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("sender failed", EIO);
	if (if_idx || !strcmp(mode, "zc")) {
		zc_counts(&z, &zcb, &cpb);
		zc_teardown(&z);
	}
	if (if_idx)
		dev_wait_unbound(ifname);
	close(fd);
	if (got != total)
		die("short stream", EIO);
	goto print;
print:
	printf("mode=%s size=%zu bytes=%llu wall_s=%.6f cpu_s=%.6f cqes=%lu zc_bytes=%llu copied_bytes=%llu\n",
	       mode, size, (unsigned long long)got, wall, cpu, cqes,
	       (unsigned long long)zcb, (unsigned long long)cpb);
	return 0;
}
