// SPDX-License-Identifier: GPL-2.0
/*
 * zcrx_fuzz: a seeded, bounded fuzzer of zero-copy receive (registration,
 * the refill ring, IORING_REGISTER_ZCRX_CTRL, RECV_ZC SQEs),
 * IORING_REGISTER_QUERY and SEND_ZC notification slots, in random mixes,
 * and races done with threads and processes (close of the ring or the
 * socket mid-stream, exit with requests in flight and chunks held, fork,
 * cancel, unregister).
 *
 * It checks what user space can see:
 *  - every byte of the well-behaved streams that run beside the garbage
 *    arrives, in order, at the pool offsets the CQEs name;
 *  - no chunk is handed out twice: per pool page, the bytes user space
 *    holds; a CQE naming held bytes, or data placed before held data of
 *    the same page, fails, and held bytes must not change until handed
 *    back (device-less mode packs small segments into one page, so a page
 *    may be named by several CQEs with increasing offsets while held);
 *  - teardown gives every chunk and all pinned memory back: the whole pool
 *    can be filled again, VmPin returns to where it was, and
 *    RLIMIT_MEMLOCK charges are returned;
 *  - every failure is a clean -errno of an expected set, and nothing
 *    hangs: each case runs in a child under alarm(), with a deadline in
 *    the parent, and each wait in it has a time limit.
 *
 * Usage: zcrx_fuzz [--seed N] [--iterations M] [--case NAME] [--round R]
 * (or ZCRX_FUZZ_SEED, ZCRX_FUZZ_ITERS). One iteration runs every case once
 * with a seed derived from the seed, the iteration and the case; the
 * default (one iteration) fits in the VM suite. A failure prints the
 * command that repeats its case. Races and the network add timing of their
 * own, so a seed repeats the inputs, not always the interleaving.
 *
 * Runs as root in the test VM, with selftests/netns.sh's namespaces (or
 * over loopback without them).
 */
#include <execinfo.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/time_types.h>

#include "lib/uring.h"
#include "testlib/net.h"
#include "lib/zcrx.h"

#define DEFAULT_SEED	0x2cc5f022ull
#define PAGE		4096UL
#define NRECENT		24
#define KB(x)		((long)((x) / 1024))

/* ---- seeded randomness ----------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return mix64(r->s);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static uint64_t between(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + below(r, hi - lo + 1);
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

#define PICK(r, ...) ({							\
	const uint64_t __v[] = { __VA_ARGS__ };				\
	__v[below(r, sizeof(__v) / sizeof(__v[0]))];			\
})

/* ---- reporting --------------------------------------------------------------- */

/* What a case child leaves for the parent's TAP line. */
struct report {
	char msg[512];
	char skip[256];
	char stats[256];
};

static struct report *g_rep;
static const char *g_case = "";
static uint64_t g_seed = DEFAULT_SEED;
static unsigned int g_round;
static char g_exe[PATH_MAX];
static char g_recent[NRECENT][200];
static unsigned int g_nrecent;
static const char *volatile g_blocking;	/* a call that might not return */

/* Remember one action: the last NRECENT are printed with a failure. */
static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
	unsigned int i = __atomic_fetch_add(&g_nrecent, 1, __ATOMIC_RELAXED);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_recent[i % NRECENT], sizeof(g_recent[0]), fmt, ap);
	va_end(ap);
}

static void print_recent(void)
{
	unsigned int n = g_nrecent, i = n > NRECENT ? n - NRECENT : 0;

	dprintf(1, "# last actions, oldest first:\n");
	for (; i < n; i++)
		dprintf(1, "#   %s\n", g_recent[i % NRECENT]);
}

static void print_repro(void)
{
	dprintf(1, "# reproduce: zcrx_fuzz --seed 0x%llx --round %u --case %s\n",
		(unsigned long long)g_seed, g_round, g_case);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
fail_at(int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	dprintf(1, "# FAIL %s (zcrx_fuzz.c:%d): %s\n", g_case, line, msg);
	print_recent();
	print_repro();
	if (g_rep)
		snprintf(g_rep->msg, sizeof(g_rep->msg), "%s", msg);
	_exit(1);
}

#define CHECK(c, ...) do { if (!(c)) fail_at(__LINE__, __VA_ARGS__); } while (0)

static void __attribute__((noreturn, format(printf, 1, 2))) skip_case(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_rep->skip, sizeof(g_rep->skip), fmt, ap);
	va_end(ap);
	fflush(stdout);
	_exit(4);
}

/* A hang caught by alarm(): say where, then die like a failure. */
static void on_alarm(int sig)
{
	const char *op = g_blocking;

	(void)sig;
	dprintf(1, "# FAIL %s: no progress before the case's alarm%s%s\n", g_case,
		op ? ": blocked in " : "", op ? op : "");
	print_recent();
	print_repro();
	if (g_rep)
		snprintf(g_rep->msg, sizeof(g_rep->msg), "hung%s%s", op ? " in " : "",
			 op ? op : "");
	_exit(3);
}

/* The fuzzer's own crash: where, and what it was doing. */
static void on_crash(int sig)
{
	void *bt[32];
	int n = backtrace(bt, 32);

	dprintf(1, "# FAIL %s: signal %d in the fuzzer itself; backtrace (addr2line -e "
		"zcrx_fuzz):\n", g_case, sig);
	backtrace_symbols_fd(bt, n, 1);
	print_recent();
	print_repro();
	if (g_rep)
		snprintf(g_rep->msg, sizeof(g_rep->msg), "signal %d in the fuzzer", sig);
	_exit(5);
}

static const char *en(int ret)
{
	/* a few at a time: one message may name several */
	static __thread char bufs[4][32];
	static __thread unsigned int next;
	char *buf = bufs[next++ % 4];
	static const struct { int e; const char *n; } names[] = {
		{ EINVAL, "EINVAL" }, { EFAULT, "EFAULT" }, { ENOMEM, "ENOMEM" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENODEV, "ENODEV" }, { E2BIG, "E2BIG" },
		{ EOVERFLOW, "EOVERFLOW" }, { EBUSY, "EBUSY" }, { ENOSPC, "ENOSPC" },
		{ ENXIO, "ENXIO" }, { EPERM, "EPERM" }, { EBADF, "EBADF" },
		{ ENOTSOCK, "ENOTSOCK" }, { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
		{ ENOTCONN, "ENOTCONN" }, { ECANCELED, "ECANCELED" }, { ENOENT, "ENOENT" },
		{ EALREADY, "EALREADY" }, { EEXIST, "EEXIST" }, { ERANGE, "ERANGE" },
		{ EAGAIN, "EAGAIN" }, { EINTR, "EINTR" }, { ETIME, "ETIME" },
		{ EACCES, "EACCES" }, { EPIPE, "EPIPE" }, { ECONNRESET, "ECONNRESET" },
		{ EMSGSIZE, "EMSGSIZE" }, { EDESTADDRREQ, "EDESTADDRREQ" },
		{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EISCONN, "EISCONN" },
		{ ELOOP, "ELOOP" }, { ENOBUFS, "ENOBUFS" },
	};

	if (ret >= 0) {
		snprintf(buf, sizeof(bufs[0]), "%d", ret);
		return buf;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == -ret) {
			snprintf(buf, sizeof(bufs[0]), "-%s", names[i].n);
			return buf;
		}
	snprintf(buf, sizeof(bufs[0]), "-%d", -ret);
	return buf;
}

static bool err_in(int ret, const int *set, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (ret == -set[i])
			return true;
	return false;
}

#define ERRS(...) (const int[]){ __VA_ARGS__ }, \
	(unsigned int)(sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msleep(unsigned int ms)
{
	usleep(ms * 1000);
}

/* ---- memory user space cannot or must not hand the kernel -------------------- */

struct hostile {
	uint8_t *rw;		/* 4 writable pages ... */
	uint8_t *guard;		/* ... followed by an inaccessible one */
	uint8_t *ro;		/* 2 read-only pages */
	uint8_t *none;		/* 16 PROT_NONE pages: mapped, not accessible */
	uint64_t hole;		/* 64 pages nothing is mapped at */
};

static struct hostile H;

static void hostile_init(void)
{
	uint8_t *p = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	CHECK(!mprotect(p + 4 * PAGE, PAGE, PROT_NONE), "mprotect");
	H.rw = p;
	H.guard = p + 4 * PAGE;
	H.ro = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	H.none = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(H.ro != MAP_FAILED && H.none != MAP_FAILED, "mmap");
	/* far from where mmap() places things; checked to be free */
	H.hole = 0x7e0000000000ull;
	p = mmap((void *)H.hole, 64 * PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		H.hole = 0x7d0000000000ull;
	else
		munmap(p, 64 * PAGE);
}

/* A pointer no syscall may read or write through. */
static uint64_t bad_ptr(struct rng *r)
{
	switch (below(r, 8)) {
	case 0: return 8;
	case 1: return (uintptr_t)H.guard;
	case 2: return (uintptr_t)H.none + below(r, 16) * PAGE;
	case 3: return H.hole + below(r, 64) * PAGE;
	case 4: return 0xffff888000000000ull;		/* kernel */
	case 5: return 0x0000800000001000ull;		/* past user space */
	case 6: return 0x8000000000000000ull;		/* not canonical */
	default: return (uintptr_t)H.guard - 8;	/* straddles the guard */
	}
}

/* ---- rings -------------------------------------------------------------------- */

/*
 * Submit every SQE handed out. A request that fails to submit (6.1 without
 * IORING_SETUP_SUBMIT_ALL) stops the batch after it: enter again until
 * all are in, or the SQEs after it would join whatever comes next.
 * Returns how many went in, or -errno if none did.
 */
static int ring_submit(struct zc_ring *r)
{
	int done = 0;

	__atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
	for (int tries = 0; tries < 64; tries++) {
		unsigned int head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
		unsigned int n = r->sqe_tail - head;
		int ret;

		if (!n)
			break;
		ret = zc_sys_enter(r->fd, n, 0, 0);
		if (ret <= 0)
			return done ? done : ret;
		done += ret;
	}
	return done;
}

/* Wait up to ms for nr CQEs (0: only run task work); -ETIME on timeout. */
static int ring_wait(struct zc_ring *r, unsigned int nr, int ms)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000LL };
	struct io_uring_getevents_arg arg = { .sigmask_sz = _NSIG / 8,
					      .ts = (uintptr_t)&ts };
	int ret = syscall(__NR_io_uring_enter, r->fd, 0, nr,
			  IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
			  sizeof(arg));

	return ret < 0 ? -errno : ret;
}

static int zcrx_ctrl_flush(int ring_fd, uint32_t id)
{
	struct zcrx_ctrl c = { .zcrx_id = id, .op = ZCRX_CTRL_FLUSH_RQ };

	return zc_sys_register(ring_fd, IORING_REGISTER_ZCRX_CTRL, &c, 0);
}

static long pinned(void)
{
	return zc_vm_pinned_kb();
}

/* Teardown runs from a workqueue: give it a few seconds. */
static void expect_pinned(long want, double secs, const char *what)
{
	double end = now() + secs;
	long p;

	while ((p = pinned()) != want && now() < end)
		msleep(10);
	CHECK(p == want, "%s: VmPin is %ld kB, %ld kB before: pinned memory not given back",
	      what, p, want);
}

/* ---- a zcrx instance and what user space holds of its pool ---------------------- */

struct held {
	uint64_t off;		/* byte offset in the pool */
	uint32_t len;
	int stream;		/* stream whose bytes these are, -1: unchecked */
	uint64_t spos;		/* their offset in that stream */
};

struct stream;

struct inst {
	bool live;
	uint32_t id;
	uint8_t *area;
	size_t area_len, npages;
	bool area_owned;	/* we munmap it */
	void *rq;
	size_t rq_len;
	bool rq_kernel;
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_zcrx_area_reg areg;
	struct io_uring_region_desc rd;
	uint32_t *khead, *ktail;
	struct io_uring_zcrx_rqe *rqes;
	uint32_t entries, tail;
	/* user space's side: bytes held per page, CQEs held, pages ever named */
	uint64_t *bits;
	uint32_t *cnt;
	uint16_t *hend;
	uint8_t *seen;
	struct held *held;
	unsigned int nheld, maxheld;
	unsigned int armed;	/* live requests naming this instance */
	bool checks;		/* no-double-handout and held-bytes checks apply */
	bool noread;		/* the pool is gone from our address space */
	bool jumped;		/* a garbage tail is published */
	bool tolerate;		/* the ring may be gone: syscall errors end things */
	bool dead;		/* ... and one did */
	int ring_fd;
	struct stream *streams;	/* what held CQEs' stream indices refer to */
	unsigned long cqes, returns, garbage, jumps;
	uint64_t bytes;
};

static unsigned int pow2_up(unsigned int v)
{
	unsigned int p = 1;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

static void inst_track_init(struct inst *in)
{
	in->npages = in->area_len / PAGE;
	in->bits = calloc(in->npages * 64, sizeof(uint64_t));
	in->cnt = calloc(in->npages, sizeof(uint32_t));
	in->hend = calloc(in->npages, sizeof(uint16_t));
	in->seen = calloc(in->npages, 1);
	in->maxheld = in->npages * 64 + 256;
	in->held = calloc(in->maxheld, sizeof(struct held));
	CHECK(in->bits && in->cnt && in->hend && in->seen && in->held, "calloc");
	in->checks = true;
	in->live = true;
}

/* After a successful registration: map the refill ring, start tracking. */
static void inst_attach(struct zc_ring *r, struct inst *in)
{
	uint8_t *base;

	in->id = in->reg.zcrx_id;
	in->ring_fd = r->fd;
	in->entries = in->reg.rq_entries;
	if (in->rq_kernel) {
		in->rq = mmap(NULL, in->rq_len, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_POPULATE, r->fd, in->rd.mmap_offset);
		CHECK(in->rq != MAP_FAILED, "mmap of the kernel's refill ring at 0x%llx: %s",
		      (unsigned long long)in->rd.mmap_offset, strerror(errno));
	}
	base = in->rq;
	in->khead = (uint32_t *)(base + in->reg.offsets.head);
	in->ktail = (uint32_t *)(base + in->reg.offsets.tail);
	in->rqes = (struct io_uring_zcrx_rqe *)(base + in->reg.offsets.rqes);
	CHECK(*in->khead == 0 && *in->ktail == 0,
	      "a new refill ring starts at head %u tail %u", *in->khead, *in->ktail);
	in->tail = 0;
	inst_track_init(in);
}

/*
 * A device-less instance: pages of pool, a refill ring of about entries
 * entries in user memory or the kernel's. Returns 0 or -errno.
 */
static int inst_open(struct zc_ring *r, struct inst *in, size_t pages,
		     unsigned int entries, bool krq, bool shared)
{
	int ret;

	memset(in, 0, sizeof(*in));
	in->area_len = pages * PAGE;
	in->area = mmap(NULL, in->area_len, PROT_READ | PROT_WRITE,
			(shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	CHECK(in->area != MAP_FAILED, "mmap pool: %s", strerror(errno));
	in->area_owned = true;
	in->rq_len = (64 + pow2_up(entries) * sizeof(struct io_uring_zcrx_rqe) + PAGE - 1) &
		     ~(PAGE - 1);
	in->rq_kernel = krq;
	if (!krq) {
		in->rq = mmap(NULL, in->rq_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(in->rq != MAP_FAILED, "mmap");
		in->rd.user_addr = (uintptr_t)in->rq;
		in->rd.flags = IORING_MEM_REGION_TYPE_USER;
	}
	in->rd.size = in->rq_len;
	in->areg.addr = (uintptr_t)in->area;
	in->areg.len = in->area_len;
	in->reg.flags = ZCRX_REG_NODEV;
	in->reg.rq_entries = entries;
	in->reg.area_ptr = (uintptr_t)&in->areg;
	in->reg.region_ptr = (uintptr_t)&in->rd;
	g_blocking = "IORING_REGISTER_ZCRX_IFQ";
	ret = zc_sys_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &in->reg, 1);
	g_blocking = NULL;
	if (ret) {
		munmap(in->area, in->area_len);
		if (!krq)
			munmap(in->rq, in->rq_len);
		memset(in, 0, sizeof(*in));
		return ret;
	}
	inst_attach(r, in);
	return 0;
}

static void inst_close(struct inst *in)
{
	if (in->area_owned && in->area && !in->noread)
		munmap(in->area, in->area_len);
	if (in->rq && in->rq != MAP_FAILED)
		munmap(in->rq, in->rq_len);
	free(in->bits);
	free(in->cnt);
	free(in->hend);
	free(in->seen);
	free(in->held);
	memset(in, 0, sizeof(*in));
}

static unsigned int held_pages(const struct inst *in)
{
	unsigned int n = 0;

	for (size_t i = 0; i < in->npages; i++)
		n += in->cnt[i] != 0;
	return n;
}

static bool bits_any(const struct inst *in, size_t page, unsigned int a, unsigned int b)
{
	const uint64_t *w = in->bits + page * 64;

	for (unsigned int i = a; i < b; i++)
		if (w[i / 64] & (1ull << (i % 64)))
			return true;
	return false;
}

static void bits_set(struct inst *in, size_t page, unsigned int a, unsigned int b, bool on)
{
	uint64_t *w = in->bits + page * 64;

	for (unsigned int i = a; i < b; i++) {
		if (on)
			w[i / 64] |= 1ull << (i % 64);
		else
			w[i / 64] &= ~(1ull << (i % 64));
	}
}

/* ---- streams of known bytes -------------------------------------------------- */

struct stream {
	const char *name;
	int rx, tx;
	pid_t sender;
	uint64_t seed, total, got;
	bool eof;
	bool checks;		/* its bytes are checked */
};

static bool g_netns;

static int make_pair(struct rng *r, int type, int *tx, int *rx)
{
	int fam = chance(r, 50) ? AF_INET : AF_INET6;

	if (g_netns)
		return zc_pair(fam, type, tx, rx);
	return zc_pair_at(NULL, NULL, AF_INET, type, "127.0.0.1", tx, rx);
}

/* The sender, run as "zcrx_fuzz --sender FD TOTAL SEED RSEED". */
static int sender_main(int fd, uint64_t total, uint64_t seed, uint64_t rseed)
{
	struct rng r = { rseed };
	size_t cap = 65536;
	uint8_t *buf = malloc(cap);
	uint64_t off = 0;

	signal(SIGPIPE, SIG_IGN);
	if (!buf)
		return 1;
	while (off < total) {
		size_t n = PICK(&r, 1, 100, 1448, 4096, 4097, 9000, 16384, 65536);

		if (chance(&r, 30))
			n = between(&r, 1, cap);
		if (n > total - off)
			n = total - off;
		zc_pattern_fill(buf, n, seed, off);
		for (size_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, n - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return 1;
			done += w;
		}
		off += n;
		if (chance(&r, 3))
			usleep(below(&r, 2000));
	}
	close(fd);
	return 0;
}

/*
 * Start a sender of total pattern bytes on fd. It is a fresh program
 * (vfork and exec): it holds no ring, mapping or socket of ours but fd,
 * so closing ours tears things down for real.
 */
static pid_t spawn_sender(int fd, uint64_t total, uint64_t seed, uint64_t rseed)
{
	char a_fd[16], a_total[24], a_seed[24], a_r[24];
	char *argv[] = { g_exe, "--sender", a_fd, a_total, a_seed, a_r, NULL };
	pid_t pid;

	snprintf(a_fd, sizeof(a_fd), "%d", fd);
	snprintf(a_total, sizeof(a_total), "%llu", (unsigned long long)total);
	snprintf(a_seed, sizeof(a_seed), "%llu", (unsigned long long)seed);
	snprintf(a_r, sizeof(a_r), "%llu", (unsigned long long)rseed);
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		fcntl(fd, F_SETFD, 0);
		execv(g_exe, argv);
		_exit(127);
	}
	CHECK(pid > 0, "vfork: %s", strerror(errno));
	return pid;
}

/* Wait for pid up to secs; returns its wait status, or -1 on timeout. */
static int wait_pid(pid_t pid, double secs)
{
	double end = now() + secs;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			return -2;
		if (now() > end)
			return -1;
		msleep(5);
	}
}

static void stream_open(struct rng *r, struct stream *s, const char *name,
			uint64_t total, bool start)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->total = total;
	s->seed = rnd(r);
	s->checks = true;
	ret = make_pair(r, SOCK_STREAM, &s->tx, &s->rx);
	CHECK(!ret, "a TCP pair: %s", en(ret));
	if (start) {
		s->sender = spawn_sender(s->tx, total, s->seed, rnd(r));
		close(s->tx);
		s->tx = -1;
	}
}

static void stream_close(struct stream *s, bool must_succeed)
{
	if (s->sender > 0) {
		int st;

		if (!must_succeed)
			kill(s->sender, SIGKILL);
		st = wait_pid(s->sender, 20);
		if (st == -1) {
			kill(s->sender, SIGKILL);
			wait_pid(s->sender, 5);
		}
		CHECK(!must_succeed || (st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st)),
		      "%s: the sender did not finish cleanly (status %d)", s->name, st);
		s->sender = 0;
	}
	if (s->tx >= 0)
		close(s->tx);
	if (s->rx >= 0)
		close(s->rx);
	s->tx = s->rx = -1;
}

/* ---- CQEs naming pool memory: the checks of every receive ------------------------- */

static void give_back(struct inst *in, unsigned int i, struct rng *r);
static void rq_publish(struct inst *in);

/*
 * A data CQE: res bytes at off of in's pool, for stream s (NULL: bytes
 * nobody checks). Checks the ABI, that none of it is held already, and the
 * bytes; then user space holds it.
 */
static void on_data(struct inst *in, struct stream *s, int sidx, int res,
		    const uint64_t big[2], const char *who)
{
	uint64_t off = big[0], pos, page, start, end;

	CHECK(big[1] == 0, "%s: CQE __pad is 0x%llx", who, (unsigned long long)big[1]);
	CHECK((off & IORING_ZCRX_AREA_MASK) == in->areg.rq_area_token,
	      "%s: CQE offset 0x%llx names area %llu", who, (unsigned long long)off,
	      (unsigned long long)(off >> IORING_ZCRX_AREA_SHIFT));
	pos = off & ~IORING_ZCRX_AREA_MASK;
	CHECK(res > 0, "%s: data CQE with F_MORE and res %s", who, en(res));
	CHECK(pos < in->area_len, "%s: CQE offset %llu past the %zu-byte pool", who,
	      (unsigned long long)pos, in->area_len);
	page = pos / PAGE;
	start = pos % PAGE;
	end = start + res;
	CHECK(end <= PAGE, "%s: %d bytes at %llu cross a page of the pool", who, res,
	      (unsigned long long)pos);
	if (in->checks) {
		CHECK(!(in->cnt[page] && start < in->hend[page]),
		      "%s: chunk handed out twice: page %llu bytes %llu..%llu named while user "
		      "space holds %u CQEs of it up to byte %u",
		      who, (unsigned long long)page, (unsigned long long)start,
		      (unsigned long long)end, in->cnt[page], in->hend[page]);
		CHECK(!bits_any(in, page, start, end),
		      "%s: chunk handed out twice: page %llu bytes %llu..%llu overlap bytes "
		      "user space holds", who, (unsigned long long)page,
		      (unsigned long long)start, (unsigned long long)end);
	}
	bits_set(in, page, start, end, true);
	in->cnt[page]++;
	if (end > in->hend[page])
		in->hend[page] = end;
	in->seen[page] = 1;
	in->cqes++;
	in->bytes += res;
	if (s) {
		if (s->checks && !in->noread) {
			long bad = zc_pattern_check(in->area + pos, res, s->seed, s->got);

			CHECK(bad < 0, "%s: %s byte %llu (pool offset %llu) is wrong", who,
			      s->name, (unsigned long long)(s->got + bad),
			      (unsigned long long)(pos + bad));
		}
		s->got += res;
		CHECK(s->got <= s->total, "%s: %s received %llu bytes of %llu", who, s->name,
		      (unsigned long long)s->got, (unsigned long long)s->total);
	}
	if (in->nheld == in->maxheld) {	/* keep the tables bounded */
		give_back(in, 0, NULL);
		rq_publish(in);
	}
	in->held[in->nheld++] = (struct held){ pos, res, s ? sidx : -1,
					       s ? s->got - res : 0 };
}

