// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_OP_RECV_ZC under load, device-less mode.
 *
 * many_connections_one_pool: 1,000 TCP connections (and 10 more) whose
 * senders live in zc-a, driven by forked processes with non-blocking
 * writes and epoll, all received in zc-b by multishot RECV_ZC on one ring
 * into one pool small enough that streams starve and are re-armed. Every
 * byte of every connection is checked against its own pattern, every CQE
 * against the ABI and against the chunks the application holds, and every
 * stream ends with res 0. Runs alternate between the 10 connections and
 * the 1,000, each run carrying the same bytes; 1,000 connections must
 * reach 0.9x the aggregate throughput of 10 (best of three each).
 *
 * cq_overflow_storm_loses_nothing: a CQ of 8 entries, several streams and
 * an application that reaps slower than data arrives: the CQ overflows
 * again and again, requests end with -ENOSPC and are re-armed, and still
 * every byte arrives in order, every stream ends at EOF, no CQE is
 * dropped, and afterwards a new stream gets the whole pool.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "lib/net.h"
#include "lib/zcrx.h"

#define SEED 0x10adULL

/* ---- the patterns ------------------------------------------------------------ */

/*
 * Every connection sends its own pattern in every run: the bytes of one
 * long table of zc_pattern_byte(SEED, i) (no short period), starting at a
 * place chosen by the connection and the run, so that bytes delivered to
 * the wrong stream or at the wrong offset do not match. Senders write
 * straight from the table and the receiver compares with memcmp():
 * neither spends the measured time computing patterns. The table repeats
 * its first PAT_PAD bytes after PAT_LEN, so a read of up to PAT_PAD bytes
 * never wraps.
 */
#define PAT_LEN ((4u << 20) + 4099)	/* longer than any stream's run */
#define PAT_PAD (64u << 10)
#define WMAX (64u << 10)		/* a sender's largest write */

static uint8_t *pat;

static void pat_init(void)
{
	if (pat)
		return;
	pat = malloc(PAT_LEN + PAT_PAD);
	if (!pat)
		return;
	zc_pattern_fill(pat, PAT_LEN, SEED, 0);
	memcpy(pat + PAT_LEN, pat, PAT_PAD);
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ x >> 27) * 0x94d049bb133111ebull;
	return x ^ x >> 31;
}

static const uint8_t *pat_at(uint32_t base, uint64_t off)
{
	return pat + (base + off) % PAT_LEN;
}

/*
 * What one run sends: connections [lo, hi) share bytes between them
 * (nearly evenly), connection i starting its pattern at base(seed, i).
 */
struct run_plan {
	unsigned int lo, hi;
	uint64_t bytes, seed;
};

static uint64_t plan_total(const struct run_plan *p, unsigned int i)
{
	unsigned int n = p->hi - p->lo, k = i - p->lo;

	return p->bytes / n + (k < p->bytes % n);
}

static uint32_t plan_base(const struct run_plan *p, unsigned int i)
{
	return mix64(p->seed * 1000003 + i) % PAT_LEN;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- connections --------------------------------------------------------------- */

/* Enter network namespace ns; *back gets the current one. 0 or -errno. */
static int netns_enter(const char *ns, int *back)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0 || setns(fd, CLONE_NEWNET))
		ret = -errno;
	close(fd);
	if (ret && *back >= 0)
		close(*back);
	return ret;
}

static void netns_leave(int back)
{
	if (setns(back, CLONE_NEWNET)) {
		perror("setns back");
		exit(1);
	}
	close(back);
}

/*
 * n TCP connections over veth, set up as zc_pair() sets up one: tx[i] in
 * ZC_NS_A (TCP_NODELAY), rx[i] its peer in ZC_NS_B, ZC_SOCKBUF buffers.
 * One listener, the connects one after another, then the accepts, matched
 * by port. Returns 0 or -errno (and then nothing is left open).
 */
