// SPDX-License-Identifier: GPL-2.0
/*
 * Load generator for the echo servers (bench/echo, scripts/bench-echo).
 *
 *   echo_client --port P --conns N --msg 1024 --seconds S [--warmup W]
 *               [--signal-pid PID] [--tcg-mark]
 *
 * Opens N TCP connections to 127.0.0.1:P. Each one plays ping-pong: send
 * one message, read until as many bytes came back, compare every byte, next
 * message. Message k of connection c is a pattern of (c, k), so a reply
 * that is stale, from another connection or damaged does not compare equal.
 * One thread, one io_uring: the send and the recv of a message are
 * submitted together, all connections' operations batched per syscall.
 *
 * After W seconds of warm-up the measuring window of S seconds starts: at
 * its start SIGUSR1 and at its end SIGUSR2 go to PID (if given), so that
 * the server can count what it did in exactly the window; with --tcg-mark
 * the window also starts and stops with the tcg_insn plugin's markers
 * (bench/tcg-insn), for scripts/bench-echo-insn in a TCG guest. Prints
 *   conns=N msg=M requests=R seconds=T rps=X
 * and exits 1 on any verification error, connection error or if nothing
 * completed; 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "tcg_mark.h"

#define CQE_BATCH 256
#define MAX_CONNS 10000
#define MAX_MSG (1 << 20)

enum op_kind { OP_SEND, OP_RECV, OP_TIMER };

struct cconn;

struct op {
	enum op_kind kind;
	struct cconn *conn;
};

struct cconn {
	struct op send_op, recv_op;
	int fd;
	unsigned idx;
	uint64_t msgno;
	unsigned sent, got;
	bool send_done, recv_done;
	unsigned char *sbuf, *rbuf;
};

enum phase { WARMUP, MEASURE, DONE };

static struct io_uring ring;
static struct cconn *conns;
static unsigned n_conns, msg_len = 1024;
static enum phase phase;
static uint64_t requests;
static struct op timer_op = { .kind = OP_TIMER };
static struct __kernel_timespec timer_ts;
static struct timespec t_start, t_end;
static double measure_s = 5, warmup_s = 1;
static pid_t signal_pid;
static bool tcg_mark;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "echo_client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double ts_sec(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Message msgno of connection idx: 8 bytes at a time from a hash of both. */
static void fill_pattern(unsigned char *p, unsigned len, unsigned idx, uint64_t msgno)
{
	uint64_t seed = ((uint64_t)idx << 40) ^ (msgno * 0x9e3779b97f4a7c15ULL);
	unsigned i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = mix64(seed + i);

		memcpy(p + i, &w, 8);
	}
	if (i < len) {
		uint64_t w = mix64(seed + i);

		memcpy(p + i, &w, len - i);
	}
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	while (!sqe) {
		int ret = io_uring_submit(&ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			fail("io_uring_submit: %s", strerror(-ret));
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void arm_send(struct cconn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_send(sqe, c->fd, c->sbuf + c->sent, msg_len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->send_op);
}

static void arm_recv(struct cconn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->got, msg_len - c->got, 0);
	io_uring_sqe_set_data(sqe, &c->recv_op);
}

static void start_message(struct cconn *c)
{
	fill_pattern(c->sbuf, msg_len, c->idx, c->msgno);
	c->sent = c->got = 0;
	c->send_done = c->recv_done = false;
	arm_send(c);
	arm_recv(c);
}

/* Both halves of a round trip done: verify, count, next message. */
static void round_trip_done(struct cconn *c)
{
	if (memcmp(c->rbuf, c->sbuf, msg_len)) {
		unsigned i = 0;

		while (c->rbuf[i] == c->sbuf[i])
			i++;
		fail("verification error: connection %u message %llu byte %u: got 0x%02x, want 0x%02x",
		     c->idx, (unsigned long long)c->msgno, i, c->rbuf[i], c->sbuf[i]);
	}
	if (phase == MEASURE)
		requests++;
	c->msgno++;
	start_message(c);
}

static void on_send(struct cconn *c, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		arm_send(c);
		return;
	}
	if (res <= 0)
		fail("connection %u: send: %s", c->idx, res ? strerror(-res) : "sent nothing");
	c->sent += res;
	if (c->sent < msg_len) {
		arm_send(c);
		return;
	}
	c->send_done = true;
	if (c->recv_done)
		round_trip_done(c);
}

static void on_recv(struct cconn *c, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		arm_recv(c);
		return;
	}
	if (res == 0)
		fail("connection %u: server closed the connection", c->idx);
	if (res < 0)
		fail("connection %u: recv: %s", c->idx, strerror(-res));
	c->got += res;
	if (c->got < msg_len) {
		arm_recv(c);
		return;
	}
	c->recv_done = true;
	if (c->send_done)
		round_trip_done(c);
}