static void rq_publish(struct inst *in)
{
	/* Pairs with the kernel's acquire load of the tail. */
	__atomic_store_n(in->ktail, in->tail, __ATOMIC_RELEASE);
}

static uint32_t rq_head(struct inst *in)
{
	return __atomic_load_n(in->khead, __ATOMIC_ACQUIRE);
}

/* Everything published is taken now; the kernel must consume all of it. */
static void rq_flush(struct inst *in)
{
	int ret;

	if (in->dead)
		return;
	rq_publish(in);
	ret = zcrx_ctrl_flush(in->ring_fd, in->id);
	if (ret && in->tolerate) {
		in->dead = true;
		return;
	}
	CHECK(ret == 0, "ZCRX_CTRL_FLUSH_RQ on instance %u: %s", in->id, en(ret));
	CHECK(rq_head(in) == in->tail,
	      "ZCRX_CTRL_FLUSH_RQ left entries: head %u, tail %u", rq_head(in), in->tail);
}

/* Room for n more entries, never overwriting one the kernel has not read. */
static void rq_room(struct inst *in, unsigned int n)
{
	CHECK(n <= in->entries, "batch of %u on a ring of %u", n, in->entries);
	if (in->tail - rq_head(in) + n <= in->entries)
		return;
	rq_flush(in);
}

/*
 * After a tail jump: agree with the kernel on where the ring is (its
 * head), whatever it made of the garbage.
 */
static void inst_resync(struct inst *in)
{
	int ret = zcrx_ctrl_flush(in->ring_fd, in->id);

	CHECK(ret == 0 || ret == -EINVAL, "ZCRX_CTRL_FLUSH_RQ with a garbage tail: %s", en(ret));
	in->jumped = false;
	in->tail = rq_head(in);
	rq_flush(in);
	note("resync instance %u at %u", in->id, in->tail);
}

static void rq_put(struct inst *in, uint64_t off, uint32_t len, uint32_t pad)
{
	struct io_uring_zcrx_rqe *e;

	if (in->jumped)
		inst_resync(in);
	rq_room(in, 1);
	if (in->dead)
		return;
	e = &in->rqes[in->tail & (in->entries - 1)];
	e->off = off;
	e->len = len;
	e->__pad = pad;
	in->tail++;
}

/*
 * Hand back held CQE i: its bytes must still be what arrived, then one
 * refill entry with its offset.
 */
static void give_back(struct inst *in, unsigned int i, struct rng *r)
{
	struct held h = in->held[i];
	size_t page = h.off / PAGE;
	struct stream *s = h.stream >= 0 ? &in->streams[h.stream] : NULL;

	if (s && in->checks && !in->noread && s->checks) {
		long bad = zc_pattern_check(in->area + h.off, h.len, s->seed, h.spos);

		CHECK(bad < 0, "bytes user space held changed: %s byte %llu at pool offset %llu "
		      "(a chunk handed out twice?)", s->name,
		      (unsigned long long)(h.spos + bad), (unsigned long long)(h.off + bad));
	}
	bits_set(in, page, h.off % PAGE, h.off % PAGE + h.len, false);
	if (--in->cnt[page] == 0)
		in->hend[page] = 0;
	in->held[i] = in->held[--in->nheld];
	/* len is ignored by the kernel: sometimes say so with garbage */
	rq_put(in, h.off | in->areg.rq_area_token, r && chance(r, 20) ? (uint32_t)rnd(r) : 0, 0);
	in->returns++;
}

static void give_back_all(struct inst *in)
{
	while (in->nheld)
		give_back(in, in->nheld - 1, NULL);
	rq_publish(in);
}

/*
 * Entries that are garbage whatever the state: another area, past the
 * pool, a non-zero pad (even naming a chunk we hold), offsets far out.
 */
static void rq_put_safe_garbage(struct inst *in, struct rng *r)
{
	uint64_t some = in->nheld ? in->held[below(r, in->nheld)].off :
		below(r, in->npages) * PAGE;
	uint64_t off;
	uint32_t pad = 0;

	switch (below(r, 6)) {
	case 0:	/* another area id, a real offset */
		off = (between(r, 1, 0xffff) << IORING_ZCRX_AREA_SHIFT) | some;
		break;
	case 1:	/* past the pool */
		off = in->area_len + below(r, 1ull << 40);
		break;
	case 2:	/* a chunk we hold, with a non-zero pad */
		off = some;
		pad = (uint32_t)rnd(r) | 1;
		break;
	case 3:
		off = PICK(r, ~0ull, (1ull << IORING_ZCRX_AREA_SHIFT) - 1,
			   1ull << IORING_ZCRX_AREA_SHIFT, in->area_len, 1ull << 47);
		if (off < in->area_len)
			off = in->area_len;
		break;
	case 4:	/* random with the area bits set */
		off = rnd(r) | (1ull << 63);
		break;
	default:	/* a real offset with a pad */
		off = below(r, in->area_len);
		pad = 1u << below(r, 32);
		break;
	}
	rq_put(in, off, (uint32_t)rnd(r), pad);
	in->garbage++;
}

/* ---- query fuzz ----------------------------------------------------------------- */

struct qmem {
	uint8_t *base;		/* 16 pages then a guard */
	uint8_t *hdrs;		/* pages 0..9: headers */
	uint8_t *data;		/* pages 10..15: answers */
};

static struct qmem Q;

static void qmem_init(void)
{
	Q.base = mmap(NULL, 17 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	CHECK(Q.base != MAP_FAILED, "mmap");
	CHECK(!mprotect(Q.base + 16 * PAGE, PAGE, PROT_NONE), "mprotect");
	Q.hdrs = Q.base;
	Q.data = Q.base + 10 * PAGE;
}

struct qent {
	struct io_uring_query_hdr *h;
	struct io_uring_query_hdr in;	/* what we wrote */
	uint8_t *buf;			/* answer buffer when in our data pages */
	bool in_data;
};

#define QMAX 1100
static struct qent qe[QMAX];
static volatile bool q_scribble;	/* headers 48 bytes apart, aligned, < 200 */

/*
 * Rewrites headers under the kernel: op, size, result and the reserved
 * words, never next_entry or query_data, which would send the kernel's
 * writes (as asked) into this program's own stack or heap.
 */
static void *query_scribbler(void *arg)
{
	struct rng r = { (uintptr_t)arg };

	while (__atomic_load_n(&q_scribble, __ATOMIC_RELAXED))
		Q.hdrs[below(&r, 200) * 48 + between(&r, 16, 39)] = (uint8_t)rnd(&r);
	return NULL;
}

static size_t known_size(uint32_t op)
{
	return op == IO_URING_QUERY_OPCODES ? sizeof(struct io_uring_query_opcode) :
		sizeof(struct io_uring_query_zcrx);
}

/*
 * One random chain of query entries, submitted with fd (-1, a ring, or
 * something else). With check, the answers are checked entry by entry.
 */
static void query_once(struct rng *r, int fd, int fd_kind, bool check)
{
	unsigned int n, loop_to = 0;
	size_t doff = 0;
	bool loop = false, data_sane = true, hdr_fault = false;
	unsigned int nr_args = chance(r, 3) ? (unsigned int)between(r, 1, 5) : 0;
	void *arg;
	int ret;

	switch (below(r, 20)) {
	case 0: n = PICK(r, 999, 1000, 1001, 1050); break;
	case 1: n = between(r, 1, 4); loop = true; loop_to = below(r, n); break;
	default: n = between(r, 1, 8); break;
	}
	if (q_scribble && n >= 200)
		n = 199;
	memset(Q.hdrs, 0, 10 * PAGE);
	memset(Q.data, 0xa5, 6 * PAGE);
	for (unsigned int i = 0; i < n; i++) {
		struct qent *e = &qe[i];
		struct io_uring_query_hdr *h;
		uint32_t usize;

		/* headers never overlap; in short chains some are misaligned */
		e->h = h = (struct io_uring_query_hdr *)(n < 200 ?
			   Q.hdrs + i * 48 + (!q_scribble && chance(r, 5) ? 1 : 0) :
			   Q.hdrs + i * 40);
		memset(&e->in, 0, sizeof(e->in));
		e->in.query_op = chance(r, 85) ? (uint32_t)below(r, 2) :
			(uint32_t)PICK(r, 2, 3, 77, 0xffffffff, rnd(r));
		usize = n > 100 ? 0 : (uint32_t)PICK(r, 0, 1, 7, 8, 40, 48, 64, 72, 128, 333,
						     between(r, 1, 2048));
		if (n <= 100 && chance(r, 4))
			usize = PICK(r, 0xffffffffu, 1u << 20, 6 * PAGE);
		e->in.size = usize;
		e->buf = NULL;
		e->in_data = false;
		if (usize && usize <= 2048 && doff + usize + 32 <= 6 * PAGE && !chance(r, 5)) {
			e->buf = Q.data + doff;
			e->in_data = true;
			doff += usize + 32;
		} else if (usize) {
			/* the guard, bad pointers, or data running into the guard */
			if (chance(r, 50))
				e->buf = Q.data + 6 * PAGE - (usize % 4096) / 2;
			else
				e->buf = (uint8_t *)(uintptr_t)bad_ptr(r);
			data_sane = false;
		}
		e->in.query_data = (uintptr_t)e->buf;
		if (chance(r, 4))
			e->in.__resv[below(r, 3)] = (uint32_t)rnd(r) | 1;
		if (chance(r, 3))
			e->in.result = (int32_t)rnd(r) | 1;
		if (chance(r, 2)) {
			e->in.query_data = (uintptr_t)bad_ptr(r);
			e->buf = NULL;
			e->in_data = false;
			data_sane = false;
		}
		memcpy(h, &e->in, sizeof(*h));
	}
	for (unsigned int i = 0; i + 1 < n; i++)
		qe[i].h->next_entry = qe[i].in.next_entry = (uintptr_t)qe[i + 1].h;
	if (loop)
		qe[n - 1].h->next_entry = qe[n - 1].in.next_entry = (uintptr_t)qe[loop_to].h;
	else if (chance(r, 3)) {
		qe[n - 1].h->next_entry = qe[n - 1].in.next_entry = bad_ptr(r);
		hdr_fault = true;
	}
	arg = qe[0].h;
	if (chance(r, 2)) {
		arg = chance(r, 50) ? NULL : (void *)(uintptr_t)bad_ptr(r);
		check = check && arg == NULL;
		hdr_fault = arg != NULL;
	}
	if (chance(r, 2)) {	/* the header in read-only memory */
		arg = H.ro;
		hdr_fault = true;
	}
	note("query: %u entries%s, fd %d, nr_args %u", n, loop ? " (a loop)" : "", fd,
	     nr_args);
	g_blocking = "IORING_REGISTER_QUERY";
	ret = zc_sys_register(fd, IORING_REGISTER_QUERY, arg, nr_args);
	g_blocking = NULL;

	if (fd_kind == 2) {	/* not an io_uring file */
		CHECK(err_in(ret, ERRS(EOPNOTSUPP, EBADF, EINVAL)),
		      "QUERY on a file that is no ring returned %s", en(ret));
		return;
	}
	if (fd_kind == 3) {
		CHECK(ret == -EBADF, "QUERY on a closed fd returned %s", en(ret));
		return;
	}
	if (nr_args) {
		CHECK(ret == -EINVAL, "QUERY with nr_args %u returned %s", nr_args, en(ret));
		return;
	}
	if (!check) {
		CHECK(ret == 0 || err_in(ret, ERRS(EFAULT, ERANGE, EINVAL, ELOOP, EINTR)),
		      "QUERY returned %s", en(ret));
		return;
	}
	if (arg == NULL) {
		CHECK(ret == 0 || err_in(ret, ERRS(EFAULT, EINVAL)), "QUERY(NULL): %s", en(ret));
		return;
	}
	if (loop) {
		CHECK(err_in(ret, ERRS(ERANGE, ELOOP)) || (ret == -EFAULT && (!data_sane ||
		      arg == H.ro)), "a looping chain of queries returned %s", en(ret));
		return;
	}
	if (hdr_fault) {
		CHECK(ret == -EFAULT || (n > 64 && ret == -ERANGE),
		      "a chain of %u queries with an unusable header returned %s", n, en(ret));
		return;
	}
	if (!data_sane && ret == -EFAULT)
		return;
	if (n > 64 && ret == -ERANGE)
		return;
	if (ret) {
		for (unsigned int i = 0; i < n && i < 16; i++)
			printf("# entry %u at %p: op %u size %u data 0x%llx%s resv %x/%x/%x result "
			       "%d next 0x%llx\n", i, (void *)qe[i].h, qe[i].in.query_op,
			       qe[i].in.size, (unsigned long long)qe[i].in.query_data,
			       qe[i].in_data ? " (ours)" : "", qe[i].in.__resv[0],
			       qe[i].in.__resv[1], qe[i].in.__resv[2], qe[i].in.result,
			       (unsigned long long)qe[i].in.next_entry);
		fail_at(__LINE__, "a chain of %u queries returned %s", n, en(ret));
	}
	for (unsigned int i = 0; i < n && i < 1000; i++) {
		struct qent *e = &qe[i];
		struct io_uring_query_hdr h;
		bool known = e->in.query_op < 2;
		bool inval = e->in.__resv[0] || e->in.__resv[1] || e->in.__resv[2] ||
			     e->in.result || !e->in.size;

		memcpy(&h, e->h, sizeof(h));
		CHECK(h.next_entry == e->in.next_entry && h.query_data == e->in.query_data &&
		      h.query_op == e->in.query_op,
		      "query entry %u: the kernel changed next_entry, query_data or query_op", i);
		if (!known) {
			CHECK(h.result == -EOPNOTSUPP || h.result == -EINVAL,
			      "query entry %u: unknown op %u, result %s", i, e->in.query_op,
			      en(h.result));
			continue;
		}
		if (inval) {
			CHECK(h.result == -EINVAL, "query entry %u: reserved/result/size 0, result %s",
			      i, en(h.result));
			continue;
		}
		CHECK(h.result == 0, "query entry %u (op %u, size %u): result %s", i,
		      e->in.query_op, e->in.size, en(h.result));
		CHECK(h.size == (e->in.size < known_size(e->in.query_op) ? e->in.size :
				 known_size(e->in.query_op)),
		      "query entry %u: size %u written for %u asked", i, h.size, e->in.size);
		if (!e->in_data)
			continue;
		/* the answer, zeroes after it, nothing touched beyond size */
		for (uint32_t b = h.size; b < e->in.size; b++)
			CHECK(e->buf[b] == 0, "query entry %u: byte %u past the answer is 0x%x",
			      i, b, e->buf[b]);
		for (uint32_t b = e->in.size; b < e->in.size + 32; b++)
			CHECK(e->buf[b] == 0xa5, "query entry %u: byte %u past size %u was written",
			      i, b, e->in.size);
		if (e->in.query_op == IO_URING_QUERY_ZCRX &&
		    h.size >= sizeof(struct io_uring_query_zcrx)) {
			struct io_uring_query_zcrx z;

			memcpy(&z, e->buf, sizeof(z));
			CHECK(z.register_flags & ZCRX_REG_NODEV, "query: no ZCRX_REG_NODEV");
			CHECK(z.rq_hdr_size >= 8 && z.rq_hdr_alignment &&
			      !(z.rq_hdr_alignment & (z.rq_hdr_alignment - 1)),
			      "query: rq header %u aligned %u", z.rq_hdr_size, z.rq_hdr_alignment);
		}
		if (e->in.query_op == IO_URING_QUERY_OPCODES &&
		    h.size >= sizeof(struct io_uring_query_opcode)) {
			struct io_uring_query_opcode o;

			memcpy(&o, e->buf, sizeof(o));
			CHECK(o.nr_request_opcodes > IORING_OP_SENDMSG_ZC && o.nr_query_opcodes >= 2,
			      "query: %u request opcodes, %u query opcodes",
			      o.nr_request_opcodes, o.nr_query_opcodes);
		}
	}
	(void)data_sane;
}

static void case_query(struct rng *r, double secs)
{
	struct zc_ring ring;
	int ret, pfd[2];
	double end = now() + secs;
	unsigned int i, iters = 600;

	ret = zc_ring_init(&ring, 4, 0, 0);
	CHECK(!ret, "io_uring_setup: %s", en(ret));
	CHECK(!pipe2(pfd, O_CLOEXEC), "pipe");
	for (i = 0; i < iters && (now() < end || i < 100); i++) {
		switch (below(r, 10)) {
		case 0: query_once(r, ring.fd, 1, true); break;
		case 1: query_once(r, pfd[0], 2, true); break;
		case 2: query_once(r, 999, 3, true); break;
		default: query_once(r, -1, 0, true); break;
		}
	}
	/* the same while another thread rewrites the chain under the kernel */
	{
		pthread_t t;
		unsigned int j;

		q_scribble = true;
		CHECK(!pthread_create(&t, NULL, query_scribbler, (void *)(uintptr_t)rnd(r)),
		      "pthread_create");
		for (j = 0; j < 100 && now() < end + 2; j++)
			query_once(r, -1, 0, false);
		__atomic_store_n(&q_scribble, false, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
	}
	close(pfd[0]);
	close(pfd[1]);
	zc_ring_exit(&ring);
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u query chains", i);
}

/* ---- registration fuzz ------------------------------------------------------------ */

enum { E_INVAL, E_FAULT, E_NOMEM, E_OPNOTSUPP, E_NODEV, E_2BIG, E_OVERFLOW, E_BUSY,
       E_NOSPC, E_NXIO, E_PERM, E_NR };
static const int ebits[E_NR] = { EINVAL, EFAULT, ENOMEM, EOPNOTSUPP, ENODEV, E2BIG,
				 EOVERFLOW, EBUSY, ENOSPC, ENXIO, EPERM };
#define B(x) (1u << E_##x)

static unsigned int ebit(int ret)
{
	for (int i = 0; i < E_NR; i++)
		if (ret == -ebits[i])
			return 1u << i;
	return 0;
}

static void ebits_str(unsigned int m, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < E_NR; i++)
		if (m & (1u << i))
			o += snprintf(buf + o, len > o ? len - o : 0, "%s%s", o ? "," : "",
				      en(-ebits[i]));
}

/* One registration attempt built from a valid one by a few mutations. */
struct regtry {
	uint8_t *mem;			/* 2 RW pages and a guard: the structs */
	struct io_uring_zcrx_ifq_reg reg;	/* the values */
	struct io_uring_zcrx_area_reg area;
	struct io_uring_region_desc rd;
	uint64_t arg;			/* passed to the syscall */
	unsigned int nr_args;
	bool area_ptr_bad, rd_ptr_bad, arg_bad, arg_ro, arg_null;
	void *ro_page;
	uint8_t *pool;
	size_t pool_len, pool_map;	/* pool_len usable, then 2 PROT_NONE pages */
	uint8_t *rqm;
	size_t rqm_len;
	unsigned int mem_errs;		/* errors bad memory may cause */
	unsigned int soft;		/* errors allowed beside success */
	bool any;			/* any clean result */
	bool overlap;			/* memory shared with something else */
	bool clamp;
	char what[300];
};

static void rt_note(struct regtry *t, const char *s)
{
	size_t l = strlen(t->what);

	snprintf(t->what + l, sizeof(t->what) - l, "%s%s", l ? " " : "", s);
}

struct live_inst {
	uint8_t *pool;
	size_t pool_len;	/* the mapping, with its 2 inaccessible pages */
	size_t pool_use;
	void *krq;
	size_t krq_len;
	uint32_t id;
};

struct regctx {
	struct zc_ring ring;
	bool ring_ok;		/* DEFER_TASKRUN and CQE32 */
	bool clamp;
	struct live_inst live[16];
	unsigned int nlive;
	long pin_base;
	unsigned long ok, refused;
};

/* The spec's value rules over the final field values. */
static unsigned int reg_model(struct regtry *t, unsigned int *soft)
{
	const struct io_uring_zcrx_ifq_reg *g = &t->reg;
	const struct io_uring_zcrx_area_reg *a = &t->area;
	const struct io_uring_region_desc *d = &t->rd;
	unsigned int e = t->mem_errs, entries = g->rq_entries;
	bool entries_ok = true;

	if (t->nr_args != 1)
		e |= B(INVAL);
	if (t->arg_null)
		e |= B(INVAL) | B(FAULT);
	if (t->arg_bad || t->arg_ro)
		e |= B(FAULT);
	if (g->__resv[0] || g->__resv[1] || g->__resv[2] || g->zcrx_id)
		e |= B(INVAL);
	/* the offsets may hold an earlier registration's results (mainline) */
	if (g->offsets.head || g->offsets.tail || g->offsets.rqes || g->offsets.__resv2 ||
	    g->offsets.__resv[0] || g->offsets.__resv[1])
		*soft |= B(INVAL);
	if (g->flags & ~(uint32_t)(ZCRX_REG_IMPORT | ZCRX_REG_NODEV) ||
	    g->flags & ZCRX_REG_IMPORT)
		e |= B(INVAL);
	if (!(g->flags & ZCRX_REG_NODEV))
		e |= B(NODEV) | B(OPNOTSUPP);
	else if (g->if_idx || g->if_rxq)
		e |= B(INVAL);
	if (!entries) {
		e |= B(INVAL);
		entries_ok = false;
	} else if (entries > 32768) {
		if (!t->clamp) {
			e |= B(INVAL);
			entries_ok = false;
		}
		entries = 32768;
	}
	if (g->rx_buf_len && g->rx_buf_len != PAGE)
		e |= B(INVAL) | B(OPNOTSUPP);
	if (!t->area_ptr_bad) {
		if (a->flags || a->rq_area_token || a->__resv2[0] || a->__resv2[1])
			e |= B(INVAL);
		if (a->dmabuf_fd)
			*soft |= B(INVAL);
		if (!a->len || a->addr % PAGE || a->len % PAGE)
			e |= B(INVAL);
		if (!a->addr)
			e |= B(FAULT) | B(INVAL);
		if (a->len > (1ull << 30) || a->addr + a->len < a->addr)
			e |= B(INVAL) | B(2BIG) | B(OVERFLOW) | B(NOMEM) | B(FAULT);
	}
	if (!t->rd_ptr_bad) {
		uint64_t need = 64 + (uint64_t)pow2_up(entries) * 16;

		if (d->__resv[0] || d->__resv[1] || d->__resv[2] || d->__resv[3] || d->id ||
		    d->mmap_offset)
			e |= B(INVAL);
		if (d->flags & ~(uint32_t)IORING_MEM_REGION_TYPE_USER)
			e |= B(INVAL);
		if (!d->user_addr != !(d->flags & IORING_MEM_REGION_TYPE_USER))
			e |= B(FAULT) | B(INVAL);
		if (!d->size || d->size % PAGE || d->user_addr % PAGE)
			e |= B(INVAL);
		if (d->size > (1ull << 30) || d->user_addr + d->size < d->user_addr)
			e |= B(2BIG) | B(INVAL) | B(NOMEM) | B(FAULT) | B(OVERFLOW);
		else if (entries_ok && d->size < need)
			e |= B(INVAL);
	}
	return e;
}

static void rt_base(struct regtry *t, struct rng *r, bool clamp)
{
	size_t pages = PICK(r, 1, 2, 3, 8, 16);
	unsigned int entries = between(r, 1, 200);
	int mflags = MAP_PRIVATE | MAP_ANONYMOUS;

	memset(&t->reg, 0, sizeof(t->reg));
	memset(&t->area, 0, sizeof(t->area));
	memset(&t->rd, 0, sizeof(t->rd));
	t->what[0] = 0;
	t->mem_errs = t->soft = 0;
	t->any = t->overlap = false;
	t->area_ptr_bad = t->rd_ptr_bad = t->arg_bad = t->arg_ro = t->arg_null = false;
	t->ro_page = NULL;
	t->clamp = clamp;
	if (chance(r, 10)) {
		mflags = MAP_SHARED | MAP_ANONYMOUS;
		rt_note(t, "shared-pool");
	}
	t->pool_len = pages * PAGE;
	t->pool_map = t->pool_len + 2 * PAGE;
	t->pool = mmap(NULL, t->pool_map, PROT_READ | PROT_WRITE, mflags, -1, 0);
	CHECK(t->pool != MAP_FAILED, "mmap");
	CHECK(!mprotect(t->pool + t->pool_len, 2 * PAGE, PROT_NONE), "mprotect");
	t->rqm_len = (64 + pow2_up(entries) * 16 + PAGE - 1) & ~(PAGE - 1);
	if (chance(r, 20))
		t->rqm_len += PAGE;
	t->rqm = mmap(NULL, t->rqm_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	CHECK(t->rqm != MAP_FAILED, "mmap");
	t->reg.flags = ZCRX_REG_NODEV;
	t->reg.rq_entries = entries;
	t->area.addr = (uintptr_t)t->pool;
	t->area.len = t->pool_len;
	if (chance(r, 25)) {
		rt_note(t, "kernel-region");
	} else {
		t->rd.user_addr = (uintptr_t)t->rqm;
		t->rd.flags = IORING_MEM_REGION_TYPE_USER;
	}
	t->rd.size = t->rqm_len;
	t->nr_args = 1;
}

static void rt_free(struct regtry *t)
{
	if (t->pool)
		munmap(t->pool, t->pool_map);
	if (t->rqm)
		munmap(t->rqm, t->rqm_len);
	t->pool = t->rqm = NULL;
}

/*
 * Mutations touching the same fields form a group: one of each at most, or
 * a later one could undo an earlier one's fault behind the model's back.
 */
static unsigned int mut_group(unsigned int k)
{
	static const uint8_t group[34] = {
		[0] = 1, [1] = 1, [2] = 1,		/* rq_entries */
		[3] = 2, [4] = 2, [5] = 2,		/* flags, if_idx, if_rxq */
		[6] = 3, [7] = 4, [8] = 5, [9] = 6, [10] = 7, [11] = 8,
		[12] = 9, [13] = 9, [14] = 9, [15] = 9, [16] = 9,	/* pool memory */
		[28] = 9, [29] = 9, [30] = 9, [31] = 9,
		[17] = 10, [18] = 10, [19] = 10,	/* other area fields */
		[20] = 11, [21] = 11, [22] = 11, [23] = 11, [25] = 11,	/* region */
		[26] = 11, [27] = 11,
		[24] = 12, [32] = 13, [33] = 14,
	};

	return group[k];
}

/* Apply one random mutation, of a group not mutated yet (used: a mask). */
static void rt_mutate(struct regtry *t, struct rng *r, struct regctx *c, unsigned int *used)
{
	char buf[80];
	unsigned int k = below(r, 34);

	for (int tries = 0; tries < 20 && (*used & (1u << mut_group(k))); tries++)
		k = below(r, 34);
	if (*used & (1u << mut_group(k)))
		return;
	*used |= 1u << mut_group(k);

	switch (k) {
	case 0:
		t->reg.rq_entries = PICK(r, 0, 32769, 65536, 1u << 31, 0xffffffffu, 40000);
		snprintf(buf, sizeof(buf), "rq_entries=%u", t->reg.rq_entries);
		break;
	case 1:
		t->reg.rq_entries = PICK(r, 1, 2, 3, 5, 64, 100, 128);
		snprintf(buf, sizeof(buf), "rq_entries=%u", t->reg.rq_entries);
		break;
	case 2:
		t->reg.rq_entries = between(r, (t->rqm_len - 64) / 16 + 1, 32768);
		snprintf(buf, sizeof(buf), "rq_entries=%u(too many for the region)",
			 t->reg.rq_entries);
		break;
	case 3:
		t->reg.flags |= 1u << between(r, 2, 31);
		snprintf(buf, sizeof(buf), "flags=0x%x", t->reg.flags);
		break;
	case 4:
		t->reg.flags = PICK(r, ZCRX_REG_IMPORT, ZCRX_REG_IMPORT | ZCRX_REG_NODEV, 0);
		t->reg.if_idx = PICK(r, 0, 1, 2, 77777, (uint32_t)rnd(r));
		snprintf(buf, sizeof(buf), "flags=0x%x,if_idx=%u", t->reg.flags, t->reg.if_idx);
		break;
	case 5:
		if (chance(r, 50))
			t->reg.if_idx = (uint32_t)rnd(r) | 1;
		else
			t->reg.if_rxq = (uint32_t)rnd(r) | 1;
		snprintf(buf, sizeof(buf), "if_idx=%u,if_rxq=%u", t->reg.if_idx, t->reg.if_rxq);
		break;
	case 6:
		t->reg.__resv[below(r, 3)] = rnd(r) | 1;
		snprintf(buf, sizeof(buf), "reg.__resv");
		break;
	case 7:
		switch (below(r, 6)) {
		case 0: t->reg.zcrx_id = (uint32_t)rnd(r) | 1; break;
		case 1: t->reg.offsets.head = 4; break;
		case 2: t->reg.offsets.rqes = 64; break;
		case 3: t->reg.offsets.__resv2 = 1; break;
		case 4: t->reg.offsets.__resv[1] = rnd(r) | 1; break;
		default: t->reg.offsets.tail = (uint32_t)rnd(r) | 1; break;
		}
		snprintf(buf, sizeof(buf), "outputs set");
		break;
	case 8:
		t->reg.rx_buf_len = PICK(r, 0, 4096, 4096, 1, 2048, 5000, 8192, 65536,
					 0xffffffffu);
		snprintf(buf, sizeof(buf), "rx_buf_len=%u", t->reg.rx_buf_len);
		break;
	case 9:
		t->reg.area_ptr = bad_ptr(r);
		t->area_ptr_bad = true;
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "area_ptr=0x%llx", (unsigned long long)t->reg.area_ptr);
		break;
	case 10:
		t->reg.region_ptr = chance(r, 30) ? 0 : bad_ptr(r);
		t->rd_ptr_bad = true;
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "region_ptr=0x%llx",
			 (unsigned long long)t->reg.region_ptr);
		break;
	case 11:
		t->nr_args = PICK(r, 0, 2, 0xffffffffu);
		snprintf(buf, sizeof(buf), "nr_args=%u", t->nr_args);
		break;
	case 12:
		t->area.addr += between(r, 1, PAGE - 1);
		snprintf(buf, sizeof(buf), "area.addr unaligned");
		break;
	case 13:
		t->area.addr = PICK(r, 0, (uintptr_t)H.ro, (uintptr_t)H.none, H.hole,
				    0xffff888000000000ull, 0x0000800000000000ull,
				    (uintptr_t)H.guard);
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "area.addr=0x%llx", (unsigned long long)t->area.addr);
		break;
	case 14:
		t->area.len = PICK(r, 0, 1, PAGE - 1, t->pool_len + 1, t->pool_len - 64);
		snprintf(buf, sizeof(buf), "area.len=%llu", (unsigned long long)t->area.len);
		break;
	case 15:	/* runs past the mapping into PROT_NONE */
		t->area.len = t->pool_len + between(r, 1, 2) * PAGE;
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "area.len=%llu(past the mapping)",
			 (unsigned long long)t->area.len);
		break;
	case 16:	/* huge; never mapped, so nothing large gets pinned */
		/* (at most 8 GiB that could pass: the bookkeeping of more is large) */
		t->area.len = PICK(r, 1ull << 30, 1ull << 33, (1ull << 36) + PAGE, 1ull << 40,
				   ~(PAGE - 1), 1ull << 63);
		t->mem_errs |= B(FAULT) | B(NOMEM) | B(INVAL) | B(2BIG) | B(OVERFLOW);
		snprintf(buf, sizeof(buf), "area.len=0x%llx", (unsigned long long)t->area.len);
		break;
	case 17:
		t->area.flags = chance(r, 50) ? IORING_ZCRX_AREA_DMABUF : (uint32_t)rnd(r) | 2;
		snprintf(buf, sizeof(buf), "area.flags=0x%x", t->area.flags);
		break;
	case 18:
		t->area.dmabuf_fd = (uint32_t)rnd(r) | 1;
		snprintf(buf, sizeof(buf), "area.dmabuf_fd=%u", t->area.dmabuf_fd);
		break;
	case 19:
		if (chance(r, 50))
			t->area.rq_area_token = 1ull << 48;
		else
			t->area.__resv2[below(r, 2)] = rnd(r) | 1;
		snprintf(buf, sizeof(buf), "area token/reserved set");
		break;
	case 20:
		switch (below(r, 3)) {
		case 0: t->rd.user_addr += between(r, 1, PAGE - 1); break;
		case 1: t->rd.size = 0; break;
		default: t->rd.size = t->rd.size - between(r, 1, PAGE - 1); break;
		}
		snprintf(buf, sizeof(buf), "region addr/size unaligned or 0");
		break;
	case 21:
		t->rd.user_addr = PICK(r, (uintptr_t)H.ro, (uintptr_t)H.none, H.hole,
				       0xffff888000000000ull, (uintptr_t)H.guard);
		t->rd.flags = IORING_MEM_REGION_TYPE_USER;
		t->rd.size = PAGE;
		t->reg.rq_entries = 16;
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "region at 0x%llx", (unsigned long long)t->rd.user_addr);
		break;
	case 22:
		t->rd.flags |= 1u << between(r, 1, 31);
		snprintf(buf, sizeof(buf), "region.flags=0x%x", t->rd.flags);
		break;
	case 23:
		if (chance(r, 50)) {
			t->rd.flags = IORING_MEM_REGION_TYPE_USER;
			t->rd.user_addr = 0;
		} else {
			t->rd.flags = 0;
			t->rd.user_addr = (uintptr_t)t->rqm;
		}
		snprintf(buf, sizeof(buf), "region flag/address disagree");
		break;
	case 24:
		switch (below(r, 3)) {
		case 0: t->rd.id = (uint32_t)rnd(r) | 1; break;
		case 1: t->rd.mmap_offset = 0x30000000ull; break;
		default: t->rd.__resv[below(r, 4)] = rnd(r) | 1; break;
		}
		snprintf(buf, sizeof(buf), "region id/mmap_offset/reserved set");
		break;
	case 25:	/* kernel memory for the ring, any (sane) size */
		t->rd.flags = 0;
		t->rd.user_addr = 0;
		t->rd.size = PICK(r, PAGE, 2 * PAGE, 16 * PAGE, (1ull << 30) + PAGE, 1ull << 40,
				  ~(PAGE - 1));
		snprintf(buf, sizeof(buf), "kernel region of %llu", (unsigned long long)t->rd.size);
		break;
	case 26:	/* a user region far larger than its mapping */
		t->rd.user_addr = (uintptr_t)t->rqm;
		t->rd.flags = IORING_MEM_REGION_TYPE_USER;
		t->rd.size = PICK(r, 1ull << 30, (1ull << 30) + PAGE, 1ull << 40, ~(PAGE - 1));
		t->mem_errs |= B(FAULT) | B(2BIG) | B(INVAL) | B(NOMEM) | B(OVERFLOW);
		snprintf(buf, sizeof(buf), "region.size=0x%llx", (unsigned long long)t->rd.size);
		break;
	case 27:	/* the refill ring inside the pool */
		if (t->pool_len >= t->rqm_len) {
			t->rd.user_addr = (uintptr_t)t->pool + t->pool_len - t->rqm_len;
			t->rd.flags = IORING_MEM_REGION_TYPE_USER;
			t->any = t->overlap = true;
		}
		snprintf(buf, sizeof(buf), "region inside the pool");
		break;
	case 28:	/* the pool of an instance registered before */
		if (c && c->nlive) {
			struct live_inst *l = &c->live[below(r, c->nlive)];

			t->area.addr = (uintptr_t)l->pool;
			t->area.len = l->pool_use;
			t->any = t->overlap = true;
		}
		snprintf(buf, sizeof(buf), "pool of another instance");
		break;
	case 29:	/* a kernel-allocated refill ring, mapped, as pool */
		if (c) {
			for (unsigned int i = 0; i < c->nlive; i++)
				if (c->live[i].krq) {
					t->area.addr = (uintptr_t)c->live[i].krq;
					t->area.len = c->live[i].krq_len;
					t->any = t->overlap = true;
					break;
				}
		}
		snprintf(buf, sizeof(buf), "pool over a mapped kernel refill ring");
		break;
	case 30:	/* the ring's own SQ ring mapping as pool */
		if (c) {
			t->area.addr = (uintptr_t)c->ring.sq_map & ~(PAGE - 1);
			t->area.len = PAGE;
			t->any = true;
		}
		snprintf(buf, sizeof(buf), "pool over the SQ ring");
		break;
	case 31:	/* part of the pool read-only or inaccessible */
		CHECK(!mprotect(t->pool + below(r, t->pool_len / PAGE) * PAGE, PAGE,
				chance(r, 50) ? PROT_READ : PROT_NONE), "mprotect");
		t->mem_errs |= B(FAULT);
		snprintf(buf, sizeof(buf), "a pool page read-only/none");
		break;
	case 32:	/* the registration structs placed in the pool */
		t->any = true;
		snprintf(buf, sizeof(buf), "structs in the pool");
		t->overlap = true;
		break;
	default:	/* the argument itself */
		switch (below(r, 3)) {
		case 0: t->arg_null = true; break;
		case 1: t->arg_bad = true; break;
		default: t->arg_ro = true; break;
		}
		snprintf(buf, sizeof(buf), "reg argument %s",
			 t->arg_null ? "NULL" : t->arg_bad ? "bad" : "read-only");
		break;
	}
	rt_note(t, buf);
}