static int open_conns(unsigned int n, int *tx, int *rx)
{
	static int by_port[65536];
	struct sockaddr_storage ss;
	socklen_t len = zc_sockaddr(AF_INET, ZC_ADDR4_B, 0, &ss);
	int lfd, back = -1, ret = 0, one = 1;
	unsigned int i;

	for (i = 0; i < n; i++)
		tx[i] = rx[i] = -1;
	lfd = zc_socket_in(ZC_NS_B, AF_INET, SOCK_STREAM);
	if (lfd < 0)
		return lfd;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	zc_sockbufs(lfd, ZC_SOCKBUF);
	if (bind(lfd, (struct sockaddr *)&ss, len) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) ||
	    listen(lfd, n + 16)) {
		ret = -errno;
		goto out;
	}
	ret = netns_enter(ZC_NS_A, &back);
	if (ret)
		goto out;
	for (i = 0; i < n; i++) {
		tx[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (tx[i] < 0) {
			ret = -errno;
			break;
		}
		zc_sockbufs(tx[i], ZC_SOCKBUF);
		setsockopt(tx[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	netns_leave(back);
	if (ret)
		goto out;
	for (i = 0; i < n; i++) {
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);

		if (connect(tx[i], (struct sockaddr *)&ss, len) ||
		    getsockname(tx[i], (struct sockaddr *)&me, &ml)) {
			ret = -errno;
			goto out;
		}
		by_port[ntohs(me.sin_port)] = i;
	}
	for (unsigned int got = 0; got < n; got++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);

		if (fd < 0) {
			ret = -errno;
			goto out;
		}
		i = by_port[ntohs(peer.sin_port)];
		if (i >= n || rx[i] >= 0) {
			close(fd);
			ret = -EPROTO;
			goto out;
		}
		rx[i] = fd;
	}
out:
	close(lfd);
	if (ret)
		for (i = 0; i < n; i++) {
			if (tx[i] >= 0)
				close(tx[i]);
			if (rx[i] >= 0)
				close(rx[i]);
			tx[i] = rx[i] = -1;
		}
	return ret;
}

/* ---- senders: forked processes, non-blocking writes, epoll ---------------------- */

struct txconn {
	int fd;
	unsigned int id;	/* the connection's index */
	uint32_t base;
	uint64_t total, sent;
};

/*
 * A sender process: it owns connections c[0..n) and obeys one command
 * byte at a time on ctl: '0' + r sends run r of plan[] on those of its
 * connections that take part in it (all at once, non-blocking writes
 * wherever epoll says there is room), 'f' shuts down the sending side of
 * all of them. EOF on ctl ends the process: exit status 0 if everything
 * was sent and shut down, otherwise where it failed.
 */
static void __attribute__((noreturn))
sender_main(struct txconn *c, unsigned int n, const struct run_plan *plan,
	    unsigned int nplan, int ctl)
{
	struct epoll_event ev, evs[128];
	bool finished = false;
	int ep, k;
	char cmd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		_exit(2);
	for (unsigned int i = 0; i < n; i++)
		fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		const struct run_plan *p;
		unsigned int left = 0;
		ssize_t r = read(ctl, &cmd, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			_exit(finished ? 0 : 8);
		if (r < 0)
			_exit(9);
		if (cmd == 'f') {
			for (unsigned int i = 0; i < n; i++)
				if (shutdown(c[i].fd, SHUT_WR))
					_exit(6);
			finished = true;
			continue;
		}
		if (cmd < '0' || cmd >= '0' + (int)nplan)
			_exit(10);
		p = &plan[cmd - '0'];
		for (unsigned int i = 0; i < n; i++) {
			if (c[i].id < p->lo || c[i].id >= p->hi)
				continue;
			c[i].total = plan_total(p, c[i].id);
			c[i].base = plan_base(p, c[i].id);
			c[i].sent = 0;
			if (!c[i].total)
				continue;
			ev.events = EPOLLOUT;
			ev.data.u32 = i;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev))
				_exit(3);
			left++;
		}
		while (left) {
			k = epoll_wait(ep, evs, 128, 20000);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				_exit(4);	/* no room anywhere for 20 s */
			for (int j = 0; j < k; j++) {
				struct txconn *t = &c[evs[j].data.u32];
				uint64_t want = t->total - t->sent;
				ssize_t w;

				if (want > WMAX)
					want = WMAX;
				w = write(t->fd, pat_at(t->base, t->sent), want);
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (w <= 0)
					_exit(5);
				t->sent += w;
				if (t->sent == t->total) {
					epoll_ctl(ep, EPOLL_CTL_DEL, t->fd, NULL);
					left--;
				}
			}
		}
	}
}

#define MAX_SENDERS 8

struct senders {
	pid_t pid[MAX_SENDERS];
	int ctl[MAX_SENDERS];	/* command pipes, write ends */
	unsigned int nr;
};

/*
 * Fork nr senders for the n connections tx[]: sender k drives the
 * connections i with i % nr == k. A child closes every descriptor but
 * its own sockets and command pipe (the ring, the pool's pages and the
 * receiving sockets stay with the parent); the parent closes its copies
 * of tx[], so only the senders hold them from now on.
 */
static int senders_start(struct senders *sd, unsigned int nr, int *tx,
			 unsigned int n, const struct run_plan *plan,
			 unsigned int nplan)
{
	unsigned int k, i;

	for (k = 0; k < nr; k++) {
		int p[2];
		pid_t pid;

		if (pipe2(p, O_CLOEXEC))
			return -errno;
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			struct txconn *c = calloc(n / nr + 1, sizeof(*c));
			unsigned int m = 0, fd, lo;
			struct rlimit rl;
			char *keep;

			getrlimit(RLIMIT_NOFILE, &rl);
			keep = calloc(rl.rlim_cur, 1);
			if (!c || !keep)
				_exit(7);
			for (i = k; i < n; i += nr) {
				c[m].fd = tx[i];
				c[m].id = i;
				keep[tx[i]] = 1;
				m++;
			}
			keep[p[0]] = 1;
			for (fd = 3, lo = 3; fd <= rl.rlim_cur; fd++) {
				if (fd < rl.rlim_cur && !keep[fd])
					continue;
				if (fd > lo)
					syscall(SYS_close_range, lo, fd - 1, 0);
				lo = fd + 1;
			}
			sender_main(c, m, plan, nplan, p[0]);
		}
		close(p[0]);
		sd->ctl[sd->nr] = p[1];
		sd->pid[sd->nr++] = pid;
	}
	for (i = 0; i < n; i++) {
		close(tx[i]);
		tx[i] = -1;
	}
	return 0;
}

