// SPDX-License-Identifier: GPL-2.0
/*
 * Receive-side cost of one TCP stream over loopback, three ways:
 *   recv   recv(2) into a buffer of SIZE bytes
 *   mshot  io_uring multishot recv with a provided-buffer ring of SIZE-byte
 *          buffers
 *   zc     IORING_OP_RECV_ZC (device-less) into a registered pool, chunks
 *          handed back every SIZE bytes
 * A child process sends MIB MiB as fast as it can; the receiver reports
 * wall time and its own CPU time (user + system: with DEFER_TASKRUN the
 * kernel's receive work runs in the receiver's context in every mode).
 *
 *   recv_bench MODE SIZE MIB
 * prints one line: mode=... size=... bytes=... wall_s=... cpu_s=...
 */
#include <liburing.h>
#include <zcuring/zcrx.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

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

static pid_t sender(uint16_t port, uint64_t total)
{
	static uint8_t buf[1 << 16];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = port,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint64_t off = 0;
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		_exit(1);
	while (off < total) {
		size_t n = total - off < sizeof(buf) ? total - off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		w = send(fd, buf, n, 0);
		if (w <= 0)
			_exit(1);
		off += w;
	}
	close(fd);
	_exit(0);
}

static uint64_t run_recv(int fd, size_t size)
{
	uint8_t *buf = malloc(size);
	uint64_t got = 0;
	ssize_t n;

	while ((n = recv(fd, buf, size, 0)) > 0) {
		check(buf, n, got);
		got += n;
	}
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
	io_uring_queue_exit(&ring);
	munmap(bufs, NR_BUFS * size);
	munmap(br, NR_BUFS * sizeof(struct io_uring_buf));
	return got;
}

static uint64_t run_zc(int fd, size_t size, unsigned long *cqes)
{
	struct io_uring_params p = { .flags = RING_FLAGS | IORING_SETUP_CQE32 |
					      IORING_SETUP_CQSIZE,
				     .cq_entries = CQ_ENTRIES };
	size_t pool_len = size * 4 > (8 << 20) ? size * 4 : (8 << 20);
	struct io_uring_query_zcrx q;
	struct io_uring_zcrx_ifq_reg reg;
	struct zcrx_rq rq;
	struct io_uring ring;
	uint8_t *pool;
	void *rq_mem;
	size_t rq_len;
	uint64_t got = 0, since_return = 0;
	bool armed = false, done = false;
	int ret;

	ret = zcrx_query(&q);
	if (ret || !(q.register_flags & ZCRX_REG_NODEV))
		die("this kernel has no device-less zero-copy receive", ret ? ret : EOPNOTSUPP);
	ret = io_uring_queue_init_params(64, &ring, &p);
	if (ret)
		die("io_uring_queue_init", ret);
	rq_len = (zcrx_rq_bytes(&q, 4096) + 4095) & ~4095UL;
	pool = mmap(NULL, pool_len, PROT_READ | PROT_WRITE,
		    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	rq_mem = mmap(NULL, rq_len, PROT_READ | PROT_WRITE,
		      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (pool == MAP_FAILED || rq_mem == MAP_FAILED)
		die("mmap", errno);
	ret = zcrx_register_nodev(ring.ring_fd, pool, pool_len, rq_mem, rq_len,
				  4096, &reg, &rq);
	if (ret)
		die("register zcrx", ret);

	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		if (!armed) {
			io_uring_prep_recv_zc(get_sqe(&ring), fd, 0, reg.zcrx_id);
			armed = true;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("submit_and_wait", ret);
		io_uring_for_each_cqe(&ring, head, cqe) {
			n++;
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = zcrx_cqe(cqe)->off;

				check(pool + (off & ~IORING_ZCRX_AREA_MASK), cqe->res, got);
				got += cqe->res;
				/* the application is done with SIZE bytes at a time */
				if (!zcrx_rq_space(&rq)) {
					zcrx_rq_publish(&rq);
					zcrx_flush(ring.ring_fd, reg.zcrx_id);
				}
				zcrx_rq_return(&rq, off, cqe->res);
				since_return += cqe->res;
				if (since_return >= size) {
					zcrx_rq_publish(&rq);
					since_return = 0;
				}
				continue;
			}
			armed = false;
			if (cqe->res == 0)
				done = true;
			else if (cqe->res == -ENOMEM || cqe->res == -ENOSPC)
				zcrx_rq_publish(&rq);	/* and re-arm */
			else
				die("recv_zc", cqe->res);
		}
		io_uring_cq_advance(&ring, n);
		*cqes += n;
	}
	io_uring_queue_exit(&ring);
	munmap(pool, pool_len);
	munmap(rq_mem, rq_len);
	return got;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	unsigned long cqes = 0;
	double t0, c0, wall, cpu;
	int lfd, fd, st, one = 1;
	uint64_t total, got;
	size_t size;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: %s recv|mshot|zc SIZE MIB\n", argv[0]);
		return 2;
	}
	size = strtoul(argv[2], NULL, 0);
	total = strtoull(argv[3], NULL, 0) << 20;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("listen", errno);
	pid = sender(sin.sin_port, total);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", errno);

	t0 = now();
	c0 = cpu_seconds();
	if (!strcmp(argv[1], "recv"))
		got = run_recv(fd, size);
	else if (!strcmp(argv[1], "mshot"))
		got = run_mshot(fd, size, &cqes);
	else if (!strcmp(argv[1], "zc"))
		got = run_zc(fd, size, &cqes);
	else
		die("unknown mode", EINVAL);
	wall = now() - t0;
	cpu = cpu_seconds() - c0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("sender failed", EIO);
	if (got != total)
		die("short stream", EIO);
	printf("mode=%s size=%zu bytes=%llu wall_s=%.6f cpu_s=%.6f cqes=%lu\n",
	       argv[1], size, (unsigned long long)got, wall, cpu, cqes);
	return 0;
}