/* Lay the structs out in memory and point the fields at them. */
static void rt_place(struct regtry *t, struct rng *r)
{
	bool in_pool = strstr(t->what, "structs in the pool") && t->pool_len >= PAGE &&
		       !strstr(t->what, "read-only/none");
	uint8_t *base = in_pool ? t->pool : t->mem;
	struct io_uring_zcrx_ifq_reg *reg = (void *)(base + 0);
	struct io_uring_zcrx_area_reg *area = (void *)(base + 512);
	struct io_uring_region_desc *rd = (void *)(base + 1024);

	if (!t->area_ptr_bad) {
		if (chance(r, 5))	/* right before the guard: still valid */
			area = (void *)(H.guard - sizeof(*area));
		memcpy(area, &t->area, sizeof(*area));
		t->reg.area_ptr = (uintptr_t)area;
	}
	if (!t->rd_ptr_bad) {
		memcpy(rd, &t->rd, sizeof(*rd));
		t->reg.region_ptr = (uintptr_t)rd;
	}
	memcpy(reg, &t->reg, sizeof(*reg));
	t->arg = (uintptr_t)reg;
	if (t->arg_bad)
		t->arg = chance(r, 50) ? bad_ptr(r) : (uintptr_t)H.guard - 40;
	if (t->arg_ro) {
		uint8_t *ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(ro != MAP_FAILED, "mmap");
		memcpy(ro, reg, sizeof(*reg));
		CHECK(!mprotect(ro, PAGE, PROT_READ), "mprotect");
		t->arg = (uintptr_t)ro;
		t->ro_page = ro;
	}
	if (t->arg_null)
		t->arg = 0;
}

/* After success: what registration wrote back is what the spec says. */
static void rt_check_outputs(struct regtry *t, struct regctx *c, long pin_before)
{
	const struct io_uring_zcrx_ifq_reg *g = (const void *)(uintptr_t)t->arg;
	const struct io_uring_zcrx_area_reg *a = (const void *)(uintptr_t)g->area_ptr;
	const struct io_uring_region_desc *d = (const void *)(uintptr_t)g->region_ptr;
	unsigned int want = t->reg.rq_entries > 32768 ? 32768 : t->reg.rq_entries;
	long delta = pinned() - pin_before;

	CHECK(g->rq_entries == pow2_up(want), "[%s] rq_entries %u for %u asked", t->what,
	      g->rq_entries, t->reg.rq_entries);
	CHECK(g->rx_buf_len == PAGE, "[%s] rx_buf_len %u", t->what, g->rx_buf_len);
	CHECK(a->rq_area_token == 0, "[%s] rq_area_token 0x%llx", t->what,
	      (unsigned long long)a->rq_area_token);
	CHECK(g->offsets.head != g->offsets.tail && g->offsets.head + 4 <= d->size &&
	      g->offsets.tail + 4 <= d->size && g->offsets.rqes >= 8 && !(g->offsets.rqes % 16) &&
	      g->offsets.rqes + (uint64_t)g->rq_entries * 16 <= d->size,
	      "[%s] refill ring layout head %u tail %u rqes %u in %llu bytes", t->what,
	      g->offsets.head, g->offsets.tail, g->offsets.rqes, (unsigned long long)d->size);
	for (unsigned int i = 0; i < c->nlive; i++)
		CHECK(c->live[i].id != g->zcrx_id, "[%s] zcrx_id %u given twice", t->what,
		      g->zcrx_id);
	if (d->flags & IORING_MEM_REGION_TYPE_USER)
		CHECK(d->mmap_offset == 0, "[%s] mmap_offset 0x%llx for user memory", t->what,
		      (unsigned long long)d->mmap_offset);
	else
		CHECK(d->mmap_offset == 0x30000000ull + ((uint64_t)g->zcrx_id << 16),
		      "[%s] mmap_offset 0x%llx for id %u", t->what,
		      (unsigned long long)d->mmap_offset, g->zcrx_id);
	CHECK(delta >= KB(a->len) && delta <= KB(a->len + d->size),
	      "[%s] registration pinned %ld kB for a %llu-byte pool and %llu-byte ring",
	      t->what, delta, (unsigned long long)a->len, (unsigned long long)d->size);
}

static void regctx_open(struct regctx *c, struct rng *r)
{
	unsigned int flags = ZC_RING_FLAGS;
	int ret;

	c->ring_ok = true;
	c->clamp = chance(r, 15);
	if (c->clamp)
		flags |= IORING_SETUP_CLAMP;
	if (chance(r, 8)) {
		flags = PICK(r, IORING_SETUP_CQE32,
			     IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
			     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_CQE32, 0);
		c->ring_ok = false;
	}
	ret = zc_ring_init(&c->ring, 8, flags, 0);
	CHECK(!ret, "io_uring_setup(0x%x): %s", flags, en(ret));
	c->nlive = 0;
	note("ring flags 0x%x", flags);
}

static void regctx_close(struct regctx *c)
{
	zc_ring_exit(&c->ring);
	/* mappings of kernel refill rings hold the ring too */
	for (unsigned int i = 0; i < c->nlive; i++)
		if (c->live[i].krq)
			munmap(c->live[i].krq, c->live[i].krq_len);
	expect_pinned(c->pin_base, 10, "ring teardown after registrations");
	for (unsigned int i = 0; i < c->nlive; i++)
		munmap(c->live[i].pool, c->live[i].pool_len);
	c->nlive = 0;
}

static void mini_receive(struct zc_ring *ring, struct inst *in, struct rng *r,
			 uint64_t bytes, bool checks);

/*
 * One attempt on c's ring: build, mutate, register, check the result
 * against the spec model (or, with expect_only, against that errno).
 */
static void reg_attempt(struct regctx *c, struct rng *r, int expect_only)
{
	struct regtry t = { .mem = H.rw };
	unsigned int nm = PICK(r, 0, 1, 1, 1, 2, 2, 3), soft = 0, e, used = 0;
	long pin0 = pinned();
	char ebuf[120];
	int ret;

	rt_base(&t, r, c->clamp);
	for (unsigned int i = 0; i < nm; i++)
		rt_mutate(&t, r, c, &used);
	memset(H.rw, 0, 2 * PAGE);
	rt_place(&t, r);
	e = reg_model(&t, &soft);
	note("register [%s]", t.what);
	g_blocking = "IORING_REGISTER_ZCRX_IFQ";
	ret = zc_sys_register(c->ring.fd, IORING_REGISTER_ZCRX_IFQ, (void *)(uintptr_t)t.arg,
			      t.nr_args);
	g_blocking = NULL;
	if (t.ro_page)
		munmap(t.ro_page, PAGE);
	ebits_str(e | soft, ebuf, sizeof(ebuf));

	if (expect_only && (t.nr_args != 1 || t.arg_null) && ret == -EINVAL) {
		/* refused before the zcrx code runs, as in mainline */
	} else if (expect_only) {
		CHECK(ret == -expect_only,
		      "registration [%s] returned %s, %s expected (as the spec says, whatever "
		      "else is wrong)", t.what, en(ret), en(-expect_only));
	} else if (!c->ring_ok) {
		CHECK(ret == -EINVAL, "registration on a ring without DEFER_TASKRUN|CQE32 "
		      "returned %s [%s]", en(ret), t.what);
	} else if (t.any) {
		CHECK(ret == 0 || (ebit(ret) & ~B(PERM)),
		      "registration [%s] returned %s", t.what, en(ret));
	} else if (e) {
		CHECK(ret < 0 && (ebit(ret) & (e | soft)),
		      "registration [%s] returned %s, expected one of %s", t.what, en(ret), ebuf);
	} else {
		CHECK(ret == 0 || (ebit(ret) & soft),
		      "registration [%s] returned %s, expected success", t.what, en(ret));
	}
	if (ret) {
		CHECK(pinned() == pin0, "refused registration [%s] (%s) left %ld kB pinned",
		      t.what, en(ret), pinned() - pin0);
		c->refused++;
		rt_free(&t);
		return;
	}
	c->ok++;
	rt_check_outputs(&t, c, pin0);
	{
		const struct io_uring_zcrx_ifq_reg *g = (const void *)(uintptr_t)t.arg;
		const struct io_uring_region_desc *d = (const void *)(uintptr_t)g->region_ptr;
		const struct io_uring_zcrx_area_reg *a = (const void *)(uintptr_t)g->area_ptr;
		struct live_inst *l = &c->live[c->nlive++];
		bool owned_pool = a->addr == (uintptr_t)t.pool;

		memset(l, 0, sizeof(*l));
		l->id = g->zcrx_id;
		l->pool = t.pool;
		l->pool_len = t.pool_map;
		l->pool_use = t.pool_len;
		if (!(d->flags & IORING_MEM_REGION_TYPE_USER)) {
			l->krq = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				      c->ring.fd, d->mmap_offset);
			CHECK(l->krq != MAP_FAILED, "mmap of the kernel refill ring: %s",
			      strerror(errno));
			l->krq_len = d->size;
			/* a mapping larger than the ring is refused */
			void *big = mmap(NULL, d->size + PAGE, PROT_READ, MAP_SHARED, c->ring.fd,
					 d->mmap_offset);
			CHECK(big == MAP_FAILED, "an mmap past the kernel refill ring worked");
		}
		/* sometimes receive through it, with every check unless it overlaps */
		if (owned_pool && !t.overlap && chance(r, 25) && a->len == t.pool_len &&
		    !strstr(t.what, "read-only/none")) {
			struct inst in;

			memset(&in, 0, sizeof(in));
			in.area = t.pool;
			in.area_len = t.pool_len;
			in.reg = *g;
			in.areg = *a;
			in.rd = *d;
			in.rq_kernel = !(d->flags & IORING_MEM_REGION_TYPE_USER);
			in.rq_len = d->size;
			in.rq = in.rq_kernel ? NULL : (void *)(uintptr_t)d->user_addr;
			inst_attach(&c->ring, &in);
			mini_receive(&c->ring, &in, r, between(r, 1, 48 << 10), true);
			if (in.rq_kernel)
				munmap(in.rq, in.rq_len);
			in.rq = NULL;
			in.area_owned = false;
			inst_close(&in);
		}
		t.pool = NULL;	/* stays mapped until the ring goes */
		if (t.rqm && !(d->flags & IORING_MEM_REGION_TYPE_USER &&
			       d->user_addr >= (uintptr_t)t.rqm &&
			       d->user_addr < (uintptr_t)t.rqm + t.rqm_len))
			munmap(t.rqm, t.rqm_len);
		t.rqm = NULL;	/* a pinned user ring stays mapped too: it leaks, fine */
	}
}