/* One command to every sender; 0 or -errno. */
static int senders_cmd(struct senders *sd, char cmd)
{
	for (unsigned int k = 0; k < sd->nr; k++)
		if (write(sd->ctl[k], &cmd, 1) != 1)
			return -errno;
	return 0;
}

/* Let them exit (or kill them) and reap them; how many did not exit 0. */
static int senders_stop(struct senders *sd, bool kill_them)
{
	int bad = 0, st;

	for (unsigned int k = 0; k < sd->nr; k++) {
		close(sd->ctl[k]);
		if (kill_them)
			kill(sd->pid[k], SIGKILL);
	}
	for (unsigned int k = 0; k < sd->nr; k++)
		if (waitpid(sd->pid[k], &st, 0) != sd->pid[k] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	sd->nr = 0;
	return bad;
}

/* ---- the receiver: many multishot RECV_ZC streams on one ring ------------------- */

struct lstream {
	int fd;
	uint32_t base;		/* this run's pattern */
	uint64_t total;		/* bytes this run sends */
	uint64_t received;	/* ... of which arrived and were verified */
	unsigned int arm_gen;	/* chunks-came-back generation when armed */
	bool armed, done;
};

struct load {
	struct zc_ring *ring;
	struct zc_zcrx *z;
	struct lstream *s;
	unsigned int n;
	/* per chunk: CQEs we hold, and where the data they name ends */
	uint32_t *held, *held_end;
	unsigned int nchunks;
	/* the CQEs we hold, oldest first; at most hold_max of them */
	uint64_t *hold;
	unsigned int hold_cap, hold_max, hold_head, hold_cnt;
	bool stop_on_enomem;	/* the pool check: keep everything */
	/* streams ended by -ENOMEM that wait for chunks to come back */
	unsigned int *waitq, nwait;
	unsigned int gen;	/* bumped whenever chunks come back */
	unsigned int armed, queued_sqes;
	unsigned int run_target, run_done;	/* streams in the run, done */
	unsigned int finished;			/* streams at EOF */
	/* counts */
	unsigned long cqes, data_cqes, enomem, enospc, enters, overflow_seen;
	/* the first thing that went wrong */
	bool failed;
	char why[256];
};

static void __attribute__((format(printf, 2, 3)))
lfail(struct load *l, const char *fmt, ...)
{
	va_list ap;

	if (l->failed)
		return;
	l->failed = true;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
}

static int load_init(struct load *l, struct zc_ring *ring, struct zc_zcrx *z,
		     unsigned int n, const int *fds, unsigned int hold_max)
{
	memset(l, 0, sizeof(*l));
	l->ring = ring;
	l->z = z;
	l->n = n;
	l->nchunks = z->area_len / ZC_PAGE;
	l->hold_max = hold_max;
	l->s = calloc(n, sizeof(*l->s));
	l->waitq = calloc(n, sizeof(*l->waitq));
	l->held = calloc(l->nchunks, sizeof(*l->held));
	l->held_end = calloc(l->nchunks, sizeof(*l->held_end));
	/* what we may hold: the pool in CQEs of 64 bytes */
	l->hold_cap = l->nchunks * (ZC_PAGE / 64);
	l->hold = calloc(l->hold_cap, sizeof(*l->hold));
	if (!l->s || !l->waitq || !l->held || !l->held_end || !l->hold)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		l->s[i].fd = fds[i];
	return 0;
}

static void load_free(struct load *l)
{
	free(l->s);
	free(l->waitq);
	free(l->held);
	free(l->held_end);
	free(l->hold);
	memset(l, 0, sizeof(*l));
}

static void load_counts_reset(struct load *l)
{
	l->cqes = l->data_cqes = l->enomem = l->enospc = 0;
	l->enters = l->overflow_seen = 0;
}

/* The streams of run p are to receive what it sends. */
static void load_plan(struct load *l, const struct run_plan *p)
{
	l->run_target = p->hi - p->lo;
	l->run_done = 0;
	for (unsigned int i = p->lo; i < p->hi; i++) {
		l->s[i].base = plan_base(p, i);
		l->s[i].total = plan_total(p, i);
		l->s[i].received = 0;
		if (!l->s[i].total)
			l->run_done++;
	}
}

static unsigned int load_sq_flags(struct load *l)
{
	return __atomic_load_n((unsigned int *)((char *)l->ring->sq_map +
						l->ring->p.sq_off.flags),
			       __ATOMIC_ACQUIRE);
}

static void load_enter(struct load *l, unsigned int wait)
{
	int ret = zc_submit_wait(l->ring, wait);

	l->enters++;
	if (ret >= 0)
		l->queued_sqes -= ret;
	else if (ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
		lfail(l, "io_uring_enter: %d", ret);
	if (load_sq_flags(l) & IORING_SQ_CQ_OVERFLOW)
		l->overflow_seen++;
}

static void load_arm(struct load *l, unsigned int i)
{
	struct lstream *s = &l->s[i];
	struct io_uring_sqe *sqe = zc_get_sqe(l->ring);

	if (!sqe) {
		/* SQ full: submit what is there, without waiting */
		load_enter(l, 0);
		sqe = zc_get_sqe(l->ring);
		if (!sqe) {
			lfail(l, "no SQE after submitting");
			return;
		}
	}
	sqe->opcode = IORING_OP_RECV_ZC;
	sqe->fd = s->fd;
	sqe->ioprio = IORING_RECV_MULTISHOT;
	sqe->zcrx_ifq_idx = l->z->reg.zcrx_id;
	sqe->user_data = i;
	s->armed = true;
	s->arm_gen = l->gen;
	l->armed++;
	l->queued_sqes++;
}

/* We are done with the oldest CQE we hold: one refill entry. */
static void load_release_one(struct load *l)
{
	uint64_t off = l->hold[l->hold_head];
	uint64_t idx = off / ZC_PAGE;

	l->hold_head = (l->hold_head + 1) % l->hold_cap;
	l->hold_cnt--;
	if (--l->held[idx] == 0)
		l->held_end[idx] = 0;
	zc_zcrx_queue_on(l->ring, l->z, off, 0);
}

/* Hand back all but the newest keep CQEs' chunks, and publish. */
static void load_release(struct load *l, unsigned int keep)
{
	if (l->hold_cnt <= keep)
		return;
	while (l->hold_cnt > keep)
		load_release_one(l);
	zc_zcrx_publish(l->z);
	l->gen++;
}

static void load_hold(struct load *l, uint64_t off)
{
	if (l->hold_cnt == l->hold_cap) {
		lfail(l, "more than %u CQEs held", l->hold_cap);
		return;
	}
	l->hold[(l->hold_head + l->hold_cnt) % l->hold_cap] = off;
	l->hold_cnt++;
}

/* The final CQE of stream ud's request. */
static void load_final(struct load *l, unsigned long long ud, int res)
{
	struct lstream *s = &l->s[ud];

	s->armed = false;
	l->armed--;
	/* the request let go of the chunk it was filling */
	l->gen++;
	if (res == 0) {
		if (s->received != s->total)
			lfail(l, "stream %llu: EOF after %llu of %llu bytes",
			      ud, (unsigned long long)s->received,
			      (unsigned long long)s->total);
		s->done = true;
		l->finished++;
	} else if (res == -ENOSPC) {
		/* the CQ was full: re-arm now, space comes back as we reap */
		l->enospc++;
		load_arm(l, ud);
	} else if (res == -ENOMEM) {
		l->enomem++;
		if (l->stop_on_enomem)
			return;
		/* hand back what we hold; re-arm once chunks came back */
		load_release(l, 0);
		if (s->arm_gen != l->gen)
			load_arm(l, ud);
		else
			l->waitq[l->nwait++] = ud;
	} else {
		lfail(l, "stream %llu: final CQE res %d after %llu bytes",
		      ud, res, (unsigned long long)s->received);
	}
}

/* One CQE, checked against the ABI, its stream and what we hold. */
static void load_cqe(struct load *l, const struct io_uring_cqe *cqe)
{
	unsigned long long ud = cqe->user_data;
	uint64_t off = cqe->big_cqe[0], idx, in_page;
	struct lstream *s;
	long bad;

	l->cqes++;
	if (ud >= l->n) {
		lfail(l, "CQE with user_data %llu", ud);
		return;
	}
	s = &l->s[ud];
	/* a request's CQEs come in order: none after its final one */
	if (!s->armed || s->done) {
		lfail(l, "stream %llu: CQE (res %d flags %#x) after its final one",
		      ud, cqe->res, cqe->flags);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (off || cqe->big_cqe[1])
			lfail(l, "stream %llu: final CQE with offset %#llx",
			      ud, (unsigned long long)off);
		load_final(l, ud, cqe->res);
		return;
	}

	idx = off / ZC_PAGE;
	in_page = off % ZC_PAGE;
	l->data_cqes++;
	if (cqe->big_cqe[1] || (off & IORING_ZCRX_AREA_MASK) ||
	    off >= l->z->area_len || cqe->res <= 0 ||
	    in_page + cqe->res > ZC_PAGE) {
		lfail(l, "stream %llu: bad data CQE res %d off %#llx pad %#llx",
		      ud, cqe->res, (unsigned long long)off,
		      (unsigned long long)cqe->big_cqe[1]);
		return;
	}
	/* bytes we hold are never handed out again */
	if (l->held[idx] && in_page < l->held_end[idx]) {
		lfail(l, "stream %llu: CQE names bytes %llu.. of chunk %llu, we hold them up to %u",
		      ud, (unsigned long long)in_page,
		      (unsigned long long)idx, l->held_end[idx]);
		return;
	}
	if (s->received + cqe->res > s->total) {
		lfail(l, "stream %llu: %llu bytes, more than the %llu sent",
		      ud, (unsigned long long)(s->received + cqe->res),
		      (unsigned long long)s->total);
		return;
	}
	if (memcmp(l->z->area + off, pat_at(s->base, s->received), cqe->res)) {
		for (bad = 0; bad < cqe->res; bad++)
			if (l->z->area[off + bad] !=
			    *pat_at(s->base, s->received + bad))
				break;
		lfail(l, "stream %llu: wrong byte at offset %llu of its run (pool offset %#llx)",
		      ud, (unsigned long long)(s->received + bad),
		      (unsigned long long)(off + bad));
		return;
	}
	s->received += cqe->res;
	if (s->received == s->total)
		l->run_done++;
	l->held[idx]++;
	l->held_end[idx] = in_page + cqe->res;
	load_hold(l, off);
}

/* Take at most budget CQEs, then hand back what is over hold_max. */
static void load_reap(struct load *l, unsigned int budget)
{
	struct zc_ring *r = l->ring;
	unsigned int head = *r->cq_head, n = 0;
	unsigned int tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);

	while (head != tail && n < budget && !l->failed) {
		load_cqe(l, (struct io_uring_cqe *)((char *)r->cqes +
			 (size_t)(head & r->cq_mask) * r->cqe_size));
		head++;
		n++;
		/* done with that CQE: the kernel may fill its slot again */
		__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
	}
	if (!l->stop_on_enomem)
		load_release(l, l->hold_max);
}

/*
 * Re-arm the streams that wait for chunks once some came back (or when
 * nothing is armed: then nothing else would bring any back).
 */
static void load_rearm_waiting(struct load *l)
{
	unsigned int i, kept = 0;

	for (i = 0; i < l->nwait; i++) {
		unsigned int id = l->waitq[i];

		if (l->s[id].arm_gen != l->gen || !l->armed)
			load_arm(l, id);
		else
			l->waitq[kept++] = id;
	}
	l->nwait = kept;
}

/*
 * Drive the ring until every stream of the run received its bytes (eof:
 * until every stream ended at EOF), or something failed. budget limits
 * the CQEs taken between two io_uring_enter() calls (NULL: all there
 * are); with pause_every, sleep 200 us every that many rounds.
 */
static void load_run(struct load *l, bool eof,
		     unsigned int (*budget)(unsigned long round),
		     unsigned int pause_every, double timeout)
{
	double deadline = now_s() + timeout;
	unsigned long round = 0;

	for (;;) {
		bool done = eof ? l->finished == l->n : l->run_done == l->run_target;

		if (done || l->failed)
			break;
		if (!l->armed && !l->queued_sqes) {
			lfail(l, "nothing armed: %u of %u streams done",
			      eof ? l->finished : l->run_done,
			      eof ? l->n : l->run_target);
			break;
		}
		load_enter(l, 1);
		if (pause_every && round % pause_every == pause_every - 1)
			usleep(200);
		load_reap(l, budget ? budget(round) : ~0u);
		load_rearm_waiting(l);
		if (now_s() > deadline)
			lfail(l, "%u of %u streams done after %.0f s",
			      eof ? l->finished : l->run_done,
			      eof ? l->n : l->run_target, timeout);
		round++;
	}
}

/* Hand everything back; returns the chunks still counted as held. */
static unsigned int load_return_all(struct load *l)
{
	unsigned int still = 0;

	load_release(l, 0);
	for (unsigned int i = 0; i < l->nchunks; i++)
		still += l->held[i] != 0;
	return still;
}

/* ---- what else happened during a run ---------------------------------------------- */

/* Field name of the "prefix:" lines of an snmp-style file, or 0. */
static unsigned long long snmp_field(const char *path, const char *prefix,
				     const char *name)
{
	char names[4096], vals[4096];
	unsigned long long v = 0;
	size_t plen = strlen(prefix);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		char *sn, *sv, *n, *x;

		if (strncmp(names, prefix, plen) || names[plen] != ':')
			continue;
		n = strtok_r(names + plen + 1, " \n", &sn);
		x = strtok_r(vals + plen + 1, " \n", &sv);
		for (; n && x; n = strtok_r(NULL, " \n", &sn),
			       x = strtok_r(NULL, " \n", &sv))
			if (!strcmp(n, name)) {
				v = strtoull(x, NULL, 10);
				break;
			}
		break;
	}
	fclose(f);
	return v;
}

