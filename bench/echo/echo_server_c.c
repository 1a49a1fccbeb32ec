// SPDX-License-Identifier: GPL-2.0
/*
 * Plain-C liburing echo server: the baseline for the C++ coroutine echo
 * server (cxx/examples/echo_server.cpp), with the same structure.
 *
 *   One thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN when the kernel has
 *   them), 256 SQ entries, 4096 CQ entries. One single-shot accept
 *   outstanding, re-armed after each accept. Per connection a struct with a
 *   4 KiB buffer: recv -> send what came (looping until all is sent) -> recv
 *   again; close on EOF or error. Submission through
 *   io_uring_submit_and_wait(ring, 1); completions reaped in batches
 *   (io_uring_peek_batch_cqe + io_uring_cq_advance). user_data points at a
 *   per-operation context. No allocation per operation: one per connection.
 *
 *   echo_server_c --port P [--addr 127.0.0.1]
 *
 * SIGTERM / SIGINT: close everything and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SQ_ENTRIES 256
#define CQ_ENTRIES 4096
#define CQE_BATCH 256
#define BUF_SIZE 4096

enum op_kind { OP_ACCEPT, OP_RECV, OP_SEND };

struct conn;

/* What user_data points at: one per outstanding operation. */
struct op {
	enum op_kind kind;
	struct conn *conn; /* NULL for the accept */
};

struct conn {
	struct op op; /* a connection has one operation in flight at a time */
	int fd;
	unsigned len;  /* bytes of buf to echo */
	unsigned sent; /* of which already sent */
	struct conn *prev, *next;
	unsigned char buf[BUF_SIZE];
};

static volatile sig_atomic_t stop;
static struct io_uring ring;
static int listen_fd;
static struct op accept_op = { .kind = OP_ACCEPT };
static struct conn conns = { .prev = &conns, .next = &conns }; /* list head */
static unsigned long n_conns, n_accepts;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "echo_server_c: %s: %s\n", what, strerror(err));
	exit(1);
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	while (!sqe) { /* SQ full: push what is queued and retry */
		int ret = io_uring_submit(&ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			die("io_uring_submit", -ret);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_accept(sqe, listen_fd, NULL, NULL, 0);
	io_uring_sqe_set_data(sqe, &accept_op);
}

static void arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	c->op.kind = OP_RECV;
	io_uring_prep_recv(sqe, c->fd, c->buf, BUF_SIZE, 0);
	io_uring_sqe_set_data(sqe, &c->op);
}

static void arm_send(struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe();

	c->op.kind = OP_SEND;
	io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->op);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	n_conns--;
	free(c);
}

static void on_accept(int res)
{
	struct conn *c;

	if (res < 0) {
		/* Transient (peer gone before accept, out of fds): keep serving. */
		if (res != -ECONNABORTED && res != -EINTR && res != -EMFILE &&
		    res != -ENFILE && res != -ENOBUFS && res != -ENOMEM && res != -EAGAIN)
			die("accept", -res);
		arm_accept();
		return;
	}
	arm_accept();
	c = malloc(sizeof(*c));
	if (!c) {
		close(res);
		return;
	}
	c->op.conn = c;
	c->fd = res;
	c->len = c->sent = 0;
	c->next = conns.next;
	c->prev = &conns;
	conns.next->prev = c;
	conns.next = c;
	n_conns++;
	n_accepts++;
	arm_recv(c);
}

static void on_recv(struct conn *c, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		arm_recv(c);
		return;
	}
	if (res <= 0) { /* EOF or error */
		conn_close(c);
		return;
	}
	c->len = res;
	c->sent = 0;
	arm_send(c);
}

static void on_send(struct conn *c, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		arm_send(c);
		return;
	}
	if (res <= 0) {
		conn_close(c);
		return;
	}
	c->sent += res;
	if (c->sent < c->len)
		arm_send(c);
	else
		arm_recv(c);
}

static void handle(struct io_uring_cqe *cqe)
{
	struct op *op = io_uring_cqe_get_data(cqe);

	switch (op->kind) {
	case OP_ACCEPT:
		on_accept(cqe->res);
		break;
	case OP_RECV:
		on_recv(op->conn, cqe->res);
		break;
	case OP_SEND:
		on_send(op->conn, cqe->res);
		break;
	}
}

static void setup_ring(void)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = CQ_ENTRIES;
	ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
	if (ret == -EINVAL) { /* kernel older than 6.1: without the two flags */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_ENTRIES;
		ret = io_uring_queue_init_params(SQ_ENTRIES, &ring, &p);
	}
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
}

static void setup_listener(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "echo_server_c: bad address %s\n", addr);
		exit(2);
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket", errno);
	if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR", errno);
	if (bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("bind", errno);
	if (listen(listen_fd, 4096))
		die("listen", errno);
}

static void usage(void)
{
	fprintf(stderr, "usage: echo_server_c --port P [--addr 127.0.0.1]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct io_uring_cqe *cqes[CQE_BATCH];
	const char *addr = "127.0.0.1";
	struct sigaction sa;
	int port = -1, c;

	while ((c = getopt_long(argc, argv, "p:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'a':
			addr = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port < 0 || port > 65535)
		usage();

	/* No SA_RESTART: a signal ends the wait in io_uring_enter with -EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	setup_listener(addr, port);
	setup_ring();
	arm_accept();

	while (!stop) {
		unsigned n, i;
		int ret = io_uring_submit_and_wait(&ring, 1);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			die("io_uring_submit_and_wait", -ret);
		do {
			n = io_uring_peek_batch_cqe(&ring, cqes, CQE_BATCH);
			for (i = 0; i < n; i++)
				handle(cqes[i]);
			io_uring_cq_advance(&ring, n);
		} while (n == CQE_BATCH);
	}

	/* Cancels what is in flight; then nothing references the buffers. */
	io_uring_queue_exit(&ring);
	while (conns.next != &conns)
		conn_close(conns.next);
	close(listen_fd);
	fprintf(stderr, "echo_server_c: exit, %lu connections accepted\n", n_accepts);
	return 0;
}