static void case_register(struct rng *r, double secs)
{
	struct regctx c;
	double end = now() + secs;
	unsigned int i, per_ring = 0;

	memset(&c, 0, sizeof(c));
	c.pin_base = pinned();
	regctx_open(&c, r);
	for (i = 0; i < 400 && (now() < end || i < 40); i++) {
		reg_attempt(&c, r, 0);
		if (c.nlive >= 12 || ++per_ring > between(r, 5, 40)) {
			regctx_close(&c);
			regctx_open(&c, r);
			per_ring = 0;
		}
	}
	regctx_close(&c);
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u registrations: %lu accepted, %lu refused",
		 i, c.ok, c.refused);
}

/* ---- privilege and memlock -------------------------------------------------------- */

static int drop_caps(uint64_t mask)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t m = (uint32_t)(mask >> (32 * i));

		d[i].effective &= ~m;
		d[i].permitted &= ~m;
		d[i].inheritable &= ~m;
	}
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

#define CAPBIT(c) (1ull << (c))

/*
 * Register a device-less instance on ring: a pool of len bytes at addr
 * (mapped or not) and a one-page refill ring, in the kernel's memory
 * (krq) or at rqmem. Returns 0 or -errno.
 */
static int reg_simple(struct zc_ring *ring, uint64_t addr, uint64_t len, bool krq,
		      void *rqmem, uint32_t *id)
{
	struct io_uring_zcrx_area_reg a = { .addr = addr, .len = len };
	struct io_uring_region_desc d = { .size = PAGE };
	struct io_uring_zcrx_ifq_reg g = { .flags = ZCRX_REG_NODEV, .rq_entries = 64,
					   .area_ptr = (uintptr_t)&a,
					   .region_ptr = (uintptr_t)&d };
	int ret;

	if (!krq) {
		d.user_addr = (uintptr_t)rqmem;
		d.flags = IORING_MEM_REGION_TYPE_USER;
	}
	g_blocking = "IORING_REGISTER_ZCRX_IFQ";
	ret = zc_sys_register(ring->fd, IORING_REGISTER_ZCRX_IFQ, &g, 1);
	g_blocking = NULL;
	if (!ret && id)
		*id = g.zcrx_id;
	return ret;
}

/*
 * Without CAP_NET_ADMIN every zcrx registration, device-less included, is
 * refused with -EPERM, checked first.
 */
static void case_privilege(struct rng *r, double secs)
{
	struct regctx c;
	double end = now() + secs;
	unsigned int i;
	int ret;

	ret = drop_caps(CAPBIT(CAP_NET_ADMIN));
	CHECK(!ret, "capset: %s", en(ret));
	memset(&c, 0, sizeof(c));
	c.pin_base = pinned();
	/* first a plain, valid device-less registration */
	{
		struct zc_ring ring;
		uint8_t *pool = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(pool != MAP_FAILED, "mmap");
		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0), "setup");
		note("a valid device-less registration without CAP_NET_ADMIN");
		ret = reg_simple(&ring, (uintptr_t)pool, 4 * PAGE, false, pool + 4 * PAGE, NULL);
		CHECK(ret == -EPERM, "a valid device-less registration without CAP_NET_ADMIN "
		      "returned %s, -EPERM expected", en(ret));
		zc_ring_exit(&ring);
		munmap(pool, 5 * PAGE);
	}
	for (i = 0; i < 40 && (now() < end || i < 16); i++) {
		if (i % 8 == 0) {
			if (i)
				regctx_close(&c);
			regctx_open(&c, r);
			if (!c.ring_ok) {
				zc_ring_exit(&c.ring);
				CHECK(!zc_ring_init(&c.ring, 8, ZC_RING_FLAGS, 0), "setup");
				c.ring_ok = true;
			}
		}
		reg_attempt(&c, r, EPERM);
	}
	regctx_close(&c);
	/* the query needs no privilege at all */
	{
		struct io_uring_query_zcrx q;
		struct io_uring_query_hdr h = { .query_op = IO_URING_QUERY_ZCRX,
						.query_data = (uintptr_t)&q, .size = sizeof(q) };

		ret = zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0);
		CHECK(ret == 0 && h.result == 0, "QUERY without CAP_NET_ADMIN: %s/%s", en(ret),
		      en(h.result));
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u registrations without CAP_NET_ADMIN", i);
}

static long status_kb(const char *key)
{
	char line[256];
	long kb = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n)) {
			kb = atol(line + n);
			break;
		}
	fclose(f);
	return kb;
}

#define MEMLOCK_PAGES 32

/*
 * Registrations are charged to RLIMIT_MEMLOCK (without CAP_IPC_LOCK):
 * within the limit they work, beyond it -ENOMEM before anything sized by
 * the user is allocated, and every teardown gives the charge back.
 */
static void case_memlock(struct rng *r, double secs)
{
	struct rlimit rl = { MEMLOCK_PAGES * PAGE, MEMLOCK_PAGES * PAGE };
	uint8_t *pool, *rqm;
	double end = now() + secs;
	unsigned int i, ok = 0, refused = 0;
	long base = pinned();
	int ret;

	ret = drop_caps(CAPBIT(CAP_IPC_LOCK));
	CHECK(!ret, "capset: %s", en(ret));
	CHECK(!setrlimit(RLIMIT_MEMLOCK, &rl), "setrlimit: %s", strerror(errno));
	pool = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rqm = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(pool != MAP_FAILED && rqm != MAP_FAILED, "mmap");

	/*
	 * 1. Over the limit is -ENOMEM before anything the size of the
	 * request is allocated or pinned: a pool of unmapped memory still
	 * gets -ENOMEM (pinning would have said -EFAULT), and a mapped, never
	 * touched one is not faulted in (VmRSS) nor pinned (VmPin).
	 */
	{
		struct zc_ring ring;
		size_t big = 16 << 20;
		uint8_t *untouched = mmap(NULL, big, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		long rss0, pin0 = pinned();

		CHECK(untouched != MAP_FAILED, "mmap");
		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0), "setup");
		ret = reg_simple(&ring, H.hole, 1ull << 36, chance(r, 50), rqm, NULL);
		CHECK(ret == -ENOMEM || ret == -EFAULT, "a 64 GiB pool with RLIMIT_MEMLOCK of "
		      "%lu returned %s", MEMLOCK_PAGES * PAGE, en(ret));
		for (int k = 0; k < 2; k++) {
			uint64_t len = k ? 1ull << 30 : 512ull << 20;

			note("register %llu unmapped bytes with RLIMIT_MEMLOCK %lu",
			     (unsigned long long)len, MEMLOCK_PAGES * PAGE);
			ret = reg_simple(&ring, H.hole, len, k, rqm, NULL);
			CHECK(ret == -ENOMEM, "a %llu-byte pool of unmapped memory over "
			      "RLIMIT_MEMLOCK returned %s: the charge must come before anything "
			      "sized by the request (pinning first says -EFAULT)",
			      (unsigned long long)len, en(ret));
		}
		rss0 = status_kb("VmRSS:");
		ret = reg_simple(&ring, (uintptr_t)untouched, big, false, rqm, NULL);
		CHECK(ret == -ENOMEM, "a 16 MiB pool over RLIMIT_MEMLOCK returned %s", en(ret));
		CHECK(status_kb("VmRSS:") - rss0 < 1024, "a 16 MiB pool over RLIMIT_MEMLOCK was "
		      "refused after %ld kB of it was faulted in: pinned before charged",
		      status_kb("VmRSS:") - rss0);
		CHECK(pinned() == pin0, "a refused registration left %ld kB pinned",
		      pinned() - pin0);
		zc_ring_exit(&ring);
		munmap(untouched, big);
	}

	/* 2. random sizes against the limit, on rings opened and closed */
	for (i = 0; i < 60 && (now() < end || i < 5); i++) {
		struct zc_ring ring;
		unsigned int used = 0, n = between(r, 1, 4);

		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0), "setup");
		for (unsigned int k = 0; k < n; k++) {
			unsigned int pages = PICK(r, 1, 4, 8, 15, 16, 20, 31, 33, 40, 64);
			bool krq = chance(r, 40);
			uint64_t addr = (uintptr_t)pool;
			bool fits = used + 1 + pages <= MEMLOCK_PAGES;

			if (pages > 64)
				pages = 64;
			note("register %u pool pages (%u of %u charged)", pages, used,
			     MEMLOCK_PAGES);
			ret = reg_simple(&ring, addr, pages * PAGE, krq, rqm + k * PAGE, NULL);
			if (fits) {
				CHECK(ret == 0, "%u pages with %u of %u charged: %s", pages + 1, used,
				      MEMLOCK_PAGES, en(ret));
				used += 1 + pages;
				ok++;
			} else {
				CHECK(ret == -ENOMEM, "%u pages with %u of %u charged: %s, "
				      "-ENOMEM expected", pages + 1, used, MEMLOCK_PAGES, en(ret));
				refused++;
			}
		}
		zc_ring_exit(&ring);
		/* teardown (a workqueue) gives the pins back, and the charge */
		expect_pinned(base, 10, "ring teardown");
		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0), "setup");
		ret = reg_simple(&ring, (uintptr_t)pool, (MEMLOCK_PAGES - 1) * PAGE, false, rqm,
				 NULL);
		CHECK(ret == 0, "after teardown the whole RLIMIT_MEMLOCK does not fit again "
		      "(%s): a charge was not given back", en(ret));
		zc_ring_exit(&ring);
		expect_pinned(base, 10, "ring teardown");
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u rounds: %u accepted, %u refused", i,
		 ok, refused);
}

/* ---- a simple receive loop, for the registration case and the races ---------------- */

#define UD_KIND(ud)	((unsigned int)((ud) >> 56))
#define UD(k, n)	(((uint64_t)(k) << 56) | (uint64_t)(n))
enum { UDK_RECV = 1, UDK_CANCEL, UDK_SEND, UDK_MISC, UDK_CAP };
#define TAG_PREFIX	0x7a
#define SLOT_TAG(epoch, slot) (((uint64_t)TAG_PREFIX << 56) | ((uint64_t)(epoch) << 16) | (slot))

static void prep_recv_zc(struct io_uring_sqe *sqe, int fd, uint32_t id, uint32_t len,
			 uint64_t ud, bool poll_first)
{
	sqe->opcode = IORING_OP_RECV_ZC;
	sqe->fd = fd;
	sqe->ioprio = IORING_RECV_MULTISHOT | (poll_first ? IORING_RECVSEND_POLL_FIRST : 0);
	sqe->len = len;
	sqe->zcrx_ifq_idx = id;
	sqe->user_data = ud;
}

static struct io_uring_sqe *get_sqe(struct zc_ring *r)
{
	struct io_uring_sqe *sqe = zc_get_sqe(r);

	if (!sqe) {
		int ret = ring_submit(r);

		CHECK(ret >= 0 || ret == -EBUSY || ret == -EAGAIN, "io_uring_enter: %s", en(ret));
		ring_wait(r, 0, 0);
		sqe = zc_get_sqe(r);
	}
	CHECK(sqe != NULL, "no SQE free");
	return sqe;
}

/*
 * One receiving request on one stream, as an application would run it:
 * re-armed after -ENOMEM/-ENOSPC (handing chunks back first), chunks
 * handed back in random batches. With tolerate, a failing syscall (the
 * ring was closed under us) ends it instead of failing.
 */
struct rx1 {
	struct zc_ring *ring;
	struct inst *in;
	struct stream *s;
	struct rng *r;
	uint64_t ud;
	bool armed, done, broken, tolerate;
	bool no_return;		/* hand nothing back, and wait after -ENOMEM */
	int final;		/* res of the request that ended it */
	unsigned int hold_pct;	/* chance a batch of returns is skipped */
};

static void rx1_step(struct rx1 *x, int ms)
{
	struct io_uring_cqe *cqe;
	struct inst *in = x->in;
	int ret;

	if (!x->armed && !x->done && !x->broken && !(x->no_return && x->final == -ENOMEM)) {
		prep_recv_zc(get_sqe(x->ring), x->s->rx, in->id, 0, x->ud, chance(x->r, 20));
		ret = ring_submit(x->ring);
		if (ret != 1) {
			CHECK(x->tolerate, "submit RECV_ZC: %s", en(ret));
			x->broken = true;
			return;
		}
		x->armed = true;
		in->armed++;
	}
	ret = ring_wait(x->ring, 1, ms);
	if (ret < 0 && !err_in(ret, ERRS(ETIME, EINTR))) {
		CHECK(x->tolerate, "io_uring_enter: %s", en(ret));
		x->broken = true;
		return;
	}
	while ((cqe = zc_peek_cqe(x->ring))) {
		struct io_uring_cqe c = *cqe;
		uint64_t big[2];

		memcpy(big, (char *)cqe + 16, 16);
		zc_cqe_seen(x->ring);
		if (UD_KIND(c.user_data) == UDK_MISC || (c.flags & IORING_CQE_F_NOTIF))
			continue;	/* sends the caller made on the side */
		CHECK(c.user_data == x->ud, "unexpected CQE 0x%llx (res %s)",
		      (unsigned long long)c.user_data, en(c.res));
		if (c.flags & IORING_CQE_F_MORE) {
			on_data(in, x->s, 0, c.res, big, x->s->name);
			continue;
		}
		CHECK(big[0] == 0 && big[1] == 0, "final CQE names offset 0x%llx",
		      (unsigned long long)big[0]);
		x->armed = false;
		in->armed--;
		x->final = c.res;
		if (c.res == -ENOMEM && x->no_return) {
			continue;
		} else if (c.res == -ENOMEM) {
			/* hand back about half before re-arming */
			unsigned int k = (in->nheld + 1) / 2;

			while (k--)
				give_back(in, below(x->r, in->nheld), x->r);
			rq_publish(in);
		} else if (c.res != -ENOSPC) {
			x->done = true;
			if (c.res == 0 && x->s->got == x->s->total)
				x->s->eof = true;
		}
	}
	if (!x->no_return && !chance(x->r, x->hold_pct))
		while (in->nheld && chance(x->r, 70))
			give_back(in, below(x->r, in->nheld), x->r);
	rq_publish(in);
}

/* Receive a whole stream of bytes through in, every check on unless told. */
static void mini_receive(struct zc_ring *ring, struct inst *in, struct rng *r,
			 uint64_t bytes, bool checks)
{
	struct stream s;
	struct rx1 x = { .ring = ring, .in = in, .s = &s, .r = r, .ud = UD(UDK_RECV, 0),
			 .hold_pct = 30 };
	double deadline = now() + 60;

	stream_open(r, &s, "mini stream", bytes, true);
	in->checks = checks;
	s.checks = checks;
	in->streams = &s;
	while (!x.done) {
		rx1_step(&x, 50);
		CHECK(now() < deadline, "mini stream stalled at %llu of %llu bytes",
		      (unsigned long long)s.got, (unsigned long long)s.total);
	}
	CHECK(x.final == 0 && s.eof, "mini stream ended with %s after %llu of %llu bytes",
	      en(x.final), (unsigned long long)s.got, (unsigned long long)s.total);
	give_back_all(in);
	rq_flush(in);
	in->streams = NULL;
	stream_close(&s, true);
}

/*
 * With every chunk back and no request on it, the whole pool fills: each
 * page is handed out (held: never twice) before the kernel says -ENOMEM.
 */
static void fill_pool_check(struct zc_ring *ring, struct inst *in, struct rng *r)
{
	struct stream s;
	struct stream *saved = in->streams;
	uint64_t bytes = in->area_len * 2 + 4096;
	uint8_t *buf = malloc(65536);
	double end = now() + 40;
	unsigned int pages;
	int final = 1;

	CHECK(buf, "malloc");
	stream_open(r, &s, "capacity stream", bytes, false);
	s.checks = !in->noread;
	in->streams = &s;
	/* all of it queued first, in large segments */
	for (uint64_t off = 0; off < bytes;) {
		size_t n = bytes - off < 65536 ? bytes - off : 65536;
		ssize_t wr;

		zc_pattern_fill(buf, n, s.seed, off);
		wr = write(s.tx, buf, n);
		CHECK(wr > 0, "write: %s", strerror(errno));
		off += wr;
	}
	free(buf);
	note("capacity check of instance %u (%zu pages)", in->id, in->npages);
	while (final == 1 || final == -ENOSPC) {
		struct io_uring_cqe *cqe;

		final = 1;
		prep_recv_zc(get_sqe(ring), s.rx, in->id, 0, UD(UDK_CAP, 0), false);
		CHECK(ring_submit(ring) == 1, "submit");
		while (final == 1) {
			int ret = ring_wait(ring, 1, 50);

			CHECK(ret >= 0 || err_in(ret, ERRS(ETIME, EINTR)), "wait: %s", en(ret));
			while ((cqe = zc_peek_cqe(ring))) {
				struct io_uring_cqe c = *cqe;
				uint64_t big[2];

				memcpy(big, (char *)cqe + 16, 16);
				zc_cqe_seen(ring);
				CHECK(c.user_data == UD(UDK_CAP, 0), "unexpected CQE 0x%llx (res %s) "
				      "after the end", (unsigned long long)c.user_data, en(c.res));
				if (c.flags & IORING_CQE_F_MORE)
					on_data(in, &s, 0, c.res, big, "capacity check");
				else
					final = c.res;
			}
			CHECK(now() < end, "capacity check: no -ENOMEM after %llu bytes",
			      (unsigned long long)s.got);
		}
	}
	pages = held_pages(in);
	CHECK(final == -ENOMEM, "capacity check ended with %s after %llu bytes", en(final),
	      (unsigned long long)s.got);
	CHECK(pages == in->npages, "at the end only %u of the %zu chunks of instance %u could "
	      "be filled: chunks were lost", pages, in->npages, in->id);
	give_back_all(in);
	rq_flush(in);
	in->streams = saved;
	stream_close(&s, false);
}

/* ---- the mixed engine: a ring, instances, streams, slots, garbage ----------------- */

enum act {
	A_REAP, A_RETURN, A_HOLD, A_GARBAGE, A_QUIESCE, A_TAILJUMP, A_CTRL, A_CANCEL,
	A_RANDRECV, A_SLOTREG, A_SLOTUNREG, A_SENDGOOD, A_SENDJUNK, A_RSRC, A_QUERY,
	A_SLEEP, A_NR
};


static const char *const act_label[A_NR] = {
	"reap", "return", "hold", "garbage", "quiesce", "tailjump", "ctrl", "cancel",
	"randrecv", "slotreg", "slotunreg", "sendgood", "sendjunk", "rsrc", "query", "sleep",
};

struct wcfg {
	const char *name;
	unsigned int w[A_NR];
	unsigned int steps;
	uint64_t main_bytes, victim_bytes, send_bytes;
	bool zcrx, victim, sends;
};

#define MAXREQ 48
struct rreq {
	bool live;
	uint32_t gen;
	int inst;		/* instance it names, -1 none */
	int stream;		/* stream it reads, -1 none */
	bool may_data;		/* the spec allows it to receive */
	bool main, skip;
	uint32_t limit, got;
	char why[40];		/* why it must fail */
	char desc[100];		/* what it was, for failure reports */
	int cancel_res;		/* what the last ASYNC_CANCEL of it said */
	unsigned int cancels;
};

#define NBLK 32
#define BLK 8192
#define MAXSEND 128
#define MAXEXP 4096
#define MAXSLOTS IORING_SEND_ZC_SLOTS_MAX
#define NSTRAY 256

struct sendreq {
	bool live;
	uint32_t gen;
	bool good, slotted, joined, want_notif, cqe_seen, may_stray;
	int exp;		/* its generation, slotted and joined */
	int blk;		/* good sends: the block it sends from */
	uint32_t len;
};

struct expn {			/* a closed (or open) generation of a slot */
	uint64_t tag;
	uint32_t gen;
	bool report, closed, done;
	unsigned int pending;	/* its sends whose CQE has not come */
};

struct sendside {
	int tx, rx;		/* the checked TCP stream */
	int udp, udp_sink, tcp_unconn;
	uint64_t seed, acked, recvd, total;
	uint8_t *buf, *scratch, *rbuf;
	int blk_owner[NBLK];	/* -1 free; exp index; or MAXEXP + send index */
	int inflight;		/* good send in flight, -1 none */
	struct msghdr msg;
	struct iovec iov[2];
	bool reg;
	uint32_t nr, epoch, first_gen;
	uint32_t gen[MAXSLOTS];
	int cur[MAXSLOTS];
	struct expn *exp;
	unsigned int nexp;
	struct sendreq sr[MAXSEND];
	uint32_t sgen;
	uint64_t stray[NSTRAY];	/* user_data that may still get a stray notification */
	unsigned int nstray;
	bool bufs_reg, files_reg;
	unsigned long sends, junk, notifs, regs, unregs;
};

struct world {
	const struct wcfg *cfg;
	struct rng *r;
	struct zc_ring ring;
	struct inst in[2];
	unsigned int nin;
	struct stream st[2];	/* 0: main, read by our own request; 1: victim */
	unsigned int nst;
	struct rreq rq[MAXREQ];
	uint32_t rq_gen;
	int main_req;
	bool victim_valid_live;	/* a request that may read the victim is live */
	int pipefd[2], devnull, listen_fd;
	int fixed[4];
	struct sendside ss;
	bool stop;
	unsigned int cancels;
	unsigned long acts[A_NR];
	double act_time[A_NR];
};

static void w_submit(struct world *w)
{
	int ret = ring_submit(&w->ring);

	CHECK(ret >= 0 || ret == -EBUSY || ret == -EAGAIN, "io_uring_enter(submit): %s",
	      en(ret));
}

static int rq_alloc(struct world *w)
{
	for (int i = 0; i < MAXREQ; i++)
		if (!w->rq[i].live) {
			struct rreq *q = &w->rq[i];

			memset(q, 0, sizeof(*q));
			q->live = true;
			q->gen = ++w->rq_gen & 0xffffff;
			q->inst = q->stream = -1;
			return i;
		}
	return -1;
}

static uint64_t rq_ud(struct world *w, int i)
{
	return UD(UDK_RECV, ((uint64_t)w->rq[i].gen << 8) | (unsigned int)i);
}

static void arm_main(struct world *w)
{
	struct rng *r = w->r;
	int i = rq_alloc(w);
	struct rreq *q;

	CHECK(i >= 0, "request table full");
	q = &w->rq[i];
	q->main = true;
	q->inst = 0;
	q->stream = 0;
	q->may_data = true;
	q->limit = chance(r, 20) ? (uint32_t)between(r, 1, 96 << 10) : 0;
	snprintf(q->desc, sizeof(q->desc), "main RECV_ZC 0x%llx len %u",
		 (unsigned long long)rq_ud(w, i), q->limit);
	prep_recv_zc(get_sqe(&w->ring), w->st[0].rx, w->in[0].id, q->limit, rq_ud(w, i),
		     chance(r, 20));
	w->in[0].armed++;
	w->main_req = i;
	note("arm main RECV_ZC (len %u) at byte %llu", q->limit,
	     (unsigned long long)w->st[0].got);
	w_submit(w);
}

/* ---- sends: the checked stream, slots and junk -------------------------------------- */

static int sr_alloc(struct world *w)
{
	for (int i = 0; i < MAXSEND; i++)
		if (!w->ss.sr[i].live) {
			memset(&w->ss.sr[i], 0, sizeof(w->ss.sr[i]));
			w->ss.sr[i].live = true;
			w->ss.sr[i].gen = ++w->ss.sgen & 0xffffff;
			w->ss.sr[i].exp = -1;
			w->ss.sr[i].blk = -1;
			return i;
		}
	return -1;
}