/*
 * TCP's side of a run: veth backlog drops (net.core.netdev_max_backlog),
 * the senders' retransmitted segments and retransmission timeouts, and
 * the CPU time of the receiving process (which runs much of the network
 * stack in its softirqs).
 */
struct counters {
	unsigned long long drops, retrans, rtos;
	double rx_cpu;
};

static void counters_take(struct counters *c)
{
	unsigned int v[2];
	struct rusage ru;
	char line[512];
	int back;
	FILE *f;

	memset(c, 0, sizeof(*c));
	f = fopen("/proc/net/softnet_stat", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &v[0], &v[1]) == 2)
			c->drops += v[1];
	if (f)
		fclose(f);
	if (!netns_enter(ZC_NS_A, &back)) {
		c->retrans = snmp_field("/proc/self/net/snmp", "Tcp", "RetransSegs");
		c->rtos = snmp_field("/proc/self/net/netstat", "TcpExt", "TCPTimeouts");
		netns_leave(back);
	}
	getrusage(RUSAGE_SELF, &ru);
	c->rx_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void counters_since(struct counters *c, const struct counters *before)
{
	struct counters now;

	counters_take(&now);
	c->drops = now.drops - before->drops;
	c->retrans = now.retrans - before->retrans;
	c->rtos = now.rtos - before->rtos;
	c->rx_cpu = now.rx_cpu - before->rx_cpu;
}