static void arm_timer(const struct timespec *from, double after_s)
{
	struct io_uring_sqe *sqe = get_sqe();
	long long ns = (long long)from->tv_sec * 1000000000LL + from->tv_nsec +
		       (long long)(after_s * 1e9);

	timer_ts.tv_sec = ns / 1000000000LL;
	timer_ts.tv_nsec = ns % 1000000000LL;
	io_uring_prep_timeout(sqe, &timer_ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data(sqe, &timer_op);
}

static void send_signal(int sig)
{
	if (signal_pid > 0 && kill(signal_pid, sig))
		fail("kill(%d, %s): %s", (int)signal_pid, strsignal(sig), strerror(errno));
}

static void start_measuring(void)
{
	send_signal(SIGUSR1);
	if (tcg_mark)
		TCG_MARK(TCG_MARK_START);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	phase = MEASURE;
	requests = 0;
	arm_timer(&t_start, measure_s);
}

static void on_timer(int res)
{
	if (res != -ETIME && res != 0)
		fail("timeout: %s", strerror(-res));
	if (phase == WARMUP) {
		start_measuring();
	} else if (phase == MEASURE) {
		clock_gettime(CLOCK_MONOTONIC, &t_end);
		if (tcg_mark)
			TCG_MARK(TCG_MARK_STOP);
		send_signal(SIGUSR2);
		phase = DONE;
	}
}

static int connect_one(const struct sockaddr_in *sin)
{
	struct timespec t0, now;
	int fd, one = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) { /* the server may still be starting: retry for 10 s */
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fail("socket: %s", strerror(errno));
		if (!connect(fd, (const struct sockaddr *)sin, sizeof(*sin)))
			break;
		if (errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR)
			fail("connect to port %d: %s", ntohs(sin->sin_port), strerror(errno));
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_sec(&now) - ts_sec(&t0) > 10)
			fail("connect to port %d: nobody listening after 10 s", ntohs(sin->sin_port));
		usleep(20000);
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		fail("TCP_NODELAY: %s", strerror(errno));
	return fd;
}

static void setup_ring(void)
{
	struct io_uring_params p;
	unsigned entries = 2 * n_conns + 2;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = 4 * entries;
	ret = io_uring_queue_init_params(entries, &ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 4 * entries;
		ret = io_uring_queue_init_params(entries, &ring, &p);
	}
	if (ret < 0)
		fail("io_uring_queue_init_params: %s", strerror(-ret));
}

static void usage(void)
{
	fprintf(stderr, "usage: echo_client --port P --conns N --msg BYTES --seconds S "
			"[--warmup W] [--signal-pid PID] [--tcg-mark]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "msg", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "signal-pid", required_argument, NULL, 'k' },
		{ "tcg-mark", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct io_uring_cqe *cqes[CQE_BATCH];
	struct timespec now;
	int port = -1, opt;
	long conns_arg = 1, msg_arg = 1024;
	unsigned i;
	double secs;

	while ((opt = getopt_long(argc, argv, "p:c:m:s:w:k:th", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			conns_arg = atol(optarg);
			break;
		case 'm':
			msg_arg = atol(optarg);
			break;
		case 's':
			measure_s = atof(optarg);
			break;
		case 'w':
			warmup_s = atof(optarg);
			break;
		case 'k':
			signal_pid = atoi(optarg);
			break;
		case 't':
			tcg_mark = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port <= 0 || port > 65535 || conns_arg < 1 ||
	    conns_arg > MAX_CONNS || msg_arg < 1 || msg_arg > MAX_MSG || !(measure_s > 0) ||
	    !(warmup_s >= 0))
		usage();
	n_conns = conns_arg;
	msg_len = msg_arg;
	signal(SIGPIPE, SIG_IGN);

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conns = calloc(n_conns, sizeof(*conns));
	if (!conns)
		fail("out of memory");
	for (i = 0; i < n_conns; i++) {
		struct cconn *c = &conns[i];

		c->idx = i;
		c->send_op = (struct op){ .kind = OP_SEND, .conn = c };
		c->recv_op = (struct op){ .kind = OP_RECV, .conn = c };
		c->sbuf = malloc(msg_len);
		c->rbuf = malloc(msg_len);
		if (!c->sbuf || !c->rbuf)
			fail("out of memory");
		c->fd = connect_one(&sin);
	}

	setup_ring();
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (warmup_s > 0) {
		phase = WARMUP;
		arm_timer(&now, warmup_s);
	} else {
		start_measuring();
	}
	for (i = 0; i < n_conns; i++)
		start_message(&conns[i]);

	while (phase != DONE) {
		unsigned n, j;
		int ret = io_uring_submit_and_wait(&ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			fail("io_uring_submit_and_wait: %s", strerror(-ret));
		do {
			n = io_uring_peek_batch_cqe(&ring, cqes, CQE_BATCH);
			for (j = 0; j < n && phase != DONE; j++) {
				struct op *op = io_uring_cqe_get_data(cqes[j]);

				switch (op->kind) {
				case OP_SEND:
					on_send(op->conn, cqes[j]->res);
					break;
				case OP_RECV:
					on_recv(op->conn, cqes[j]->res);
					break;
				case OP_TIMER:
					on_timer(cqes[j]->res);
					break;
				}
			}
			io_uring_cq_advance(&ring, n);
		} while (n == CQE_BATCH && phase != DONE);
	}

	secs = ts_sec(&t_end) - ts_sec(&t_start);
	printf("conns=%u msg=%u requests=%llu seconds=%.3f rps=%.0f\n", n_conns, msg_len,
	       (unsigned long long)requests, secs, requests / secs);
	fflush(stdout);
	io_uring_queue_exit(&ring);
	for (i = 0; i < n_conns; i++) {
		close(conns[i].fd);
		free(conns[i].sbuf);
		free(conns[i].rbuf);
	}
	free(conns);
	if (!requests)
		fail("no request completed in the measuring window");
	return 0;
}