static uint64_t sr_ud(struct world *w, int i)
{
	return UD(UDK_SEND, ((uint64_t)w->ss.sr[i].gen << 8) | (unsigned int)i);
}

static int exp_new(struct sendside *ss, uint32_t slot)
{
	struct expn *e;

	/* reuse finished entries from the front once all are done */
	if (ss->nexp == MAXEXP) {
		unsigned int j = 0;

		for (unsigned int i = 0; i < ss->nexp; i++)
			if (!ss->exp[i].done)
				return -1;	/* keep it simple: no compaction with owners */
		ss->nexp = j;
		for (unsigned int b = 0; b < NBLK; b++)
			CHECK(ss->blk_owner[b] < 0 || ss->blk_owner[b] >= MAXEXP,
			      "block owned by a finished generation");
	}
	e = &ss->exp[ss->nexp];
	memset(e, 0, sizeof(*e));
	e->tag = SLOT_TAG(ss->epoch, slot);
	e->gen = ss->gen[slot];
	return ss->nexp++;
}

/* A joined send of slot: the open generation, created on first use. */
static int slot_join(struct sendside *ss, uint32_t slot, bool flush, bool report)
{
	int e = ss->cur[slot];

	if (e < 0) {
		e = exp_new(ss, slot);
		CHECK(e >= 0, "too many open generations");
		ss->cur[slot] = e;
	}
	ss->exp[e].pending++;
	ss->exp[e].report |= report;
	if (flush) {
		ss->exp[e].closed = true;
		ss->cur[slot] = -1;
		/* a 31-bit counter: from 0x7fffffff to 0 */
		ss->gen[slot] = (ss->gen[slot] + 1) & 0x7fffffff;
	}
	return e;
}

static void release_blocks(struct sendside *ss, int owner)
{
	for (int b = 0; b < NBLK; b++)
		if (ss->blk_owner[b] == owner) {
			/* the kernel is done with it: scribble over it */
			memset(ss->buf + b * BLK, 0xee, BLK);
			ss->blk_owner[b] = -1;
		}
}

static void on_notif(struct world *w, struct io_uring_cqe *c)
{
	struct sendside *ss = &w->ss;
	uint64_t ud = c->user_data;

	CHECK(!(c->flags & IORING_CQE_F_MORE), "notification with F_MORE");
	ss->notifs++;
	if (UD_KIND(ud) == UDK_SEND) {
		unsigned int i = ud & 0xff;
		struct sendreq *s = &ss->sr[i % MAXSEND];

		if (i < MAXSEND && s->live && s->gen == ((ud >> 8) & 0xffffff) && s->want_notif) {
			CHECK(s->cqe_seen, "per-request notification before its send's CQE");
			CHECK(c->res == 0 || c->res == (int)IORING_NOTIF_USAGE_ZC_COPIED,
			      "per-request notification res 0x%x", c->res);
			if (s->good)
				release_blocks(ss, MAXEXP + (int)i);
			s->live = false;
			return;
		}
		for (unsigned int k = 0; k < ss->nstray; k++)
			if (ss->stray[k] == ud) {
				ss->stray[k] = ss->stray[--ss->nstray];
				return;
			}
		fail_at(__LINE__, "notification for send 0x%llx that expects none (twice?)",
			(unsigned long long)ud);
	}
	CHECK((ud >> 56) == TAG_PREFIX, "notification CQE with user_data 0x%llx, no slot's tag",
	      (unsigned long long)ud);
	for (unsigned int i = 0; i < ss->nexp; i++) {
		struct expn *e = &ss->exp[i];

		if (e->done || e->tag != ud || e->gen != ((uint32_t)c->res & 0x7fffffff))
			continue;
		CHECK(e->closed, "notification for generation %u of slot tag 0x%llx, still open",
		      e->gen, (unsigned long long)ud);
		CHECK(e->pending == 0, "notification for generation %u of tag 0x%llx before "
		      "the CQEs of %u of its sends", e->gen, (unsigned long long)ud, e->pending);
		if (!e->report)
			CHECK(!((uint32_t)c->res & 0x80000000u),
			      "generation %u: the copied bit without REPORT_USAGE", e->gen);
		e->done = true;
		release_blocks(ss, (int)i);
		return;
	}
	fail_at(__LINE__, "notification (tag 0x%llx, res 0x%x) for no closed generation with "
		"sends, or a second one", (unsigned long long)ud, (uint32_t)c->res);
}

static void on_send_cqe(struct world *w, struct io_uring_cqe *c)
{
	struct sendside *ss = &w->ss;
	uint64_t ud = c->user_data;
	unsigned int i = ud & 0xff;
	struct sendreq *s = &ss->sr[i % MAXSEND];
	bool more = c->flags & IORING_CQE_F_MORE;

	CHECK(i < MAXSEND && s->live && s->gen == ((ud >> 8) & 0xffffff) && !s->cqe_seen,
	      "send CQE 0x%llx for no send in flight (twice?)", (unsigned long long)ud);
	s->cqe_seen = true;
	if (s->slotted) {
		CHECK(!more, "a slotted send's CQE has F_MORE (res %s)", en(c->res));
		if (s->joined) {
			CHECK(ss->exp[s->exp].pending > 0, "pending count");
			ss->exp[s->exp].pending--;
		} else {
			CHECK(c->res < 0, "a slotted send the spec refuses returned %d", c->res);
		}
	}
	if (s->good) {
		CHECK(c->res == (int)s->len || c->res == -ECANCELED,
		      "checked stream: a send of %u bytes returned %s", s->len, en(c->res));
		if (c->res > 0)
			ss->acked += c->res;
		ss->inflight = -1;
	} else {
		CHECK(c->res >= 0 || err_in(c->res, ERRS(EINVAL, EFAULT, EBADF, ENOTSOCK, EPIPE,
			ECONNRESET, ENOTCONN, EOPNOTSUPP, EAGAIN, EMSGSIZE, EDESTADDRREQ,
			EAFNOSUPPORT, EISCONN, ECANCELED, EACCES, ENOBUFS, ENOMEM, EINTR, EPERM)),
		      "junk send returned %s", en(c->res));
	}
	if (!s->slotted) {
		if (more) {
			s->want_notif = true;
			return;	/* lives on until its notification */
		}
		/* refused: stock 6.1 may still post a notification for it */
		if (ss->nstray < NSTRAY)
			ss->stray[ss->nstray++] = ud;
		else
			s->may_stray = true;
		if (s->good)
			release_blocks(ss, MAXEXP + (int)i);
	}
	s->live = false;
}