/* ---- the fixture -------------------------------------------------------------------- */

static int raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* root may raise the hard limit */
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

FIXTURE(zcrx_load) {
	struct senders sd;
	struct zc_ring ring;
	struct zc_zcrx z;
	struct load l;
	int *tx, *rx;
	unsigned int nfds;
};

FIXTURE_SETUP(zcrx_load)
{
	self->ring.fd = -1;
	/* a sender that died must not take us with it */
	signal(SIGPIPE, SIG_IGN);
	pat_init();
	ASSERT_NE(NULL, pat);
	ASSERT_EQ(0, raise_nofile(8192));
}

static void close_conns(FIXTURE_DATA(zcrx_load) *self)
{
	for (unsigned int i = 0; i < self->nfds; i++) {
		if (self->tx[i] >= 0)
			close(self->tx[i]);
		if (self->rx[i] >= 0)
			close(self->rx[i]);
		self->tx[i] = self->rx[i] = -1;
	}
}

FIXTURE_TEARDOWN(zcrx_load)
{
	if (self->sd.nr)
		senders_stop(&self->sd, true);
	if (self->tx && self->rx)
		close_conns(self);
	free(self->tx);
	free(self->rx);
	if (self->ring.fd >= 0)
		zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
	load_free(&self->l);
}