/* Read what arrived on the checked send stream. */
static void drain_send_rx(struct world *w)
{
	struct sendside *ss = &w->ss;
	char junk[2048];

	if (ss->rx < 0)
		return;
	for (;;) {
		ssize_t n = recv(ss->rx, ss->rbuf, 65536, MSG_DONTWAIT);

		if (n <= 0)
			break;
		CHECK(ss->recvd + n <= ss->acked + (ss->inflight >= 0 ? ss->sr[ss->inflight].len : 0),
		      "checked send stream: %llu bytes arrived, %llu sent",
		      (unsigned long long)(ss->recvd + n), (unsigned long long)ss->acked);
		long bad = zc_pattern_check(ss->rbuf, n, ss->seed, ss->recvd);

		CHECK(bad < 0, "checked send stream: byte %llu is wrong",
		      (unsigned long long)(ss->recvd + bad));
		ss->recvd += n;
	}
	while (recv(ss->udp_sink, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

static void sends_open(struct world *w)
{
	struct sendside *ss = &w->ss;
	int ret;

	memset(ss, 0, sizeof(*ss));
	ss->exp = calloc(MAXEXP, sizeof(*ss->exp));
	ss->buf = mmap(NULL, NBLK * BLK + 65536, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ss->rbuf = malloc(65536);
	CHECK(ss->exp && ss->buf != MAP_FAILED && ss->rbuf, "alloc");
	ss->scratch = ss->buf + NBLK * BLK;
	for (int b = 0; b < NBLK; b++)
		ss->blk_owner[b] = -1;
	for (unsigned int s = 0; s < MAXSLOTS; s++)
		ss->cur[s] = -1;
	ss->inflight = -1;
	ss->seed = rnd(w->r);
	ss->total = w->cfg->send_bytes;
	ret = make_pair(w->r, SOCK_STREAM, &ss->tx, &ss->rx);
	CHECK(!ret, "send pair: %s", en(ret));
	ret = make_pair(w->r, SOCK_DGRAM, &ss->udp, &ss->udp_sink);
	CHECK(!ret, "UDP pair: %s", en(ret));
	ss->tcp_unconn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int slots_register(struct world *w, bool junk)
{
	struct sendside *ss = &w->ss;
	struct rng *r = w->r;
	uint64_t *tags = (uint64_t *)(ss->scratch + 32768);
	struct io_uring_send_zc_slots_reg *reg = (void *)(ss->scratch + 32768 - 64);
	unsigned int nr = PICK(r, 1, 2, 4, 8, 32, 64), nr_args = 1;
	unsigned int e = 0;
	uint64_t arg = (uintptr_t)reg;
	uint32_t first = PICK(r, 0, 0, 7, 0x7ffffffe, 0x7fffffff, (uint32_t)rnd(r) >> 1);
	char what[80] = "";
	int ret;

	memset(reg, 0, sizeof(*reg));
	if (junk) {
		switch (below(r, 8)) {
		case 0: nr = PICK(r, 0, MAXSLOTS + 1, 0xffffffff, 1u << 20); e |= B(INVAL); break;
		case 1: reg->__resv[below(r, 2)] = rnd(r) | 1; e |= B(INVAL); break;
		case 2: nr_args = PICK(r, 0, 2, 1000); e |= B(INVAL); break;
		case 3: arg = chance(r, 50) ? 0 : bad_ptr(r); e |= arg ? B(FAULT) : B(INVAL);
			break;
		case 4:	/* (the guard itself: a pointer 8 bytes before it is fine) */
			reg->tags = bad_ptr(r);
			if (reg->tags == (uintptr_t)H.guard - 8)
				reg->tags = (uintptr_t)H.guard;
			e |= B(FAULT);
			break;
		case 5: /* the last tag in the guard; with one, right before it */
			if (nr > 1) {
				reg->tags = (uintptr_t)H.guard - 8 * (nr - 1);
				e |= B(FAULT);
			} else {
				reg->tags = (uintptr_t)H.guard - 8;
				*(uint64_t *)(H.guard - 8) = SLOT_TAG(ss->epoch, 0);
			}
			break;
		case 6: first = 0x80000000u | (uint32_t)rnd(r); e |= B(INVAL); break;
		default: nr = MAXSLOTS; break;
		}
		snprintf(what, sizeof(what), " (junk %u)", e);
	}
	if (!reg->tags) {
		reg->tags = (uintptr_t)tags;
		for (unsigned int i = 0; i < nr && i < MAXSLOTS; i++)
			tags[i] = SLOT_TAG(ss->epoch, i);
	}
	reg->nr = nr;
	reg->first_generation = first;
	if (ss->reg)
		e |= B(BUSY);
	note("register %u slots from generation %u%s", nr, first, what);
	g_blocking = "IORING_REGISTER_SEND_ZC_SLOTS";
	ret = zc_sys_register(w->ring.fd, IORING_REGISTER_SEND_ZC_SLOTS, (void *)(uintptr_t)arg,
			      nr_args);
	g_blocking = NULL;
	if (e) {
		char eb[80];

		ebits_str(e, eb, sizeof(eb));
		CHECK(ret < 0 && (ebit(ret) & e), "slot registration%s returned %s, one of %s "
		      "expected", what, en(ret), eb);
		return ret;
	}
	CHECK(ret == 0, "slot registration of %u returned %s", nr, en(ret));
	ss->reg = true;
	ss->nr = nr;
	ss->first_gen = first;
	for (unsigned int i = 0; i < nr; i++) {
		ss->gen[i] = first;
		ss->cur[i] = -1;
	}
	ss->regs++;
	return 0;
}

static void slots_unregister(struct world *w, bool junk)
{
	struct sendside *ss = &w->ss;
	void *arg = NULL;
	unsigned int nr_args = 0;
	int ret;

	if (junk) {
		if (chance(w->r, 50))
			arg = ss->scratch;
		else
			nr_args = 1;
	}
	note("unregister slots%s (%s)", junk ? " with junk args" : "",
	     ss->reg ? "registered" : "none");
	g_blocking = "IORING_UNREGISTER_SEND_ZC_SLOTS";
	ret = zc_sys_register(w->ring.fd, IORING_UNREGISTER_SEND_ZC_SLOTS, arg, nr_args);
	g_blocking = NULL;
	if (junk) {
		CHECK(ret == -EINVAL, "slot unregistration with arg/nr_args set: %s", en(ret));
		return;
	}
	if (!ss->reg) {
		CHECK(ret == -ENXIO, "slot unregistration without slots: %s", en(ret));
		return;
	}
	CHECK(ret == 0, "slot unregistration: %s", en(ret));
	/* every open generation closes: each with sends notifies */
	for (unsigned int i = 0; i < ss->nr; i++)
		if (ss->cur[i] >= 0) {
			ss->exp[ss->cur[i]].closed = true;
			ss->cur[i] = -1;
		}
	ss->reg = false;
	ss->epoch++;
	ss->unregs++;
}

static int free_block(struct sendside *ss, unsigned int *nfree)
{
	int b = -1;

	*nfree = 0;
	for (int i = 0; i < NBLK; i++)
		if (ss->blk_owner[i] == -1) {
			(*nfree)++;
			if (b < 0)
				b = i;
		}
	return b;
}

/* The next piece of the checked stream, slotted or not. */
static void send_good(struct world *w)
{
	struct sendside *ss = &w->ss;
	struct rng *r = w->r;
	struct io_uring_sqe *sqe;
	unsigned int nfree, len;
	int b, i;
	bool slotted, flush = false, report = chance(r, 20);

	if (ss->inflight >= 0 || ss->acked >= ss->total)
		return;
	b = free_block(ss, &nfree);
	if (b < 0)
		return;
	i = sr_alloc(w);
	if (i < 0)
		return;
	len = between(r, 1, BLK);
	if (len > ss->total - ss->acked)
		len = ss->total - ss->acked;
	zc_pattern_fill(ss->buf + b * BLK, len, ss->seed, ss->acked);
	slotted = ss->reg && chance(r, 75);
	sqe = get_sqe(&w->ring);
	if (chance(r, 20)) {
		ss->iov[0] = (struct iovec){ ss->buf + b * BLK, len / 2 };
		ss->iov[1] = (struct iovec){ ss->buf + b * BLK + len / 2, len - len / 2 };
		memset(&ss->msg, 0, sizeof(ss->msg));
		ss->msg.msg_iov = ss->iov;
		ss->msg.msg_iovlen = 2;
		sqe->opcode = IORING_OP_SENDMSG_ZC;
		sqe->fd = ss->tx;
		sqe->addr = (uintptr_t)&ss->msg;
		sqe->len = 1;
	} else {
		zc_prep_send_zc(sqe, ss->tx, ss->buf + b * BLK, len, 0, 0);
		if (ss->bufs_reg && chance(r, 30)) {
			sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
			sqe->buf_index = 0;
		}
	}
	sqe->msg_flags = MSG_WAITALL;
	sqe->user_data = sr_ud(w, i);
	if (report)
		sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
	ss->sr[i].good = true;
	ss->sr[i].len = len;
	ss->sr[i].blk = b;
	ss->sr[i].slotted = slotted;
	if (slotted) {
		uint32_t slot = below(r, ss->nr);

		flush = nfree < 4 || chance(r, 25);
		sqe->ioprio |= IORING_SEND_ZC_SLOT | (flush ? IORING_SEND_ZC_SLOT_FLUSH : 0);
		sqe->send_zc_slot = slot;
		ss->sr[i].joined = true;
		ss->sr[i].exp = slot_join(ss, slot, flush, report);
		ss->blk_owner[b] = ss->sr[i].exp;
		note("good %s of %u at %llu on slot %u%s (ioprio 0x%x flags 0x%x)",
		     sqe->opcode == IORING_OP_SEND_ZC ? "SEND_ZC" : "SENDMSG_ZC", len,
		     (unsigned long long)ss->acked, slot, flush ? " flush" : "", sqe->ioprio,
		     sqe->flags);
	} else {
		ss->blk_owner[b] = MAXEXP + i;
		note("good %s of %u at %llu", sqe->opcode == IORING_OP_SEND_ZC ? "SEND_ZC" :
		     "SENDMSG_ZC", len, (unsigned long long)ss->acked);
	}
	ss->inflight = i;
	ss->sends++;
	w_submit(w);
}

/* A send with random fields at something that is not the checked stream. */
static void send_junk(struct world *w)
{
	struct sendside *ss = &w->ss;
	struct rng *r = w->r;
	struct io_uring_sqe *sqe;
	uint16_t ioprio;
	uint32_t slot;
	bool joins = true, slotted, fixed_file = false;
	char why[48] = "";
	int i = sr_alloc(w);

	if (i < 0)
		return;
	sqe = get_sqe(&w->ring);
	sqe->opcode = chance(r, 75) ? IORING_OP_SEND_ZC : IORING_OP_SENDMSG_ZC;
	switch (below(r, 7)) {
	case 0: sqe->fd = ss->udp; break;
	case 1: sqe->fd = ss->tcp_unconn; break;
	case 2: sqe->fd = w->pipefd[1]; break;
	case 3: sqe->fd = 1000; break;
	case 4: sqe->fd = w->ring.fd; break;
	case 5:
		if (ss->files_reg) {
			sqe->flags |= IOSQE_FIXED_FILE;
			sqe->fd = below(r, 6);
			fixed_file = true;
			break;
		}
		/* fall through */
	default: sqe->fd = ss->udp; break;
	}
	(void)fixed_file;
	ioprio = PICK(r, 0, IORING_SEND_ZC_SLOT, IORING_SEND_ZC_SLOT, IORING_SEND_ZC_SLOT |
		      IORING_SEND_ZC_SLOT_FLUSH, IORING_SEND_ZC_SLOT_FLUSH,
		      IORING_SEND_ZC_SLOT | IORING_SEND_ZC_REPORT_USAGE,
		      IORING_SEND_ZC_SLOT | IORING_RECVSEND_FIXED_BUF,
		      IORING_SEND_ZC_SLOT | IORING_RECVSEND_POLL_FIRST, IORING_SEND_ZC_REPORT_USAGE,
		      (uint16_t)rnd(r));
	sqe->ioprio = ioprio;
	slot = PICK(r, 0, 0, 1, ss->nr ? ss->nr - 1 : 0, ss->nr, ss->nr + 1, 0xffff,
		    (uint16_t)rnd(r));
	sqe->send_zc_slot = slot;
	if (sqe->opcode == IORING_OP_SEND_ZC) {
		sqe->addr = PICK(r, (uintptr_t)ss->scratch, (uintptr_t)ss->scratch + 100,
				 (uintptr_t)ss->scratch, 0, bad_ptr(r));
		sqe->len = PICK(r, 0, 1, 100, 1400, 4096, 65000, 65536, 1u << 30,
				(uint32_t)rnd(r));
		if (sqe->addr && sqe->addr >= (uintptr_t)ss->scratch &&
		    sqe->addr < (uintptr_t)ss->scratch + 65536 && sqe->len > 65536 - 100)
			sqe->len = 1000;	/* a valid buffer stays inside scratch */
		if (chance(r, 10)) {	/* a destination address */
			struct sockaddr_in *sin = (void *)(ss->scratch + 60000);

			memset(sin, 0, sizeof(*sin));
			sin->sin_family = AF_INET;
			sin->sin_port = htons(9);
			sin->sin_addr.s_addr = htonl(0x7f000001);
			sqe->addr2 = chance(r, 70) ? (uintptr_t)sin : bad_ptr(r);
			sqe->addr_len = PICK(r, 16, 0, 28, 3, 0xffff);
		}
	} else {
		struct msghdr *m = (void *)(ss->scratch + 61000);
		struct iovec *iov = (void *)(ss->scratch + 61200);

		memset(m, 0, sizeof(*m));
		iov[0] = (struct iovec){ ss->scratch, between(r, 0, 4000) };
		iov[1] = (struct iovec){ (void *)(uintptr_t)bad_ptr(r), 10 };
		m->msg_iov = iov;
		m->msg_iovlen = PICK(r, 1, 1, 2, 0, 1024, 1u << 20);
		if (chance(r, 10)) {
			m->msg_control = ss->scratch + 62000;
			m->msg_controllen = PICK(r, 1, 16, 64, 4096);
			for (unsigned int k = 0; k < 64; k++)
				((uint8_t *)m->msg_control)[k] = (uint8_t)rnd(r);
		}
		sqe->addr = chance(r, 85) ? (uintptr_t)m : bad_ptr(r);
		sqe->len = 1;
		if (chance(r, 10)) {
			sqe->addr2 = rnd(r);
			sqe->addr_len = (uint16_t)rnd(r);
		}
	}
	sqe->msg_flags = PICK(r, 0, 0, MSG_DONTWAIT, MSG_MORE, MSG_WAITALL, MSG_NOSIGNAL,
			      MSG_OOB, (uint32_t)rnd(r));
	if (ioprio & IORING_RECVSEND_FIXED_BUF)
		sqe->buf_index = PICK(r, 0, 1, 2, 0xffff);
	if (chance(r, 4))
		sqe->addr3 = rnd(r) | 1;
	if (chance(r, 4))
		sqe->__pad2[0] = rnd(r) | 1;
	if (chance(r, 10))
		sqe->flags |= PICK(r, IOSQE_ASYNC, IOSQE_CQE_SKIP_SUCCESS, IOSQE_BUFFER_SELECT,
				   IOSQE_IO_HARDLINK, 1u << 7);
	if (chance(r, 3))
		sqe->personality = (uint16_t)rnd(r) | 1;
	sqe->user_data = sr_ud(w, i);

	/* will it join a generation? the series' rules, in order */
	slotted = ioprio & (IORING_SEND_ZC_SLOT | IORING_SEND_ZC_SLOT_FLUSH);
	if (sqe->flags & ~(IOSQE_FIXED_FILE | IOSQE_IO_DRAIN | IOSQE_IO_LINK |
			   IOSQE_IO_HARDLINK | IOSQE_ASYNC | IOSQE_BUFFER_SELECT |
			   IOSQE_CQE_SKIP_SUCCESS))
		joins = false, snprintf(why, sizeof(why), "unknown sqe flag");
	else if (sqe->flags & IOSQE_BUFFER_SELECT)
		joins = false, snprintf(why, sizeof(why), "BUFFER_SELECT");
	else if (sqe->personality)
		joins = false, snprintf(why, sizeof(why), "personality");
	else if (sqe->addr3 || sqe->__pad2[0])
		joins = false, snprintf(why, sizeof(why), "addr3/__pad2");
	else if (sqe->flags & IOSQE_CQE_SKIP_SUCCESS)
		joins = false, snprintf(why, sizeof(why), "CQE_SKIP_SUCCESS");
	else if (ioprio & ~(IORING_RECVSEND_POLL_FIRST | IORING_RECVSEND_FIXED_BUF |
			    IORING_SEND_ZC_REPORT_USAGE | IORING_SEND_ZC_SLOT |
			    IORING_SEND_ZC_SLOT_FLUSH))
		joins = false, snprintf(why, sizeof(why), "ioprio 0x%x", ioprio);
	else if (slotted && !(ioprio & IORING_SEND_ZC_SLOT))
		joins = false, snprintf(why, sizeof(why), "FLUSH without SLOT");
	else if (slotted && (!ss->reg || slot >= ss->nr))
		joins = false, snprintf(why, sizeof(why), "slot %u of %u", slot,
					 ss->reg ? ss->nr : 0);
	else if (ioprio & IORING_RECVSEND_FIXED_BUF &&
		 (sqe->opcode != IORING_OP_SEND_ZC || !ss->bufs_reg || sqe->buf_index >= 2))
		joins = false, snprintf(why, sizeof(why), "FIXED_BUF %u", sqe->buf_index);
	else if (slotted && sqe->opcode == IORING_OP_SENDMSG_ZC && (sqe->addr2 || sqe->addr_len))
		joins = false, snprintf(why, sizeof(why), "SENDMSG_ZC addr2");
	ss->sr[i].slotted = slotted;
	if (slotted && joins) {
		ss->sr[i].joined = true;
		ss->sr[i].exp = slot_join(ss, slot, ioprio & IORING_SEND_ZC_SLOT_FLUSH,
					  ioprio & IORING_SEND_ZC_REPORT_USAGE);
	}
	/* CQE_SKIP on a refused send still posts; on others it must be refused */
	note("junk %s fd %d ioprio 0x%x slot %u len %u flags 0x%x: %s",
	     sqe->opcode == IORING_OP_SEND_ZC ? "SEND_ZC" : "SENDMSG_ZC", sqe->fd, ioprio, slot,
	     sqe->len, sqe->flags, slotted ? (joins ? "joins" : why) : "no slot");
	ss->junk++;
	w_submit(w);
}

/* ---- random RECV_ZC SQEs ---------------------------------------------------------- */

static const char *fd_name(struct world *w, int fd, bool fixed)
{
	if (fixed)
		return fd == 0 ? "fixed:victim" : fd == 1 ? "fixed:udp" : fd == 2 ? "fixed:pipe" :
			fd == 4 ? "fixed:listen" : fd == 5 ? "fixed:udp-sink" : "fixed:none";
	if (w->nst > 1 && fd == w->st[1].rx)
		return "victim";
	if (fd == w->listen_fd)
		return "listen";
	if (fd == w->pipefd[0])
		return "pipe";
	if (fd == w->devnull)
		return "/dev/null";
	if (fd == w->ring.fd)
		return "ring";
	if (fd >= 0 && fd == w->ss.udp_sink)
		return "udp-sink";
	if (fd >= 0 && fd == w->ss.tcp_unconn)
		return "unconnected-tcp";
	return "no file";
}

static void recv_random(struct world *w)
{
	struct rng *r = w->r;
	unsigned int n = between(r, 1, 4);
	bool linked = false;	/* the previous SQE links to this one */

	for (unsigned int k = 0; k < n; k++) {
		int i = rq_alloc(w);
		struct rreq *q;
		struct io_uring_sqe *sqe;
		bool victim = false, tcp_other = false;
		uint32_t idx;

		if (i < 0)
			break;
		q = &w->rq[i];
		sqe = get_sqe(&w->ring);
		sqe->opcode = IORING_OP_RECV_ZC;
		switch (below(r, 10)) {
		case 0: case 1: case 2:
			if (w->nst > 1 && !w->st[1].eof) {
				sqe->fd = w->st[1].rx;
				victim = true;
				break;
			}
			sqe->fd = w->listen_fd;
			tcp_other = true;
			break;
		case 3: sqe->fd = w->pipefd[0]; break;
		case 4: sqe->fd = w->ss.udp_sink >= 0 ? w->ss.udp_sink : w->devnull; break;
		case 5: sqe->fd = w->listen_fd; tcp_other = true; break;
		case 6: sqe->fd = w->ss.tcp_unconn >= 0 ? w->ss.tcp_unconn : w->devnull; break;
		case 7: sqe->fd = PICK(r, 1000, -1, w->ring.fd, w->devnull); break;
		default:
			if (w->ss.files_reg) {
				sqe->flags |= IOSQE_FIXED_FILE;
				sqe->fd = below(r, 6);
				victim = sqe->fd == 0 && w->nst > 1 && !w->st[1].eof;
				if (sqe->fd == 0 && !victim)
					sqe->fd = 1;
			} else {
				sqe->fd = w->pipefd[0];
			}
			break;
		}
		(void)tcp_other;
		sqe->ioprio = chance(r, 70) ? IORING_RECV_MULTISHOT |
			(chance(r, 20) ? IORING_RECVSEND_POLL_FIRST : 0) : (uint16_t)rnd(r);
		sqe->len = PICK(r, 0, 0, 1, 100, 4096, 65536, (uint32_t)rnd(r));
		idx = chance(r, 80) ? w->in[below(r, w->nin)].id :
			(uint32_t)PICK(r, 2, 7, 2047, 2048, 0xffffffff, rnd(r));
		sqe->zcrx_ifq_idx = idx;
		if (chance(r, 6))
			sqe->addr = chance(r, 50) ? rnd(r) : (uintptr_t)H.rw;
		if (chance(r, 6))
			sqe->addr2 = rnd(r) | 1;
		if (chance(r, 6))
			sqe->addr3 = rnd(r) | 1;
		if (chance(r, 6))
			sqe->msg_flags = PICK(r, MSG_WAITALL, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC,
					      (uint32_t)rnd(r));
		if (chance(r, 5))
			sqe->buf_index = (uint16_t)rnd(r);
		if (chance(r, 3))
			sqe->personality = (uint16_t)rnd(r) | 1;
		if (chance(r, 4))
			sqe->__pad2[0] = rnd(r);
		if (chance(r, 12))
			sqe->flags |= PICK(r, IOSQE_ASYNC, IOSQE_CQE_SKIP_SUCCESS,
					   IOSQE_BUFFER_SELECT, IOSQE_IO_HARDLINK, IOSQE_IO_LINK,
					   1u << 7);
		/* the last SQE of the batch ends any link */
		if (k == n - 1)
			sqe->flags &= ~(IOSQE_IO_LINK | IOSQE_IO_HARDLINK);

		/* what the spec says of it */
		q->may_data = victim;
		q->why[0] = 0;
		if (!(sqe->ioprio & IORING_RECV_MULTISHOT) ||
		    sqe->ioprio & ~(IORING_RECV_MULTISHOT | IORING_RECVSEND_POLL_FIRST))
			snprintf(q->why, sizeof(q->why), "ioprio 0x%x", sqe->ioprio);
		else if (sqe->addr || sqe->addr2 || sqe->addr3 || sqe->msg_flags)
			snprintf(q->why, sizeof(q->why), "addr/addr2/addr3/msg_flags set");
		else if (sqe->flags & (IOSQE_BUFFER_SELECT | (1u << 7)))
			snprintf(q->why, sizeof(q->why), "sqe flags 0x%x", sqe->flags);
		else if (sqe->personality)
			snprintf(q->why, sizeof(q->why), "personality %u", sqe->personality);
		if (q->why[0])
			q->may_data = false;
		q->inst = -1;
		for (unsigned int j = 0; j < w->nin; j++)
			if (w->in[j].id == idx)
				q->inst = j;
		if (q->inst < 0) {
			q->may_data = false;
			if (!q->why[0])
				snprintf(q->why, sizeof(q->why), "zcrx id %u", idx);
		}
		/* one request that may read the victim at a time keeps its order known */
		if (q->may_data && w->victim_valid_live) {
			sqe->addr3 = 1;
			q->may_data = false;
			snprintf(q->why, sizeof(q->why), "addr3 set");
		}
		if (q->may_data) {
			sqe->flags &= ~IOSQE_CQE_SKIP_SUCCESS;
			q->stream = 1;
			q->limit = sqe->len;
			w->victim_valid_live = true;
		}
		q->skip = sqe->flags & IOSQE_CQE_SKIP_SUCCESS;
		if (q->inst >= 0)
			w->in[q->inst].armed++;
		sqe->user_data = rq_ud(w, i);
		snprintf(q->desc, sizeof(q->desc), "%sRECV_ZC 0x%llx on %s ioprio 0x%x len %u id %u "
			 "flags 0x%x: %s", linked ? "linked " : "", (unsigned long long)sqe->user_data,
			 fd_name(w, sqe->fd, sqe->flags & IOSQE_FIXED_FILE), sqe->ioprio, sqe->len,
			 idx, sqe->flags, q->may_data ? "may receive" : q->why[0] ? q->why : "fails");
		note("random %s", q->desc);
		linked = sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK);
	}
	w_submit(w);
}

/* ---- CQE dispatch ----------------------------------------------------------------- */

static void end_request(struct world *w, int i)
{
	struct rreq *q = &w->rq[i];

	q->live = false;
	if (q->inst >= 0)
		w->in[q->inst].armed--;
	if (q->stream == 1)
		w->victim_valid_live = false;
	if (q->main)
		w->main_req = -1;
}

static void on_recv_cqe(struct world *w, struct io_uring_cqe *c, const uint64_t big[2])
{
	uint64_t ud = c->user_data;
	unsigned int i = ud & 0xff;
	struct rreq *q = &w->rq[i % MAXREQ];
	char who[64];

	CHECK(i < MAXREQ && q->live && q->gen == ((ud >> 8) & 0xffffff),
	      "RECV_ZC CQE (res %s, flags 0x%x) for a request that already ended",
	      en(c->res), c->flags);
	snprintf(who, sizeof(who), "%s RECV_ZC", q->main ? "main" : "random");
	if (c->flags & IORING_CQE_F_MORE) {
		CHECK(q->may_data, "a RECV_ZC the spec refuses (%s) received %d bytes",
		      q->why, c->res);
		on_data(&w->in[q->inst], q->stream >= 0 ? &w->st[q->stream] : NULL, q->stream,
			c->res, big, who);
		q->got += c->res;
		CHECK(!q->limit || q->got <= q->limit, "%s: %u bytes for a limit of %u", who,
		      q->got, q->limit);
		return;
	}
	CHECK(big[0] == 0 && big[1] == 0, "%s: final CQE (res %s) names offset 0x%llx", who,
	      en(c->res), (unsigned long long)big[0]);
	note("end of %s: %s", q->desc, en(c->res));
	end_request(w, i);
	if (!q->may_data) {
		CHECK(c->res < 0, "a RECV_ZC the spec refuses (%s) ended with %d", q->why, c->res);
		/* (-EAGAIN: POLL_FIRST on a file that cannot poll, as stock 6.1) */
		CHECK(err_in(c->res, ERRS(EINVAL, EBADF, ENOTSOCK, EPROTONOSUPPORT, ENOTCONN,
					  EOPNOTSUPP, ECANCELED, EACCES, EFAULT, EAGAIN)),
		      "a RECV_ZC refused for %s ended with %s", q->why, en(c->res));
		return;
	}
	if (c->res == 0) {
		struct stream *s = &w->st[q->stream];

		if (q->limit && q->got == q->limit)
			return;
		CHECK(s->got == s->total, "%s: EOF after %llu of %llu bytes of %s", who,
		      (unsigned long long)s->got, (unsigned long long)s->total, s->name);
		s->eof = true;
		note("%s: EOF", s->name);
		return;
	}
	CHECK(err_in(c->res, ERRS(ENOMEM, ENOSPC, ECANCELED)) ||
	      (!q->main && err_in(c->res, ERRS(EINVAL, EOPNOTSUPP))),
	      "%s ended with %s", who, en(c->res));
	if (c->res == -ENOMEM && q->inst >= 0) {
		struct inst *in = &w->in[q->inst];

		/* hand some back before the request is re-armed */
		note("%s: -ENOMEM holding %u CQEs on %u pages", who, in->nheld, held_pages(in));
		while (in->nheld && chance(w->r, 70))
			give_back(in, below(w->r, in->nheld), w->r);
		if (in->nheld > in->npages / 2)
			give_back_all(in);
		rq_publish(in);
	}
}

static void dispatch(struct world *w, struct io_uring_cqe *c, const uint64_t big[2])
{
	uint64_t ud = c->user_data;

	if (c->flags & IORING_CQE_F_NOTIF) {
		on_notif(w, c);
		return;
	}
	switch (UD_KIND(ud)) {
	case UDK_RECV:
		on_recv_cqe(w, c, big);
		return;
	case UDK_CANCEL:
		CHECK(c->res >= 0 || err_in(c->res, ERRS(ENOENT, EALREADY, EINVAL, EBADF)),
		      "ASYNC_CANCEL returned %s", en(c->res));
		note("cancel %llu: %s", (unsigned long long)(ud & 0xffffffff), en(c->res));
		if ((ud >> 32) & 0xffffff) {
			unsigned int t = ((ud >> 32) & 0xffffff) - 1;

			if (t < MAXREQ)
				w->rq[t].cancel_res = c->res;
		}
		return;
	case UDK_SEND:
		on_send_cqe(w, c);
		return;
	case UDK_MISC:
		return;
	default:
		fail_at(__LINE__, "CQE with unknown user_data 0x%llx (res %s, flags 0x%x)",
			(unsigned long long)ud, en(c->res), c->flags);
	}
}

/* Run task work (waiting up to ms for a CQE) and handle every CQE. */
static void reap(struct world *w, int ms)
{
	struct io_uring_cqe *cqe;
	int ret = ring_wait(&w->ring, ms ? 1 : 0, ms);

	CHECK(ret >= 0 || err_in(ret, ERRS(ETIME, EINTR, EBUSY, EAGAIN)),
	      "io_uring_enter(GETEVENTS): %s", en(ret));
	while ((cqe = zc_peek_cqe(&w->ring))) {
		struct io_uring_cqe c = *cqe;
		uint64_t big[2];

		memcpy(big, (char *)cqe + 16, 16);
		zc_cqe_seen(&w->ring);
		dispatch(w, &c, big);
	}
	drain_send_rx(w);
}

/* ---- refill ring actions ---------------------------------------------------------- */

/* Hand back a random part of what we hold, with safe garbage mixed in. */
static void act_return(struct world *w, struct inst *in, bool garbage_too)
{
	struct rng *r = w->r;
	unsigned int k;

	if (in->jumped)
		return;
	/* Every CQE posted is seen first: the chunks held are all we hold. */
	reap(w, 0);
	k = in->nheld ? between(r, 1, in->nheld) : 0;
	for (unsigned int j = 0; j < k; j++) {
		/*
		 * A duplicate only while no request is armed on the instance.
		 * An armed request may still be filling the chunk (it keeps a
		 * partly filled chunk from one issue to the next), and its
		 * next CQE for the rest of it may come before the kernel takes
		 * the duplicate: the duplicate is then that CQE's return, and
		 * the chunk is free while user space holds the CQE. Refill
		 * entries do not say which CQE they return (the ABI, as
		 * mainline's), so the kernel cannot tell;
		 * Documentation/networking/iou-zcrx.rst says so. With no
		 * request armed no CQE can name the chunk before the kernel
		 * takes both entries, whenever it takes them.
		 */
		bool dup = chance(r, 10) && !in->armed;
		unsigned int i;
		size_t page;
		uint64_t off;

		if (!in->nheld)
			break;
		i = below(r, in->nheld);
		page = in->held[i].off / PAGE;
		off = in->held[i].off;
		give_back(in, i, r);
		/*
		 * The same chunk again, now that user space holds none of
		 * it: the kernel must ignore the extra return.
		 */
		if (dup && in->cnt[page] == 0) {
			rq_put(in, off | in->areg.rq_area_token, 0, 0);
			in->garbage++;
		}
		if (garbage_too && chance(r, 10))
			rq_put_safe_garbage(in, r);
	}
	rq_publish(in);
	note("returned %u CQEs to instance %u (%u held, head %u tail %u)", k, in->id,
	     in->nheld, rq_head(in), in->tail);
}

static void act_garbage(struct world *w, struct inst *in)
{
	unsigned int k = between(w->r, 1, in->entries < 8 ? in->entries : 8);

	if (in->jumped)
		return;
	for (unsigned int j = 0; j < k; j++)
		rq_put_safe_garbage(in, w->r);
	rq_publish(in);
	note("%u garbage refill entries on instance %u", k, in->id);
}

/* Cancel request i; the result is kept with it. */
static void cancel_req(struct world *w, int i)
{
	struct io_uring_sqe *sqe = get_sqe(&w->ring);

	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->addr = rq_ud(w, i);
	sqe->user_data = UD(UDK_CANCEL, ((uint64_t)(i + 1) << 32) | (w->cancels++ & 0xffffffff));
	w->rq[i].cancels++;
	w->rq[i].cancel_res = 1;	/* no answer yet */
}

/* End every request on in, then wait for them to end. */
static void quiesce_inst(struct world *w, int ii)
{
	struct inst *in = &w->in[ii];
	double end = now() + 10;

	/* all of them: one on another instance may head a link to one on this */
	for (int i = 0; i < MAXREQ; i++)
		if (w->rq[i].live)
			cancel_req(w, i);
	w_submit(w);
	g_blocking = "waiting for cancelled RECV_ZC requests";
	while (in->armed) {
		double retry = now() + 1;

		while (in->armed && now() < retry)
			reap(w, 20);
		if (!in->armed)
			break;
		if (now() > end) {
			for (int i = 0; i < MAXREQ; i++)
				if (w->rq[i].live)
					printf("# live: %s\n", w->rq[i].desc);
			fail_at(__LINE__, "%u requests on instance %u still live 10 s after "
				"ASYNC_CANCEL (cancelled again every second)", in->armed, in->id);
		}
		/* one may have been between two issues: cancel again */
		for (int i = 0; i < MAXREQ; i++)
			if (w->rq[i].live) {
				printf("# still live 1 s after its cancel (%s, %u cancels): %s\n",
				       en(w->rq[i].cancel_res), w->rq[i].cancels, w->rq[i].desc);
				cancel_req(w, i);
			}
		w_submit(w);
	}
	g_blocking = NULL;
}

/*
 * With no request on the instance, the kernel's view of who holds what
 * is ours: now pages user space does not hold may be named too, as
 * returns of chunks never handed out or returned already.
 */
static void act_quiesce(struct world *w, int ii)
{
	struct rng *r = w->r;
	struct inst *in = &w->in[ii];
	unsigned int k, n = 0;

	if (in->jumped)
		return;
	quiesce_inst(w, ii);
	/* earlier returns first: a duplicate must not be taken before them */
	rq_flush(in);
	k = between(r, 1, in->entries < 16 ? in->entries : 16);
	for (unsigned int j = 0; j < k; j++) {
		size_t page = below(r, in->npages);

		if (in->cnt[page]) {
			rq_put_safe_garbage(in, r);
			continue;
		}
		rq_put(in, (page * PAGE + (chance(r, 50) ? below(r, PAGE) : 0)) |
		       in->areg.rq_area_token, (uint32_t)rnd(r), 0);
		in->garbage++;
		n++;
	}
	/*
	 * Taken now, all of them: taken lazily, 64 at a time, a duplicate
	 * could come after its chunk was handed out again.
	 */
	rq_flush(in);
	note("quiesced instance %u: %u returns of chunks not held, %u other garbage", in->id,
	     n, k - n);
}

/*
 * A tail far ahead of the head, or behind it: the kernel must not take
 * the ring's stale entries (chunks handed back long ago, some of them
 * handed out again and held now) as returns.
 */
static void act_tailjump(struct world *w, struct inst *in)
{
	struct rng *r = w->r;
	uint32_t head, t;
	bool lazy = chance(r, 30);
	int ret;

	if (in->jumped)
		return;
	rq_flush(in);
	head = rq_head(in);
	switch (below(r, 4)) {
	case 0: t = head + in->entries + 1 + (uint32_t)below(r, 1u << 31); break;
	case 1: t = head - 1 - (uint32_t)below(r, in->entries * 4 + 1); break;
	case 2: t = head + in->entries * (uint32_t)between(r, 2, 64); break;
	default: t = head + 0x80000000u; break;
	}
	note("tail jump on instance %u: head %u, tail %u -> %u (entries %u)%s", in->id, head,
	     in->tail, t, in->entries, lazy ? ", taken by the receive path" : "");
	__atomic_store_n(in->ktail, t, __ATOMIC_RELEASE);
	in->jumps++;
	if (lazy) {
		in->jumped = true;	/* resolved by act_resync() */
		return;
	}
	ret = zcrx_ctrl_flush(w->ring.fd, in->id);
	CHECK(ret == 0 || ret == -EINVAL, "ZCRX_CTRL_FLUSH_RQ with a garbage tail: %s", en(ret));
	in->jumped = true;	/* resynced at the next refill entry */
}

static void act_ctrl(struct world *w)
{
	struct rng *r = w->r;
	struct zcrx_ctrl *c = (void *)(H.rw + 2 * PAGE);
	uint64_t arg = (uintptr_t)c;
	unsigned int nr_args = chance(r, 8) ? (unsigned int)between(r, 1, 3) : 0;
	unsigned int e = 0;
	int known = -1, ret;
	char eb[80];

	memset(c, 0, sizeof(*c));
	c->zcrx_id = chance(r, 75) ? w->in[below(r, w->nin)].id :
		(uint32_t)PICK(r, 2, 3, 2047, 2048, 0xffffffff, rnd(r));
	c->op = chance(r, 75) ? ZCRX_CTRL_FLUSH_RQ : (uint32_t)PICK(r, ZCRX_CTRL_EXPORT, 2, 99,
								       rnd(r));
	if (chance(r, 8))
		c->__resv[below(r, 2)] = rnd(r) | 1;
	if (chance(r, 8))
		c->zc_flush.__resv[below(r, 6)] = rnd(r) | 1;
	if (chance(r, 5))
		arg = chance(r, 30) ? 0 : bad_ptr(r);
	for (unsigned int j = 0; j < w->nin; j++)
		if (w->in[j].id == c->zcrx_id)
			known = j;
	if (nr_args)
		e |= B(INVAL);
	if (arg != (uintptr_t)c)
		e |= B(FAULT) | B(INVAL);
	if (c->__resv[0] || c->__resv[1])
		e |= B(INVAL);
	if (known < 0)
		e |= B(NXIO);
	if (c->op == ZCRX_CTRL_FLUSH_RQ && (c->zc_flush.__resv[0] | c->zc_flush.__resv[1] |
	    c->zc_flush.__resv[2] | c->zc_flush.__resv[3] | c->zc_flush.__resv[4] |
	    c->zc_flush.__resv[5]))
		e |= B(INVAL);
	if (c->op != ZCRX_CTRL_FLUSH_RQ)
		e |= B(OPNOTSUPP) | B(INVAL);
	note("ZCRX_CTRL id %u op %u nr_args %u arg 0x%llx", c->zcrx_id, c->op, nr_args,
	     (unsigned long long)arg);
	ret = zc_sys_register(w->ring.fd, IORING_REGISTER_ZCRX_CTRL, (void *)(uintptr_t)arg,
			      nr_args);
	ebits_str(e, eb, sizeof(eb));
	if (e) {
		CHECK(ret < 0 && (ebit(ret) & e), "ZCRX_CTRL returned %s, one of %s expected",
		      en(ret), eb);
		return;
	}
	CHECK(ret == 0, "ZCRX_CTRL flush of instance %u returned %s", c->zcrx_id, en(ret));
	if (!w->in[known].jumped)
		CHECK(rq_head(&w->in[known]) == __atomic_load_n(w->in[known].ktail, __ATOMIC_RELAXED),
		      "ZCRX_CTRL_FLUSH_RQ left entries queued");
}

static void act_cancel(struct world *w)
{
	struct rng *r = w->r;
	struct io_uring_sqe *sqe;

	if (chance(r, 15)) {	/* the synchronous kind */
		struct io_uring_sync_cancel_reg sc;
		int ret;

		memset(&sc, 0, sizeof(sc));
		sc.addr = w->main_req >= 0 ? rq_ud(w, w->main_req) : rnd(r);
		sc.fd = PICK(r, -1, w->st[0].rx, 1000);
		sc.flags = PICK(r, 0, IORING_ASYNC_CANCEL_FD, IORING_ASYNC_CANCEL_ANY,
				IORING_ASYNC_CANCEL_ALL, 1u << 20);
		if (sc.flags & IORING_ASYNC_CANCEL_ANY)
			sc.flags |= IORING_ASYNC_CANCEL_ALL;	/* never the sends alone */
		sc.timeout.tv_sec = 0;
		sc.timeout.tv_nsec = PICK(r, 0, 1000000, 100000000);
		if (chance(r, 10))
			sc.pad[below(r, 4)] = 1;
		if (chance(r, 10))
			sc.timeout.tv_sec = sc.timeout.tv_nsec = -1;
		note("SYNC_CANCEL addr 0x%llx fd %d flags 0x%x", (unsigned long long)sc.addr,
		     sc.fd, sc.flags);
		g_blocking = "IORING_REGISTER_SYNC_CANCEL";
		ret = zc_sys_register(w->ring.fd, IORING_REGISTER_SYNC_CANCEL, &sc, 1);
		g_blocking = NULL;
		CHECK(ret >= 0 || err_in(ret, ERRS(ENOENT, EALREADY, EINVAL, ETIME, EBADF, EINTR)),
		      "SYNC_CANCEL returned %s", en(ret));
		return;
	}
	sqe = get_sqe(&w->ring);
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->user_data = UD(UDK_CANCEL, w->cancels++);
	switch (below(r, 5)) {
	case 0:
		sqe->addr = w->main_req >= 0 ? rq_ud(w, w->main_req) : rnd(r);
		break;
	case 1:
		sqe->fd = chance(r, 70) ? w->st[0].rx : (w->nst > 1 ? w->st[1].rx : 1000);
		sqe->cancel_flags = IORING_ASYNC_CANCEL_FD |
			(chance(r, 50) ? IORING_ASYNC_CANCEL_ALL : 0);
		break;
	case 2:
		sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
		break;
	case 3:
		sqe->fd = below(r, 6);
		sqe->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED;
		break;
	default:
		sqe->addr = rnd(r);
		sqe->cancel_flags = (uint32_t)rnd(r);
		break;
	}
	note("ASYNC_CANCEL addr 0x%llx fd %d flags 0x%x", (unsigned long long)sqe->addr, sqe->fd,
	     sqe->cancel_flags);
	w_submit(w);
}

/* Buffers and files unregistered and registered again: never blocked. */
static void act_rsrc(struct world *w)
{
	struct sendside *ss = &w->ss;
	struct rng *r = w->r;
	double t0 = now();
	int ret;

	/*
	 * A request on a fixed file holds the resource node, which files and
	 * buffers share in 6.1: unregistering either waits for it (stock
	 * behaviour). Only with no random request live, then.
	 */
	for (int i = 0; i < MAXREQ; i++)
		if (w->rq[i].live && !w->rq[i].main)
			return;
	for (int i = 0; i < MAXSEND; i++)
		if (ss->sr[i].live && !ss->sr[i].cqe_seen)
			return;
	if (chance(r, 50)) {
		if (ss->bufs_reg) {
			note("unregister buffers");
			g_blocking = "IORING_UNREGISTER_BUFFERS";
			ret = zc_sys_register(w->ring.fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
			g_blocking = NULL;
			CHECK(ret == 0, "IORING_UNREGISTER_BUFFERS: %s", en(ret));
			ss->bufs_reg = false;
		} else {
			struct iovec iov[2] = { { ss->buf, NBLK * BLK }, { ss->scratch, 65536 } };

			note("register buffers");
			ret = zc_sys_register(w->ring.fd, IORING_REGISTER_BUFFERS, iov, 2);
			CHECK(ret == 0, "IORING_REGISTER_BUFFERS: %s", en(ret));
			ss->bufs_reg = true;
		}
	} else {
		if (ss->files_reg) {
			note("unregister files");
			g_blocking = "IORING_UNREGISTER_FILES";
			ret = zc_sys_register(w->ring.fd, IORING_UNREGISTER_FILES, NULL, 0);
			g_blocking = NULL;
			CHECK(ret == 0, "IORING_UNREGISTER_FILES: %s", en(ret));
			ss->files_reg = false;
		} else {
			int fds[6] = { w->nst > 1 ? w->st[1].rx : -1, ss->udp, w->pipefd[0], -1,
				       w->listen_fd, ss->udp_sink };

			note("register files");
			ret = zc_sys_register(w->ring.fd, IORING_REGISTER_FILES, fds, 6);
			CHECK(ret == 0, "IORING_REGISTER_FILES: %s", en(ret));
			ss->files_reg = true;
		}
	}
	CHECK(now() - t0 < 5, "registering or unregistering buffers/files took %.1f s "
	      "(an open slot generation must not block it)", now() - t0);
}

/* ---- the world's life ------------------------------------------------------------- */

static void world_open(struct world *w, const struct wcfg *cfg, struct rng *r)
{
	unsigned int cq = PICK(r, 8, 16, 64, 256, 256, 1024);
	int ret;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->r = r;
	w->main_req = -1;
	ret = zc_ring_init(&w->ring, cq < 64 ? cq : 64, ZC_RING_FLAGS, cq);
	CHECK(!ret, "io_uring_setup: %s", en(ret));
	note("ring: CQ %u", cq);
	CHECK(!pipe2(w->pipefd, O_CLOEXEC), "pipe");
	w->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	w->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	listen(w->listen_fd, 1);
	w->ss.tx = w->ss.rx = w->ss.udp = w->ss.udp_sink = w->ss.tcp_unconn = -1;
	w->ss.inflight = -1;
	if (cfg->zcrx) {
		w->nin = chance(r, 60) ? 2 : 1;
		for (unsigned int i = 0; i < w->nin; i++) {
			size_t pages = i ? between(r, 2, 16) : PICK(r, 4, 8, 16, 32, 64);
			unsigned int entries = PICK(r, 1, 2, 8, 32, 64, 128, 256);

			ret = inst_open(&w->ring, &w->in[i], pages, entries, chance(r, 30),
					chance(r, 10));
			CHECK(!ret, "registration of a %zu-page pool: %s", pages, en(ret));
			w->in[i].streams = w->st;
			note("instance %u: %zu pages, %u entries, %s ring", w->in[i].id, pages,
			     w->in[i].entries, w->in[i].rq_kernel ? "kernel" : "user");
		}
		stream_open(r, &w->st[0], "main stream", cfg->main_bytes, true);
		w->nst = 1;
		if (cfg->victim) {
			stream_open(r, &w->st[1], "victim stream", cfg->victim_bytes, true);
			w->nst = 2;
		}
	}
	if (cfg->sends) {
		sends_open(w);
		if (chance(r, 60))
			slots_register(w, false);
	}
}

static bool world_busy(struct world *w)
{
	for (int i = 0; i < MAXREQ; i++)
		if (w->rq[i].live && !w->rq[i].main)
			return true;
	for (int i = 0; i < MAXSEND; i++)
		if (w->ss.sr[i].live)
			return true;
	for (unsigned int i = 0; i < w->ss.nexp; i++)
		if (w->ss.exp[i].closed && !w->ss.exp[i].done)
			return true;
	return false;
}

static void world_finish(struct world *w)
{
	struct sendside *ss = &w->ss;
	double end = now() + 90;

	w->stop = true;
	note("finish");
	for (unsigned int i = 0; i < w->nin; i++)
		if (w->in[i].jumped)
			inst_resync(&w->in[i]);
	for (int i = 0; i < MAXREQ; i++)
		if (w->rq[i].live && !w->rq[i].main)
			cancel_req(w, i);
	w_submit(w);
	if (ss->reg)
		slots_unregister(w, false);
	g_blocking = "finishing the streams";
	while ((w->nst && !w->st[0].eof) || world_busy(w) || ss->inflight >= 0 ||
	       (ss->rx >= 0 && (ss->recvd < ss->acked || ss->acked < ss->total))) {
		if (w->nst && !w->st[0].eof && w->main_req < 0)
			arm_main(w);
		if (ss->rx >= 0)
			send_good(w);
		for (unsigned int i = 0; i < w->nin; i++)
			if (w->in[i].nheld)
				give_back_all(&w->in[i]);
		reap(w, 20);
		if (now() > end) {
			unsigned int live = 0, open = 0;

			for (int i = 0; i < MAXREQ; i++)
				live += w->rq[i].live;
			for (unsigned int i = 0; i < ss->nexp; i++)
				open += ss->exp[i].closed && !ss->exp[i].done;
			fail_at(__LINE__, "no end after 90 s: main stream %llu of %llu bytes, %u "
				"requests live, %u notifications missing, send stream %llu of "
				"%llu received", w->nst ? (unsigned long long)w->st[0].got : 0,
				w->nst ? (unsigned long long)w->st[0].total : 0, live, open,
				(unsigned long long)ss->recvd, (unsigned long long)ss->acked);
		}
	}
	g_blocking = NULL;
	if (ss->rx >= 0)
		CHECK(ss->acked == ss->total, "checked send stream: %llu of %llu bytes sent",
		      (unsigned long long)ss->acked, (unsigned long long)ss->total);
	for (unsigned int i = 0; i < w->nin; i++) {
		give_back_all(&w->in[i]);
		rq_flush(&w->in[i]);
		if (w->in[i].checks)
			fill_pool_check(&w->ring, &w->in[i], w->r);
	}
	/* nothing more may come */
	msleep(20);
	reap(w, 0);
}

static void world_close(struct world *w, long pin0)
{
	struct sendside *ss = &w->ss;

	zc_ring_exit(&w->ring);
	/* (mappings of kernel refill rings hold the ring: they go first) */
	for (unsigned int i = 0; i < w->nin; i++)
		inst_close(&w->in[i]);
	expect_pinned(pin0, 10, "ring teardown");
	for (unsigned int i = 0; i < w->nst; i++)
		stream_close(&w->st[i], i == 0);
	if (ss->exp) {
		close(ss->tx);
		close(ss->rx);
		close(ss->udp);
		close(ss->udp_sink);
		if (ss->tcp_unconn >= 0)
			close(ss->tcp_unconn);
		munmap(ss->buf, NBLK * BLK + 65536);
		free(ss->rbuf);
		free(ss->exp);
	}
	close(w->pipefd[0]);
	close(w->pipefd[1]);
	close(w->devnull);
	close(w->listen_fd);
}

static void world_step(struct world *w, enum act a)
{
	struct rng *r = w->r;
	int ii = w->nin ? (int)below(r, w->nin) : -1;

	w->acts[a]++;
	switch (a) {
	case A_REAP:
		reap(w, (int)below(r, 10));
		break;
	case A_RETURN:
		if (ii >= 0)
			act_return(w, &w->in[ii], chance(r, 30));
		break;
	case A_HOLD:	/* let data come while holding what we have */
		reap(w, 5);
		break;
	case A_GARBAGE:
		if (ii >= 0)
			act_garbage(w, &w->in[ii]);
		break;
	case A_QUIESCE:
		if (ii >= 0)
			act_quiesce(w, ii);
		break;
	case A_TAILJUMP:
		if (ii >= 0) {
			if (w->in[ii].jumped)
				inst_resync(&w->in[ii]);
			else
				act_tailjump(w, &w->in[ii]);
		}
		break;
	case A_CTRL:
		if (w->nin)
			act_ctrl(w);
		break;
	case A_CANCEL:
		if (w->nin)
			act_cancel(w);
		break;
	case A_RANDRECV:
		if (w->nin)
			recv_random(w);
		break;
	case A_SLOTREG:
		if (w->ss.exp)
			slots_register(w, chance(r, 40) || w->ss.reg);
		break;
	case A_SLOTUNREG:
		if (w->ss.exp)
			slots_unregister(w, chance(r, 10));
		break;
	case A_SENDGOOD:
		if (w->ss.exp)
			send_good(w);
		break;
	case A_SENDJUNK:
		if (w->ss.exp)
			send_junk(w);
		break;
	case A_RSRC:
		if (w->ss.exp)
			act_rsrc(w);
		break;
	case A_QUERY:
		query_once(r, PICK(r, -1, -1, w->ring.fd), 0, false);
		break;
	case A_SLEEP:
		usleep(below(r, 3000));
		break;
	default:
		break;
	}
}

static void run_world(const struct wcfg *cfg, struct rng *r, double secs)
{
	struct world *w = calloc(1, sizeof(*w));
	long pin0 = pinned();
	double end;
	unsigned int total = 0, steps, min_steps = cfg->steps / 8;
	char stats[256];
	size_t o = 0;

	CHECK(w, "calloc");
	for (int a = 0; a < A_NR; a++)
		total += cfg->w[a];
	world_open(w, cfg, r);
	/* the time starts now; a slow machine still gets some steps */
	end = now() + secs;
	for (steps = 0; steps < cfg->steps && (now() < end || steps < min_steps); steps++) {
		unsigned int pick = below(r, total);
		int a = 0;

		while (pick >= cfg->w[a])
			pick -= cfg->w[a++];
		/* the main stream keeps going unless something ended it for good */
		if (w->nst && !w->st[0].eof && w->main_req < 0)
			arm_main(w);
		{
			double t0 = now();

			world_step(w, a);
			reap(w, 0);
			w->act_time[a] += now() - t0;
		}
		/* hold at most a pool's worth of CQEs */
		for (unsigned int i = 0; i < w->nin; i++)
			if (w->in[i].nheld + 64 > w->in[i].maxheld)
				give_back_all(&w->in[i]);
	}
	world_finish(w);
	o += snprintf(stats + o, sizeof(stats) - o, "%u steps", steps);
	{	/* where the time went */
		int top = 0;

		for (int a = 1; a < A_NR; a++)
			if (w->act_time[a] > w->act_time[top])
				top = a;
		o += snprintf(stats + o, sizeof(stats) - o, " (%.1f s in %lu %s)",
			      w->act_time[top], w->acts[top], act_label[top]);
	}
	if (w->nst)
		o += snprintf(stats + o, sizeof(stats) - o, ", main %llu B",
			      (unsigned long long)w->st[0].got);
	if (w->nst > 1)
		o += snprintf(stats + o, sizeof(stats) - o, ", victim %llu B",
			      (unsigned long long)w->st[1].got);
	for (unsigned int i = 0; i < w->nin; i++)
		o += snprintf(stats + o, sizeof(stats) - o, ", zcrx%u %lu CQEs %lu garbage %lu jumps",
			      w->in[i].id, w->in[i].cqes, w->in[i].garbage, w->in[i].jumps);
	if (w->ss.exp)
		o += snprintf(stats + o, sizeof(stats) - o, ", %lu good %lu junk sends %lu notifs",
			      w->ss.sends, w->ss.junk, w->ss.notifs);
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%s", stats);
	world_close(w, pin0);
	free(w);
}

/*
 * Action weights, in enum act order: reap return hold garbage quiesce
 * tailjump ctrl cancel randrecv slotreg slotunreg sendgood sendjunk rsrc
 * query sleep.
 */
static const struct wcfg cfg_refill = { "refill",
	{ 20, 25, 10, 10, 3, 4, 4, 3, 0, 0, 0, 0, 0, 0, 0, 4 }, 1500, 384 << 10, 0, 0,
	true, false, false };
static const struct wcfg cfg_recv_sqe = { "recv_sqe",
	{ 20, 20, 5, 4, 2, 1, 2, 4, 15, 0, 0, 0, 0, 0, 0, 2 }, 1000, 128 << 10, 96 << 10, 0,
	true, true, false };
static const struct wcfg cfg_slots = { "slots",
	{ 20, 0, 0, 0, 0, 0, 0, 2, 0, 5, 4, 25, 20, 3, 1, 2 }, 1000, 0, 0, 256 << 10,
	false, false, true };
static const struct wcfg cfg_mix = { "mix",
	{ 20, 15, 5, 5, 2, 2, 3, 3, 6, 3, 2, 10, 8, 2, 1, 2 }, 1500, 256 << 10, 64 << 10,
	128 << 10, true, true, true };

static void case_refill(struct rng *r, double secs) { run_world(&cfg_refill, r, secs); }
static void case_recv_sqe(struct rng *r, double secs) { run_world(&cfg_recv_sqe, r, secs); }
static void case_slots(struct rng *r, double secs) { run_world(&cfg_slots, r, secs); }
static void case_mix(struct rng *r, double secs) { run_world(&cfg_mix, r, secs); }

/* ---- races --------------------------------------------------------------------------- */

struct racer {
	int ring_fd, devnull, sock;
	pid_t sender;
	unsigned int delay_us, what;
	struct inst *in;
	volatile bool go, stop;
	struct rng r;
};

static int open_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	CHECK(fd >= 0, "open /dev/null");
	return fd;
}

/* The ring's fd, replaced under the receiving thread by /dev/null. */
static void *ring_closer(void *arg)
{
	struct racer *c = arg;

	usleep(c->delay_us);
	if (c->what == 1)	/* the pool leaves our address space too */
		munmap(c->in->area, c->in->area_len);
	dup2(c->devnull, c->ring_fd);
	return NULL;
}

/*
 * The ring goes away while a request is armed, data flows and chunks are
 * held (and, sometimes, the pool is unmapped under the kernel): the
 * kernel must tear down cleanly and give every pinned page back.
 */
static void case_race_ring_close(struct rng *r, double secs)
{
	double end = now() + secs;
	unsigned int rounds = 0;

	while (rounds < 6 && (now() < end || !rounds)) {
		struct zc_ring ring;
		struct inst in;
		struct stream s;
		struct racer c = { 0 };
		struct rx1 x = { .ring = &ring, .in = &in, .s = &s, .r = r,
				 .ud = UD(UDK_RECV, 0), .tolerate = true, .hold_pct = 60 };
		pthread_t t;
		long pin0 = pinned();
		double until;
		int ret;

		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, PICK(r, 8, 64, 256)), "setup");
		ret = inst_open(&ring, &in, PICK(r, 4, 16, 64), PICK(r, 1, 16, 128), chance(r, 40),
				chance(r, 10));
		CHECK(!ret, "registration: %s", en(ret));
		in.tolerate = true;
		stream_open(r, &s, "stream", 1 << 20, true);
		in.streams = &s;
		c.ring_fd = ring.fd;
		c.devnull = open_devnull();
		c.in = &in;
		c.what = chance(r, 25);
		c.delay_us = below(r, 40000);
		if (c.what == 1)
			in.noread = true;
		note("round %u: close the ring after %u us%s", rounds, c.delay_us,
		     c.what == 1 ? ", pool unmapped first" : "");
		CHECK(!pthread_create(&t, NULL, ring_closer, &c), "pthread_create");
		until = now() + 20;
		while (!x.broken && !x.done && !in.dead && now() < until)
			rx1_step(&x, 5);
		pthread_join(t, NULL);
		CHECK(x.broken || x.done || in.dead, "the ring still works after its fd was "
		      "replaced");
		zc_ring_exit(&ring);	/* unmaps the rings, closes the /dev/null dup */
		inst_close(&in);
		close(c.devnull);
		stream_close(&s, false);
		expect_pinned(pin0, 10, "teardown of a ring closed mid-stream");
		rounds++;
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u rings closed mid-stream", rounds);
}

static void *sock_breaker(void *arg)
{
	struct racer *c = arg;

	usleep(c->delay_us);
	switch (c->what) {
	case 0: shutdown(c->sock, SHUT_RD); break;
	case 1: shutdown(c->sock, SHUT_RDWR); break;
	case 2: dup2(c->devnull, c->sock); break;	/* close(), atomically */
	default: kill(c->sender, SIGKILL); break;
	}
	return NULL;
}

/*
 * The socket is shut down, closed or loses its peer mid-stream: the
 * request ends cleanly, what arrived before is right, and the pool is
 * whole afterwards.
 */
static void case_race_socket(struct rng *r, double secs)
{
	static const char *const what[] = { "shutdown(SHUT_RD)", "shutdown(SHUT_RDWR)",
					    "close", "peer killed" };
	double end = now() + secs;
	unsigned int rounds = 0;
	struct zc_ring ring;
	struct inst in;
	long pin0 = pinned();
	int ret;

	CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 64), "setup");
	ret = inst_open(&ring, &in, PICK(r, 8, 16, 32), PICK(r, 4, 32, 128), chance(r, 40),
			false);
	CHECK(!ret, "registration: %s", en(ret));
	while (rounds < 8 && (now() < end || !rounds)) {
		struct stream s;
		struct racer c = { 0 };
		struct rx1 x = { .ring = &ring, .in = &in, .s = &s, .r = r,
				 .ud = UD(UDK_RECV, 0), .hold_pct = 40 };
		pthread_t t;
		double until;

		stream_open(r, &s, "stream", 512 << 10, true);
		in.streams = &s;
		c.sock = s.rx;
		c.sender = s.sender;
		c.devnull = open_devnull();
		c.what = below(r, 4);
		c.delay_us = below(r, 30000);
		note("round %u: %s after %u us", rounds, what[c.what], c.delay_us);
		CHECK(!pthread_create(&t, NULL, sock_breaker, &c), "pthread_create");
		until = now() + 30;
		while (!x.done && now() < until)
			rx1_step(&x, 5);
		pthread_join(t, NULL);
		CHECK(x.done, "%s: the request did not end (%llu of %llu bytes)", what[c.what],
		      (unsigned long long)s.got, (unsigned long long)s.total);
		CHECK(x.final == 0 || err_in(x.final, ERRS(ECONNRESET, EPIPE, ENOTCONN, ECANCELED)) ||
		      (c.what == 2 && err_in(x.final, ERRS(ENOTSOCK, EAGAIN))),
		      "%s: the request ended with %s", what[c.what], en(x.final));
		if (c.what == 2 && x.final == 0)	/* it held the socket: all of it came */
			CHECK(s.eof, "close mid-stream: EOF after %llu of %llu bytes",
			      (unsigned long long)s.got, (unsigned long long)s.total);
		give_back_all(&in);
		rq_flush(&in);
		stream_close(&s, false);
		close(c.devnull);
		fill_pool_check(&ring, &in, r);
		rounds++;
	}
	zc_ring_exit(&ring);
	inst_close(&in);
	expect_pinned(pin0, 10, "ring teardown");
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u streams broken mid-way", rounds);
}

/* Register slots; a slotted SEND_ZC on fd; returns the submit result. */
static void slotted_sends(struct zc_ring *ring, int fd, uint8_t *buf, unsigned int n,
			  bool flush_last, uint64_t ud)
{
	uint64_t tags[4] = { SLOT_TAG(0, 0), SLOT_TAG(0, 1), SLOT_TAG(0, 2), SLOT_TAG(0, 3) };
	struct io_uring_send_zc_slots_reg reg = { .tags = (uintptr_t)tags, .nr = 4 };
	int ret = zc_sys_register(ring->fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);

	CHECK(ret == 0, "slot registration: %s", en(ret));
	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = get_sqe(ring);

		zc_prep_send_zc(sqe, fd, buf + i * 512, 512, IORING_SEND_ZC_SLOT |
				((flush_last && i == n - 1) ? IORING_SEND_ZC_SLOT_FLUSH : 0), ud);
		sqe->send_zc_slot = i % 4;
	}
	ret = ring_submit(ring);
	CHECK(ret == (int)n, "submit %u slotted sends: %s", n, en(ret));
}

/*
 * A process that exits (or is killed) with a request armed, chunks held
 * and slot generations open gives its RLIMIT_MEMLOCK charge back: a
 * process after it can charge the whole limit again.
 */
#define EXIT_MEMLOCK_PAGES 64
static void exit_child(uint64_t seed, int mode)
{
	struct rlimit rl = { EXIT_MEMLOCK_PAGES * PAGE, EXIT_MEMLOCK_PAGES * PAGE };
	struct rng r = { seed };
	struct zc_ring ring;
	struct inst in;
	struct stream s;
	struct rx1 x = { .ring = &ring, .in = &in, .s = &s, .r = &r, .ud = UD(UDK_RECV, 0),
			 .hold_pct = 90 };
	int udp, sink, ret;
	uint8_t *buf;

	if (drop_caps(CAPBIT(CAP_IPC_LOCK)) || setrlimit(RLIMIT_MEMLOCK, &rl))
		_exit(10);
	CHECK(!zc_ring_init(&ring, 16, ZC_RING_FLAGS, 64), "setup");
	/* the process before us may still be torn down (a workqueue) */
	for (double until = now() + 15;;) {
		ret = inst_open(&ring, &in, 32, 64, chance(&r, 50), false);
		if (ret != -ENOMEM || now() > until)
			break;
		msleep(20);
	}
	CHECK(!ret, "a 33-page registration under a %u-page limit: %s", EXIT_MEMLOCK_PAGES,
	      en(ret));
	stream_open(&r, &s, "stream", 4 << 20, true);
	in.streams = &s;
	ret = make_pair(&r, SOCK_DGRAM, &udp, &sink);
	CHECK(!ret, "UDP pair: %s", en(ret));
	buf = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED, "mmap");
	slotted_sends(&ring, udp, buf, between(&r, 1, 8), chance(&r, 30), UD(UDK_MISC, 0));
	for (unsigned int i = between(&r, 0, 40); i; i--)
		rx1_step(&x, 2);
	if (mode == 1) {	/* a child inherits the ring and outlives us */
		pid_t q = fork();

		if (q == 0) {
			usleep(below(&r, 30000));
			_exit(0);
		}
	}
	if (mode == 2)		/* wait to be killed */
		for (;;)
			rx1_step(&x, 5);
	_exit(0);
}