static int alloc_conns(FIXTURE_DATA(zcrx_load) *self, unsigned int n)
{
	self->nfds = n;
	self->tx = calloc(n, sizeof(int));
	self->rx = calloc(n, sizeof(int));
	if (!self->tx || !self->rx)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		self->tx[i] = self->rx[i] = -1;
	return 0;
}

/* ---- 1,000 connections, one ring, one pool ---------------------------------------- */

#define FEW 10
#define MANY 1000
#define WARM 2				/* 10, then 1000: not measured */
#define RUNS 6				/* 10, 1000, 10, 1000, 10, 1000 */
#define RUN_BYTES (16ULL << 20)		/* every run, whatever the connections */
#define LOAD_SENDERS 2			/* one a vCPU */
#define LOAD_POOL (2048 * ZC_PAGE)	/* 8 MiB: two chunks a connection */
#define LOAD_HOLD 256			/* CQEs the application sits on */

/*
 * 1,010 connections, connected and armed once: [0, FEW) carry the runs
 * of 10 connections, [FEW, FEW + MANY) those of 1,000, alternating, each
 * run RUN_BYTES. Every request stays armed from run to run (re-armed
 * only after -ENOMEM or -ENOSPC). A run's clock goes from the senders'
 * start to the last byte of its last stream; at the end every sender
 * shuts down and every stream must end with res 0.
 *
 * Every byte is verified and no CQE may name bytes we hold. Two warm-up
 * runs, one for each set, come first and are not measured: they bring
 * TCP's estimates out of the first burst and, as we sit on every chunk
 * there until the pool runs dry, make streams starve and be re-armed
 * after handing all back. In the measured runs we sit on the last
 * LOAD_HOLD CQEs' chunks; 1,000 connections must reach 0.9x the
 * aggregate throughput of 10, best of three runs each.
 */