static void case_race_exit(struct rng *r, double secs)
{
	double end = now() + secs;
	unsigned int rounds = 0;

	while (rounds < 6 && (now() < end || !rounds)) {
		int mode = below(r, 3), st;
		uint64_t seed = rnd(r);
		pid_t p;

		fflush(stdout);
		p = fork();
		CHECK(p >= 0, "fork");
		if (p == 0)
			exit_child(seed, mode);
		note("round %u: child %d %s", rounds, p, mode == 0 ? "exits" :
		     mode == 1 ? "exits, its child holds the ring" : "is killed");
		if (mode == 2) {
			usleep(between(r, 1000, 60000));
			kill(p, SIGKILL);
		}
		g_blocking = "waiting for a process that exits with requests in flight";
		st = wait_pid(p, 30);
		g_blocking = NULL;
		CHECK(st != -1, "a process with requests in flight did not exit in 30 s");
		CHECK(mode == 2 ? (WIFSIGNALED(st) || (WIFEXITED(st) && !WEXITSTATUS(st))) :
		      (WIFEXITED(st) && !WEXITSTATUS(st)),
		      "the child failed (status 0x%x)", st);
		/* its charge must come back: the whole limit fits in a new process */
		fflush(stdout);
		p = fork();
		CHECK(p >= 0, "fork");
		if (p == 0) {
			struct rlimit rl = { EXIT_MEMLOCK_PAGES * PAGE, EXIT_MEMLOCK_PAGES * PAGE };
			uint8_t *pool = mmap(NULL, EXIT_MEMLOCK_PAGES * PAGE, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			struct zc_ring ring;
			double until = now() + 15;
			int ret;

			if (drop_caps(CAPBIT(CAP_IPC_LOCK)) || setrlimit(RLIMIT_MEMLOCK, &rl))
				_exit(10);
			CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 0), "setup");
			while ((ret = reg_simple(&ring, (uintptr_t)pool,
						 (EXIT_MEMLOCK_PAGES - 1) * PAGE, true, NULL,
						 NULL)) == -ENOMEM && now() < until)
				msleep(20);
			CHECK(ret == 0, "15 s after a process with a pool under RLIMIT_MEMLOCK "
			      "exited, the limit is still charged (%s): pinned memory not given back",
			      en(ret));
			_exit(0);
		}
		st = wait_pid(p, 40);
		CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "memlock check failed "
		      "(status 0x%x)", st);
		/* reap the senders the children left */
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
		rounds++;
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u processes exited with requests in flight",
		 rounds);
}

/*
 * fork() mid-stream: the child shares the ring's file but not its pool
 * pages; whatever it does with its copies never reaches the parent's
 * stream, and the ring stays the parent's.
 */
static void fork_child(struct zc_ring *ring, struct inst *in, uint64_t seed)
{
	struct rng r = { seed };
	int ret;

	signal(SIGALRM, SIG_DFL);
	alarm(15);
	ret = zc_sys_enter(ring->fd, 0, 1, IORING_ENTER_GETEVENTS);
	CHECK(ret < 0 && err_in(ret, ERRS(EEXIST, EINVAL, EOPNOTSUPP)),
	      "forked child: io_uring_enter on the parent's DEFER_TASKRUN ring returned %s",
	      en(ret));
	ret = zcrx_ctrl_flush(ring->fd, in->id);
	CHECK(err_in(ret, ERRS(EEXIST, EINVAL, EOPNOTSUPP)),
	      "forked child: ZCRX_CTRL on the parent's ring returned %s", en(ret));
	/* scribble over our copies: private memory, so never the parent's */
	if (!in->noread && !chance(&r, 20)) {
		for (unsigned int i = 0; i < 64; i++)
			in->area[below(&r, in->area_len)] = (uint8_t)rnd(&r);
	}
	if (!in->rq_kernel)
		for (unsigned int i = 0; i < 16; i++) {
			in->rqes[below(&r, in->entries)].off = below(&r, in->area_len);
			*in->ktail = (uint32_t)rnd(&r);
		}
	switch (below(&r, 3)) {
	case 0: execl("/bin/true", "true", (char *)NULL); _exit(0);
	case 1: close(ring->fd); usleep(below(&r, 20000)); _exit(0);
	default: pause(); _exit(0);
	}
}

static void case_race_fork(struct rng *r, double secs)
{
	double end = now() + secs;
	unsigned int rounds = 0;

	while (rounds < 4 && (now() < end || !rounds)) {
		struct zc_ring ring;
		struct inst in;
		struct stream s;
		struct rx1 x = { .ring = &ring, .in = &in, .s = &s, .r = r, .ud = UD(UDK_RECV, 0),
				 .hold_pct = 50 };
		long pin0 = pinned();
		unsigned int at = between(r, 0, 30), step = 0;
		pid_t c = 0;
		double until = now() + 60;
		int ret, st;

		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 64), "setup");
		/* a private pool and ring: the child must get copies */
		ret = inst_open(&ring, &in, PICK(r, 8, 32), PICK(r, 16, 128), chance(r, 40), false);
		CHECK(!ret, "registration: %s", en(ret));
		stream_open(r, &s, "stream", 768 << 10, true);
		in.streams = &s;
		while (!x.done) {
			if (step++ == at) {
				uint64_t seed = rnd(r);

				fflush(stdout);
				c = fork();
				CHECK(c >= 0, "fork");
				if (c == 0)
					fork_child(&ring, &in, seed);
				note("round %u: forked %d at %llu bytes", rounds, c,
				     (unsigned long long)s.got);
			}
			rx1_step(&x, 5);
			CHECK(now() < until, "stream stalled at %llu of %llu bytes after fork",
			      (unsigned long long)s.got, (unsigned long long)s.total);
		}
		CHECK(x.final == 0 && s.eof, "stream ended with %s at %llu of %llu bytes",
		      en(x.final), (unsigned long long)s.got, (unsigned long long)s.total);
		if (c > 0) {
			kill(c, SIGKILL);
			st = wait_pid(c, 20);
			CHECK(st >= 0 && (WIFSIGNALED(st) || !WEXITSTATUS(st)),
			      "forked child failed (status 0x%x)", st);
		}
		give_back_all(&in);
		rq_flush(&in);
		fill_pool_check(&ring, &in, r);
		stream_close(&s, true);
		zc_ring_exit(&ring);
		inst_close(&in);
		expect_pinned(pin0, 10, "ring teardown after fork");
		rounds++;
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u forks mid-stream", rounds);
}

/*
 * An open slot generation never blocks execve(), exit, or unregistering
 * buffers and files; a process doing any of these with one open finishes.
 */
static void open_gen_child(uint64_t seed, int mode)
{
	struct rng r = { seed };
	struct zc_ring ring;
	uint8_t *buf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	struct iovec iov = { buf, 16 * PAGE };
	int tx, rx, ret, files[2];
	double t0;

	alarm(20);
	CHECK(!zc_ring_init(&ring, 32, chance(&r, 50) ? ZC_RING_FLAGS : 0, 0), "setup");
	ret = make_pair(&r, chance(&r, 50) ? SOCK_STREAM : SOCK_DGRAM, &tx, &rx);
	CHECK(!ret, "pair: %s", en(ret));
	files[0] = tx;
	files[1] = rx;
	ret = zc_sys_register(ring.fd, IORING_REGISTER_BUFFERS, &iov, 1);
	CHECK(!ret, "register buffers: %s", en(ret));
	ret = zc_sys_register(ring.fd, IORING_REGISTER_FILES, files, 2);
	CHECK(!ret, "register files: %s", en(ret));
	slotted_sends(&ring, tx, buf, between(&r, 1, 8), false, UD(UDK_MISC, 1));
	/* and one with a registered buffer, the generation still open */
	{
		struct io_uring_sqe *sqe = get_sqe(&ring);

		zc_prep_send_zc(sqe, tx, buf, 100, IORING_SEND_ZC_SLOT | IORING_RECVSEND_FIXED_BUF,
				UD(UDK_MISC, 2));
		sqe->send_zc_slot = 1;
		CHECK(ring_submit(&ring) == 1, "submit");
	}
	for (unsigned int i = 0; i < 8; i++)
		ring_wait(&ring, 1, 5);
	/* what can be read is read: only the open generation may hold things */
	for (unsigned int i = 0; i < 20; i++) {
		while (recv(rx, buf + 8 * PAGE, 8 * PAGE, MSG_DONTWAIT) > 0)
			;
		msleep(2);
	}
	t0 = now();
	switch (mode) {
	case 0:
		execl("/bin/true", "true", (char *)NULL);
		_exit(20);
	case 1:
		_exit(0);
	case 2:
		g_blocking = "IORING_UNREGISTER_BUFFERS with a slot generation open";
		ret = zc_sys_register(ring.fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
		g_blocking = NULL;
		CHECK(ret == 0, "IORING_UNREGISTER_BUFFERS: %s", en(ret));
		break;
	case 3:
		g_blocking = "IORING_UNREGISTER_FILES with a slot generation open";
		ret = zc_sys_register(ring.fd, IORING_UNREGISTER_FILES, NULL, 0);
		g_blocking = NULL;
		CHECK(ret == 0, "IORING_UNREGISTER_FILES: %s", en(ret));
		break;
	default:
		g_blocking = "IORING_UNREGISTER_SEND_ZC_SLOTS";
		ret = zc_sys_register(ring.fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0);
		g_blocking = NULL;
		CHECK(ret == 0, "IORING_UNREGISTER_SEND_ZC_SLOTS: %s", en(ret));
		break;
	}
	CHECK(now() - t0 < 5, "it took %.1f s with a generation open", now() - t0);
	_exit(0);
}

static void case_race_open_generation(struct rng *r, double secs)
{
	static const char *const what[] = { "execve", "exit", "unregister buffers",
					    "unregister files", "unregister slots" };
	double end = now() + secs;
	unsigned int rounds = 0;

	while (rounds < 10 && (now() < end || !rounds)) {
		int mode = below(r, 5), st;
		uint64_t seed = rnd(r);
		pid_t p;

		fflush(stdout);
		p = fork();
		CHECK(p >= 0, "fork");
		if (p == 0) {
			g_blocking = what[mode];
			open_gen_child(seed, mode);
		}
		note("round %u: %s with a slot generation open", rounds, what[mode]);
		st = wait_pid(p, 30);
		CHECK(st != -1, "%s with a slot generation open did not finish in 30 s",
		      what[mode]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s with a slot generation open: "
		      "child status 0x%x%s", what[mode], st,
		      WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (blocked until its alarm)" : "");
		rounds++;
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u processes with open generations", rounds);
}

static void *rq_writer(void *arg)
{
	struct racer *c = arg;
	struct inst *in = c->in;

	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		struct io_uring_zcrx_rqe *e = &in->rqes[below(&c->r, in->entries)];

		switch (below(&c->r, 4)) {
		case 0:
			__atomic_store_n(in->ktail, (uint32_t)rnd(&c->r), __ATOMIC_RELEASE);
			break;
		case 1:
			__atomic_store_n(in->ktail, __atomic_load_n(in->khead, __ATOMIC_RELAXED) +
					 (uint32_t)below(&c->r, in->entries + 2), __ATOMIC_RELEASE);
			break;
		default:
			e->off = chance(&c->r, 70) ? below(&c->r, in->npages) * PAGE :
				rnd(&c->r);
			e->__pad = chance(&c->r, 80) ? 0 : (uint32_t)rnd(&c->r);
			break;
		}
		if (chance(&c->r, 5))
			sched_yield();
	}
	return NULL;
}

/*
 * Another thread writes garbage into the refill ring (entries, tail) with
 * no order at all while the stream runs. Nothing can be checked about
 * chunks then, but the kernel must survive it, the stream must arrive
 * whole (by count), and once the garbage stops and user space hands
 * everything back, the whole pool must be free again.
 */
static void case_race_rq_writer(struct rng *r, double secs)
{
	double end = now() + secs;
	unsigned int rounds = 0;

	while (rounds < 3 && (now() < end || !rounds)) {
		struct zc_ring ring;
		struct inst in;
		struct stream s;
		struct racer c = { 0 };
		struct rx1 x = { .ring = &ring, .in = &in, .s = &s, .r = r, .ud = UD(UDK_RECV, 0),
				 .hold_pct = 30 };
		long pin0 = pinned();
		double t1, until;
		pthread_t t;
		int ret;

		CHECK(!zc_ring_init(&ring, 8, ZC_RING_FLAGS, 64), "setup");
		ret = inst_open(&ring, &in, PICK(r, 8, 16, 32), PICK(r, 4, 16, 64), chance(r, 40),
				false);
		CHECK(!ret, "registration: %s", en(ret));
		stream_open(r, &s, "stream", 1 << 20, true);
		in.streams = &s;
		in.checks = false;
		s.checks = false;
		c.in = &in;
		c.r.s = rnd(r);
		note("round %u: garbage writer on instance %u (%u entries)", rounds, in.id,
		     in.entries);
		CHECK(!pthread_create(&t, NULL, rq_writer, &c), "pthread_create");
		t1 = now() + 0.05 + below(r, 300) / 1000.0;
		until = now() + 60;
		/*
		 * Nothing is handed back meanwhile: a return the garbage
		 * overwrites would leave its chunk taken for good.
		 */
		x.no_return = true;
		while (!x.done && now() < t1 && in.nheld < in.maxheld / 2)
			rx1_step(&x, 2);
		__atomic_store_n(&c.stop, true, __ATOMIC_RELAXED);
		pthread_join(t, NULL);
		x.no_return = false;
		if (x.final == -ENOMEM)
			x.final = 0;
		/* agree on the ring again, then go on as a good citizen */
		ret = zcrx_ctrl_flush(ring.fd, in.id);
		CHECK(ret == 0 || ret == -EINVAL, "ZCRX_CTRL_FLUSH_RQ after garbage: %s", en(ret));
		in.tail = rq_head(&in);
		rq_flush(&in);
		while (!x.done) {
			rx1_step(&x, 5);
			CHECK(now() < until, "stream stalled at %llu of %llu bytes after the garbage",
			      (unsigned long long)s.got, (unsigned long long)s.total);
		}
		CHECK(x.final == 0 && s.got == s.total, "stream ended with %s at %llu of %llu bytes",
		      en(x.final), (unsigned long long)s.got, (unsigned long long)s.total);
		give_back_all(&in);
		rq_flush(&in);
		/* the stale CQEs we held named pages the garbage may have freed */
		memset(in.bits, 0, in.npages * 64 * sizeof(uint64_t));
		memset(in.cnt, 0, in.npages * sizeof(uint32_t));
		memset(in.hend, 0, in.npages * sizeof(uint16_t));
		in.checks = true;
		fill_pool_check(&ring, &in, r);
		stream_close(&s, true);
		zc_ring_exit(&ring);
		inst_close(&in);
		expect_pinned(pin0, 10, "ring teardown");
		rounds++;
	}
	snprintf(g_rep->stats, sizeof(g_rep->stats), "%u streams with a garbage writer", rounds);
}

/* ---- the TAP main ------------------------------------------------------------------------ */

struct fcase {
	const char *name;
	void (*fn)(struct rng *r, double secs);
	double secs;		/* fuzzing time; finishing comes on top */
	unsigned int alarm_s;	/* past this it is a hang */
	bool net;
	bool slots;		/* needs SEND_ZC slots */
};

static const struct fcase cases[] = {
	{ "query", case_query, 0.8, 60, false, false },
	{ "register", case_register, 2.0, 120, true, false },
	{ "privilege", case_privilege, 0.5, 60, false, false },
	{ "memlock", case_memlock, 1.0, 90, false, false },
	{ "refill", case_refill, 2.5, 240, true, false },
	{ "recv_sqe", case_recv_sqe, 2.0, 240, true, false },
	{ "slots", case_slots, 1.5, 240, true, true },
	{ "mix", case_mix, 2.5, 240, true, true },
	{ "race_ring_close", case_race_ring_close, 1.0, 120, true, false },
	{ "race_socket", case_race_socket, 1.0, 120, true, false },
	{ "race_exit", case_race_exit, 1.0, 180, true, true },
	{ "race_fork", case_race_fork, 1.0, 180, true, false },
	{ "race_open_generation", case_race_open_generation, 0.8, 120, true, true },
	{ "race_rq_writer", case_race_rq_writer, 1.0, 180, true, false },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Is name one of the comma-separated names in list (NULL: all)? */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return true;
	return !list;
}

static uint64_t case_seed(uint64_t seed, unsigned int round, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return mix64(seed ^ mix64(h) ^ mix64(round + 1));
}

/* The kernel has zero-copy receive (and slots): the query says so. */
static void probe_features(bool *zcrx, bool *slots)
{
	struct io_uring_query_zcrx q;
	struct io_uring_query_opcode o;
	struct io_uring_query_hdr h2 = { .query_op = IO_URING_QUERY_ZCRX,
					 .query_data = (uintptr_t)&q, .size = sizeof(q) };
	struct io_uring_query_hdr h1 = { .next_entry = (uintptr_t)&h2,
					 .query_op = IO_URING_QUERY_OPCODES,
					 .query_data = (uintptr_t)&o, .size = sizeof(o) };

	memset(&q, 0, sizeof(q));
	memset(&o, 0, sizeof(o));
	*zcrx = *slots = false;
	if (zc_sys_register(-1, IORING_REGISTER_QUERY, &h1, 0))
		return;
	*zcrx = !h2.result && (q.register_flags & ZCRX_REG_NODEV);
	*slots = !h1.result && (o.feature_flags & IORING_FEAT_SEND_ZC_SLOTS);
}

static bool net_works(void)
{
	struct rng r = { 1 };
	int tx, rx;

	if (make_pair(&r, SOCK_STREAM, &tx, &rx))
		return false;
	close(tx);
	close(rx);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: zcrx_fuzz [--seed N] [--iterations M] [--case NAME] "
		"[--round R] [--list]\n  --case takes one name or several, comma-separated\n"
		"  env: ZCRX_FUZZ_SEED, ZCRX_FUZZ_ITERS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	unsigned int iters = 1, round0 = 0, n = 0, pass = 0, fail = 0, skip = 0;
	bool have_net, have_zcrx, have_slots;
	ssize_t l;

	if (argc == 6 && !strcmp(argv[1], "--sender"))
		return sender_main(atoi(argv[2]), strtoull(argv[3], NULL, 0),
				   strtoull(argv[4], NULL, 0), strtoull(argv[5], NULL, 0));
	if (getenv("ZCRX_FUZZ_SEED"))
		g_seed = strtoull(getenv("ZCRX_FUZZ_SEED"), NULL, 0);
	if (getenv("ZCRX_FUZZ_ITERS"))
		iters = strtoul(getenv("ZCRX_FUZZ_ITERS"), NULL, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			g_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
			iters = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--round") && i + 1 < argc)
			round0 = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--list")) {
			for (size_t c = 0; c < NCASES; c++)
				printf("%s\n", cases[c].name);
			return 0;
		} else {
			usage();
		}
	}
	if (!iters)
		usage();
	unsigned int nsel = 0;

	for (size_t c = 0; c < NCASES; c++)
		nsel += listed(only, cases[c].name);
	if (!nsel)
		usage();
	l = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
	if (l <= 0)
		return 2;
	g_exe[l] = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	g_rep = mmap(NULL, sizeof(*g_rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (g_rep == MAP_FAILED)
		return 2;

	g_netns = !access("/run/netns/" ZC_NS_A, F_OK) && !access("/run/netns/" ZC_NS_B, F_OK);
	if (!g_netns && system("ip link set lo up >/dev/null 2>&1") != 0)
		;
	have_net = net_works();
	probe_features(&have_zcrx, &have_slots);

	printf("TAP version 13\n1..%u\n", iters * nsel);
	printf("# zcrx_fuzz: seed 0x%llx, %u iteration%s from round %u (repeat: zcrx_fuzz "
	       "--seed 0x%llx --iterations %u --round %u)\n", (unsigned long long)g_seed, iters,
	       iters == 1 ? "" : "s", round0, (unsigned long long)g_seed, iters, round0);
	if (!have_zcrx)
		printf("# this kernel has no device-less zero-copy receive (IORING_REGISTER_QUERY)\n");
	printf("# streams over %s\n", !have_net ? "nothing (no network: those cases skip)" :
	       g_netns ? "veth between " ZC_NS_A " and " ZC_NS_B : "loopback");
	for (unsigned int round = round0; round < round0 + iters; round++) {
		for (size_t ci = 0; ci < NCASES; ci++) {
			const struct fcase *c = &cases[ci];
			uint64_t cs = case_seed(g_seed, round, c->name);
			double t0 = now();
			pid_t pid;
			int st;

			if (!listed(only, c->name))
				continue;
			n++;
			memset(g_rep, 0, sizeof(*g_rep));
			printf("# %s: round %u, case seed 0x%llx\n", c->name, round,
			       (unsigned long long)cs);
			if (c->net && !have_net) {
				printf("ok %u %s # SKIP no network for the streams\n", n, c->name);
				skip++;
				continue;
			}
			fflush(stdout);
			pid = fork();
			if (pid < 0) {
				printf("not ok %u %s # fork: %s\n", n, c->name, strerror(errno));
				fail++;
				continue;
			}
			if (pid == 0) {
				struct rng r = { cs };

				setpgid(0, 0);
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				prctl(PR_SET_CHILD_SUBREAPER, 1);
				signal(SIGALRM, on_alarm);
				signal(SIGSEGV, on_crash);
				signal(SIGBUS, on_crash);
				alarm(c->alarm_s);
				g_case = c->name;
				g_round = round;
				if (!have_zcrx)
					skip_case("no device-less zcrx in this kernel");
				if (c->slots && !have_slots)
					skip_case("no SEND_ZC notification slots in this kernel");
				hostile_init();
				qmem_init();
				c->fn(&r, c->secs);
				fflush(stdout);
				_exit(0);
			}
			st = wait_pid(pid, c->alarm_s + 30);
			kill(-pid, SIGKILL);
			if (st == -1) {
				wait_pid(pid, 5);
				snprintf(g_rep->msg, sizeof(g_rep->msg),
					 "hung: still running %u s after its alarm", 30);
			}
			while (waitpid(-1, &(int){ 0 }, WNOHANG) > 0)
				;
			if (g_rep->stats[0])
				printf("# %s: %s\n", c->name, g_rep->stats);
			printf("# %s: %.1f s\n", c->name, now() - t0);
			if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
				printf("ok %u %s\n", n, c->name);
				pass++;
			} else if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 4) {
				printf("ok %u %s # SKIP %s\n", n, c->name, g_rep->skip);
				skip++;
			} else {
				if (!g_rep->msg[0])
					snprintf(g_rep->msg, sizeof(g_rep->msg), "%s %d",
						 st >= 0 && WIFSIGNALED(st) ? "killed by signal" :
						 "exit status",
						 st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) :
						 st >= 0 ? WEXITSTATUS(st) : -1);
				printf("not ok %u %s # %s (seed 0x%llx round %u)\n", n, c->name,
				       g_rep->msg, (unsigned long long)g_seed, round);
				fail++;
			}
		}
	}
	printf("# totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n", pass, fail, skip);
	return fail ? 1 : 0;
}