TEST_F_TIMEOUT(zcrx_load, many_connections_one_pool, 300)
{
	const unsigned int n = FEW + MANY;
	struct run_plan plan[WARM + RUNS];
	double best[2] = { 0, 0 }, t_start = now_s(), t, ratio;
	struct load *l = &self->l;

	for (int r = 0; r < WARM + RUNS; r++) {
		plan[r].lo = r & 1 ? FEW : 0;
		plan[r].hi = r & 1 ? FEW + MANY : FEW;
		plan[r].bytes = RUN_BYTES;
		plan[r].seed = SEED + r;
		ASSERT_GE(PAT_LEN, plan_total(&plan[r], plan[r].lo));
	}
	ASSERT_EQ(0, alloc_conns(self, n));
	ASSERT_EQ(0, open_conns(n, self->tx, self->rx))
		TH_LOG("no namespaces %s/%s? run through run-guest.sh", ZC_NS_A, ZC_NS_B);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 1024, ZC_RING_FLAGS, 8192));
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, LOAD_POOL, 4096, false));
	/* the senders are forked: they need no copy of the pinned pool */
	ASSERT_EQ(0, madvise(self->z.area, self->z.area_len, MADV_DONTFORK));
	ASSERT_EQ(0, load_init(l, &self->ring, &self->z, n, self->rx, LOAD_HOLD));
	ASSERT_EQ(0, senders_start(&self->sd, LOAD_SENDERS, self->tx, n, plan,
				   WARM + RUNS));
	/* every stream armed, its poll with it, before any data comes */
	for (unsigned int i = 0; i < n; i++)
		load_arm(l, i);
	load_enter(l, 0);
	ASSERT_EQ(0, l->queued_sqes);
	ASSERT_EQ(NULL, zc_peek_cqe(&self->ring));
	ASSERT_FALSE(l->failed) TH_LOG("%s", l->why);
	TH_LOG("%u connections up and armed in %.1f s", n, now_s() - t_start);

	for (int r = 0; r < WARM + RUNS; r++) {
		unsigned int conns = plan[r].hi - plan[r].lo;
		struct counters c;
		double t0, secs, mibs;

		/* warming up we sit on everything: the pool runs dry */
		l->hold_max = r < WARM ? l->hold_cap : LOAD_HOLD;
		load_plan(l, &plan[r]);
		load_counts_reset(l);
		counters_take(&c);
		t0 = now_s();
		ASSERT_EQ(0, senders_cmd(&self->sd, '0' + r));
		load_run(l, false, NULL, 0, 120);
		secs = now_s() - t0;
		counters_since(&c, &c);
		ASSERT_FALSE(l->failed) TH_LOG("run %d, %u connections: %s", r, conns, l->why);
		mibs = RUN_BYTES / secs / (1 << 20);
		TH_LOG("%s %d: %4u conns %6.2f MiB/s (%5.2f s): %lu data CQEs of %.0f B, %lu -ENOMEM, %lu -ENOSPC, %lu enters; receiver cpu %.2f s, TCP retrans %llu, RTOs %llu, veth backlog drops %llu",
		       r < WARM ? "warm-up" : "run", r < WARM ? r : r - WARM,
		       conns, mibs, secs, l->data_cqes,
		       (double)RUN_BYTES / (l->data_cqes ? l->data_cqes : 1),
		       l->enomem, l->enospc, l->enters, c.rx_cpu, c.retrans,
		       c.rtos, c.drops);
		if (r < WARM) {
			/* the pool ran dry; streams were re-armed */
			ASSERT_LT(0, l->enomem);
			continue;
		}
		if (mibs > best[r & 1])
			best[r & 1] = mibs;
	}

	/* the end: every stream ends with res 0 after its last run's bytes */
	t = now_s();
	ASSERT_EQ(0, senders_cmd(&self->sd, 'f'));
	load_run(l, true, NULL, 0, 120);
	ASSERT_FALSE(l->failed) TH_LOG("at EOF: %s", l->why);
	ASSERT_EQ(0, senders_stop(&self->sd, false));
	for (unsigned int i = 0; i < n; i++)
		ASSERT_TRUE(l->s[i].done);
	ASSERT_EQ(0, load_return_all(l));
	TH_LOG("%u streams at EOF in %.1f s; %.1f s in all", n, now_s() - t,
	       now_s() - t_start);

	ratio = best[1] / best[0];
	ksft_print_msg("zcrx_load: %d connections %.2f MiB/s, %d connections %.2f MiB/s (best of 3 runs each, %llu MiB a run), ratio %.3f\n",
		       MANY, best[1], FEW, best[0], RUN_BYTES >> 20, ratio);
	/* the harness ends a test with _exit(): stdout must go out now */
	fflush(stdout);
	ASSERT_LE(0.9, ratio)
		TH_LOG("1000 connections reach %.3f of the throughput of 10", ratio);
}

/* ---- CQ overflow storm ------------------------------------------------------------- */

#define STORM_STREAMS 6
#define STORM_BYTES (3ULL << 20)	/* between them */
#define STORM_POOL (128 * ZC_PAGE)

/* Reap slower than data comes: 1-3 CQEs a round, and all now and then. */
static unsigned int storm_budget(unsigned long round)
{
	return round % 16 == 15 ? ~0u : 1 + round % 3;
}

/*
 * A CQ of 8 entries and 6 streams whose data comes faster than we reap:
 * requests end with -ENOSPC whenever the CQ is full and their final CQEs
 * overflow; we re-arm after each. Every byte arrives in order (no CQE of
 * a request after its final one), every stream ends with res 0, no CQE
 * is dropped, every chunk comes back, and then a new stream can fill the
 * whole pool.
 */
TEST_F_TIMEOUT(zcrx_load, cq_overflow_storm_loses_nothing, 180)
{
	const struct run_plan plan = { 0, STORM_STREAMS, STORM_BYTES + 7, SEED * 7 };
	uint64_t extra = 8 * ZC_PAGE, pool_bytes = STORM_POOL, sent = 0;
	long pinned_before = zc_vm_pinned_kb();
	struct load *l = &self->l;
	double t_start = now_s();
	unsigned int i, rounds = 0;
	int tx, rxfd, inq = 0;

	ASSERT_EQ(0, alloc_conns(self, STORM_STREAMS));
	ASSERT_EQ(0, open_conns(STORM_STREAMS, self->tx, self->rx));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 8));
	ASSERT_EQ(8, self->ring.p.cq_entries);
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, STORM_POOL, 1024, false));
	ASSERT_EQ(0, madvise(self->z.area, self->z.area_len, MADV_DONTFORK));
	ASSERT_EQ(0, load_init(l, &self->ring, &self->z, STORM_STREAMS, self->rx, 16));
	ASSERT_EQ(0, senders_start(&self->sd, 2, self->tx, STORM_STREAMS, &plan, 1));
	load_plan(l, &plan);
	for (i = 0; i < STORM_STREAMS; i++)
		load_arm(l, i);
	load_enter(l, 0);
	/* send everything, then EOF */
	ASSERT_EQ(0, senders_cmd(&self->sd, '0'));
	ASSERT_EQ(0, senders_cmd(&self->sd, 'f'));
	load_run(l, true, storm_budget, 8, 150);
	ASSERT_FALSE(l->failed) TH_LOG("%s", l->why);
	ASSERT_EQ(0, senders_stop(&self->sd, false));
	for (i = 0; i < STORM_STREAMS; i++)
		ASSERT_EQ(plan_total(&plan, i), l->s[i].received);
	TH_LOG("%lu CQEs (%lu data), %lu -ENOSPC, %lu -ENOMEM, %lu enters, CQ overflow flag seen %lu times",
	       l->cqes, l->data_cqes, l->enospc, l->enomem, l->enters,
	       l->overflow_seen);
	/* the CQ did overflow, again and again, and no CQE was dropped */
	ASSERT_LT(STORM_STREAMS, l->enospc);
	ASSERT_LT(0, l->overflow_seen);
	ASSERT_EQ(0, __atomic_load_n(self->ring.cq_overflow, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, load_sq_flags(l) & IORING_SQ_CQ_OVERFLOW);

	/* every chunk handed back, and the kernel took every entry */
	ASSERT_EQ(0, load_return_all(l));
	ASSERT_EQ(0, zc_zcrx_flush(&self->ring, &self->z));
	ASSERT_EQ(0, zc_zcrx_queued(&self->z));
	close_conns(self);

	/*
	 * No chunk leaked: a new stream gets the whole pool. With all of its
	 * data queued first, chunks are filled whole; we keep every one and
	 * re-arm after each -ENOSPC (8 CQEs at a time), and the pool runs
	 * dry exactly after pool_bytes.
	 */
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &tx, &rxfd));
	self->tx[0] = tx;
	self->rx[0] = rxfd;
	while (sent < pool_bytes + extra) {
		uint64_t want = pool_bytes + extra - sent;
		ssize_t w = write(tx, pat_at(0, sent), want < WMAX ? want : WMAX);

		ASSERT_LT(0, w);
		sent += w;
	}
	for (i = 0; i < 1000 && (uint64_t)inq < sent; i++) {
		ASSERT_EQ(0, ioctl(rxfd, FIONREAD, &inq));
		usleep(2000);
	}
	ASSERT_EQ(sent, inq);
	load_free(l);
	ASSERT_EQ(0, load_init(l, &self->ring, &self->z, 1, &rxfd, 0));
	l->s[0].total = sent;
	l->stop_on_enomem = true;
	load_arm(l, 0);
	while (!l->enomem && !l->failed && rounds++ < 10000) {
		load_enter(l, 1);
		load_reap(l, ~0u);
	}
	ASSERT_FALSE(l->failed) TH_LOG("%s", l->why);
	ASSERT_EQ(1, l->enomem);
	ASSERT_EQ(pool_bytes, l->s[0].received);
	ASSERT_LE(pool_bytes / ZC_PAGE / 8, l->enospc);
	TH_LOG("new stream: the whole pool (%llu chunks) in %lu CQEs and %lu -ENOSPC, then -ENOMEM",
	       (unsigned long long)(pool_bytes / ZC_PAGE), l->data_cqes, l->enospc);

	/* with the pool back, the rest to EOF */
	l->stop_on_enomem = false;
	load_release(l, 0);
	shutdown(tx, SHUT_WR);
	load_arm(l, 0);
	load_run(l, true, NULL, 0, 60);
	ASSERT_FALSE(l->failed) TH_LOG("%s", l->why);
	ASSERT_EQ(sent, l->s[0].received);
	ASSERT_EQ(0, load_return_all(l));
	close_conns(self);

	/* and the ring takes the pool with it */
	zc_ring_exit(&self->ring);
	for (i = 0; i < 100 && zc_vm_pinned_kb() != pinned_before; i++)
		usleep(20000);
	ASSERT_EQ(pinned_before, zc_vm_pinned_kb());
	TH_LOG("%.1f s in all", now_s() - t_start);
}

TEST_HARNESS_MAIN
