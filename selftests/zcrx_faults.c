// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, one at a time, in every path that sets up or tears
 * down zero-copy state: zcrx registration (user and kernel refill region),
 * ring teardown with chunks held and a RECV_ZC armed, SEND_ZC slot
 * registration and a slotted send, and creation of the ring zcrx needs.
 *
 * Each operation runs with /proc/thread-self/fail-nth = n for n = 1, 2, ...
 * (failslab and fail_page_alloc set up so that sleeping allocations, user
 * pages and order-0 pages fail too) until it completes without the fault
 * having fired. After every step: a failure is a clean -ENOMEM (or the
 * documented error), nothing is left half-registered, pinned memory and
 * RLIMIT_MEMLOCK accounting are given back (VmPin back to its start, and a
 * registration of exactly the limit still fits), and the ring still works,
 * data included. Leaks are kmemleak's to find after the suite (vm/guest-run).
 *
 * Without fault injection in the kernel (no fail-nth, no debugfs knobs)
 * every test is skipped.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/capability.h>

#include "lib/uring.h"
#include "lib/debugfs.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/zcrx.h"

#define MAX_N		2000		/* fault sites tried per operation */
#define AREA_PAGES	4
#define AREA_LEN	(AREA_PAGES * ZC_PAGE)
#define RQ_ENTRIES	64
#define SEED		0xfa17
#define UD_RECV		0x7ecf
#define UD_NOP		0x40b
#define IO_ZCRX_MMAP	0x30000000ULL	/* kernel refill region, id 0 */
#define WAIT_MS		5000

/* ---- fault injection set-up (in the harness's parent) ------------------- */

#define DBG "/sys/kernel/debug/"

struct knob {
	const char *path;
	const char *val;
	char saved[32];
	bool changed;
};

/*
 * fail-nth fails the n-th fault site of the task whatever probability,
 * interval and times say, but each capability's own filters still apply:
 * by default sleeping allocations, highmem/user pages and order-0 pages
 * are never failed. Random failures stay off (probability 0).
 */
static struct knob knobs[] = {
	{ DBG "failslab/ignore-gfp-wait", "N" },
	{ DBG "failslab/cache-filter", "N" },
	{ DBG "failslab/task-filter", "N" },
	{ DBG "failslab/verbose", "0" },
	{ DBG "failslab/probability", "0" },
	{ DBG "failslab/interval", "1" },
	{ DBG "failslab/times", "-1" },
	{ DBG "failslab/space", "0" },
	{ DBG "fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "fail_page_alloc/min-order", "0" },
	{ DBG "fail_page_alloc/task-filter", "N" },
	{ DBG "fail_page_alloc/verbose", "0" },
	{ DBG "fail_page_alloc/probability", "0" },
	{ DBG "fail_page_alloc/interval", "1" },
	{ DBG "fail_page_alloc/times", "-1" },
	{ DBG "fail_page_alloc/space", "0" },
};

static bool faults_ready;
static char faults_why[256] = "fault injection not set up";
static pid_t faults_owner;

static void faults_restore(void)
{
	if (getpid() != faults_owner)
		return;
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (knobs[i].changed && zc_knob_write(knobs[i].path, knobs[i].saved))
			fprintf(stderr, "# zcrx_faults: could not restore %s to %s\n",
				knobs[i].path, knobs[i].saved);
}

static void faults_setup(void)
{
	struct stat st;
	int err;

	if (access("/proc/thread-self/fail-nth", R_OK | W_OK)) {
		snprintf(faults_why, sizeof(faults_why),
			 "no usable /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION): %s",
			 strerror(errno));
		return;
	}
	if (stat(DBG "failslab", &st))
		syscall(SYS_mount, "debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (access(knobs[i].path, F_OK)) {
			snprintf(faults_why, sizeof(faults_why),
				 "no %s (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)",
				 knobs[i].path);
			return;
		}
	}
	faults_owner = getpid();
	atexit(faults_restore);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		err = zc_knob_read(knobs[i].path, knobs[i].saved, sizeof(knobs[i].saved));
		if (!err)
			err = zc_knob_write(knobs[i].path, knobs[i].val);
		if (err) {
			snprintf(faults_why, sizeof(faults_why), "cannot set %s: %s",
				 knobs[i].path, strerror(-err));
			return;
		}
		knobs[i].changed = true;
	}
	faults_ready = true;
}

/* ---- fail-nth, in the test's own task ------------------------------------ */

static int nth_fd = -1;

static void nth_open(struct __test_metadata *_metadata)
{
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nth_fd);
}

/*
 * Fail the n-th fault site this task reaches from now on. Between this and
 * nth_fired() only the syscalls under test may run: no logging.
 */
static void nth_arm(struct __test_metadata *_metadata, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	ASSERT_EQ(len, write(nth_fd, buf, len));
}

/* Disarm; true when the armed fault was injected (fail-nth read back 0). */
static bool nth_fired(struct __test_metadata *_metadata)
{
	char buf[16] = { 0 };
	ssize_t r = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	ssize_t w = write(nth_fd, "0", 1);

	EXPECT_LT(0, r);
	EXPECT_EQ(1, w);
	if (r <= 0 || w != 1)
		abort();
	return strtoul(buf, NULL, 10) == 0;
}

/*
 * Name the step in the kernel log before arming it, so that a splat on
 * the console says which operation and which n it came from. A fresh
 * open each time: /dev/kmsg rate-limits per open file.
 */
static void mark(const char *what, unsigned int n)
{
	char buf[128];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	int len = snprintf(buf, sizeof(buf), "<6>zcrx_faults: %s n=%u\n", what, n);

	if (fd >= 0) {
		ssize_t w = write(fd, buf, len);

		(void)w;	/* the log is only a help */
		close(fd);
	}
}

#define REQUIRE_FAULTS() do {						\
	if (!faults_ready)						\
		SKIP(return, "%s", faults_why);				\
	nth_open(_metadata);						\
} while (0)

/* ---- memory accounting --------------------------------------------------- */

/*
 * Without CAP_IPC_LOCK the ring charges registrations to the user's
 * RLIMIT_MEMLOCK (io_uring skips the accounting for a task that may lock
 * memory anyway); keep every other capability.
 */
static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint32_t bit = 1u << (CAP_IPC_LOCK % 32);

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_IPC_LOCK / 32].effective &= ~bit;
	d[CAP_IPC_LOCK / 32].permitted &= ~bit;
	d[CAP_IPC_LOCK / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

static int set_memlock(rlim_t bytes)
{
	struct rlimit rl = { bytes, bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

/* Ring teardown unaccounts from a workqueue: wait (bounded) for VmPin. */
static long wait_pinned(long want)
{
	long kb = zc_vm_pinned_kb();

	for (int i = 0; i < 2500 && kb != want; i++) {
		usleep(2000);
		kb = zc_vm_pinned_kb();
	}
	return kb;
}

/* The lowest free descriptor: a failed setup must not leave one behind. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* ---- ring helpers -------------------------------------------------------- */

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* io_uring_enter that waits for wait_nr CQEs at most ms milliseconds. */
static int enter_timeout(struct zc_ring *r, unsigned int submit,
			 unsigned int wait_nr, long ms)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.ts = (uintptr_t)&ts,
	};
	int ret = syscall(__NR_io_uring_enter, r->fd, submit, wait_nr,
			  IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			  &arg, sizeof(arg));

	return ret < 0 ? -errno : ret;
}

/* The next CQE (and its upper half on a CQE32 ring), or -ETIME. */
static int wait_cqe(struct zc_ring *r, struct io_uring_cqe *out,
		    uint64_t big[2], long ms)
{
	struct io_uring_cqe *cqe;
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!(cqe = zc_peek_cqe(r))) {
		if (ms_since(&t0) > ms)
			return -ETIME;
		ret = enter_timeout(r, 0, 1, 20);
		if (ret < 0 && ret != -ETIME && ret != -EINTR)
			return ret;
	}
	*out = *cqe;
	if (big)
		memcpy(big, r->cqe_size == 32 ? (char *)cqe + 16 : (char *)cqe, 16);
	if (big && r->cqe_size != 32)
		big[0] = big[1] = 0;
	zc_cqe_seen(r);
	return 0;
}

/* SQEs handed out and published but not consumed by the kernel yet. */
static unsigned int sq_unconsumed(struct zc_ring *r)
{
	__atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
	return r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
}

static void nop_round_trip(struct __test_metadata *_metadata, struct zc_ring *r)
{
	struct io_uring_sqe *sqe = zc_get_sqe(r);
	struct io_uring_cqe cqe;

	ASSERT_NE(NULL, sqe);
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = UD_NOP;
	ASSERT_EQ(1, zc_submit(r));
	ASSERT_EQ(0, wait_cqe(r, &cqe, NULL, WAIT_MS));
	ASSERT_EQ(UD_NOP, cqe.user_data);
	ASSERT_EQ(0, cqe.res);
}

/* ---- zcrx helpers -------------------------------------------------------- */

static int ctrl_flush(struct zc_ring *r, uint32_t id)
{
	struct zcrx_ctrl c = { .zcrx_id = id, .op = ZCRX_CTRL_FLUSH_RQ };

	return zc_sys_register(r->fd, IORING_REGISTER_ZCRX_CTRL, &c, 0);
}

/*
 * Fill in a registration of a pool of AREA_LEN and a refill ring of
 * RQ_ENTRIES; with touch, every page of user memory is present already,
 * so pinning allocates nothing but its own bookkeeping.
 */
static int zcrx_prepare(struct zc_zcrx *z, bool rq_kernel, bool touch)
{
	int ret = zc_zcrx_prepare(z, AREA_LEN, RQ_ENTRIES, rq_kernel);

	if (ret)
		return ret;
	if (touch) {
		memset(z->area, 0, z->area_len);
		if (!rq_kernel)
			memset(z->rq_mem, 0, z->rq_len);
	}
	return 0;
}

static int zcrx_map_rq(struct zc_ring *r, struct zc_zcrx *z)
{
	if (z->rq_kernel) {
		void *p = mmap(NULL, z->rq_len, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_POPULATE, r->fd, z->rd.mmap_offset);

		if (p == MAP_FAILED)
			return -errno;
		z->rq_mem = p;
	}
	return 0;
}

/* After a successful registration and mapping: the refill ring's view. */
static void zcrx_bind(struct zc_zcrx *z)
{
	zcuring_zcrx_rq_init(&z->rq, z->rq_mem, &z->reg);
}

static int zcrx_setup(struct zc_ring *r, struct zc_zcrx *z, bool rq_kernel)
{
	int ret = zcrx_prepare(z, rq_kernel, true);

	if (!ret)
		ret = zc_sys_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &z->reg, 1);
	if (!ret)
		ret = zcrx_map_rq(r, z);
	if (!ret)
		zcrx_bind(z);
	return ret;
}

/* Check one RECV_ZC data CQE against the stream; returns its length. */
static int check_data_cqe(struct __test_metadata *_metadata, struct zc_zcrx *z,
			  const struct io_uring_cqe *cqe, const uint64_t big[2],
			  uint64_t stream_off)
{
	uint64_t off = big[0];

	EXPECT_NE(0, cqe->flags & IORING_CQE_F_MORE);
	EXPECT_LT(0, cqe->res);
	EXPECT_EQ(0, off & IORING_ZCRX_AREA_MASK);
	EXPECT_LE(off + (cqe->res > 0 ? cqe->res : 0), z->area_len);
	EXPECT_LE(off % ZC_PAGE + (cqe->res > 0 ? cqe->res : 0), ZC_PAGE);
	if (!_metadata->passed)
		return -1;
	EXPECT_EQ(-1, zc_pattern_check(z->area + off, cqe->res, SEED, stream_off))
		TH_LOG("bad data at stream byte %llu", (unsigned long long)stream_off);
	return _metadata->passed ? cqe->res : -1;
}

/*
 * The instance receives: len bytes written to tx arrive through a
 * RECV_ZC limited to len, then the request ends with res 0.
 */
static void recv_through(struct __test_metadata *_metadata, struct zc_ring *r,
			 struct zc_zcrx *z, int tx, int rx, uint64_t *stream,
			 unsigned int len)
{
	uint8_t buf[512];
	struct io_uring_cqe cqe;
	uint64_t big[2];
	unsigned int got = 0;
	int n;

	ASSERT_LE(len, sizeof(buf));
	zc_pattern_fill(buf, len, SEED, *stream);
	ASSERT_EQ(len, write(tx, buf, len));
	zc_prep_recv_zc(zc_get_sqe(r), rx, z->reg.zcrx_id, len, UD_RECV);
	ASSERT_EQ(1, zc_submit(r));
	for (;;) {
		ASSERT_EQ(0, wait_cqe(r, &cqe, big, WAIT_MS));
		ASSERT_EQ(UD_RECV, cqe.user_data);
		if (!(cqe.flags & IORING_CQE_F_MORE)) {
			ASSERT_EQ(0, cqe.res);
			break;
		}
		n = check_data_cqe(_metadata, z, &cqe, big, *stream + got);
		ASSERT_LT(0, n);
		got += n;
		ASSERT_LE(got, len);
	}
	ASSERT_EQ(len, got);
	*stream += len;
}

/* Nothing registered: no instance 0, no kernel refill region to map. */
static void assert_no_instance(struct __test_metadata *_metadata,
			       struct zc_ring *r, unsigned int n)
{
	void *p;

	ASSERT_EQ(-ENXIO, ctrl_flush(r, 0))
		TH_LOG("n=%u: a failed registration left instance 0 behind", n);
	p = mmap(NULL, ZC_PAGE, PROT_READ, MAP_SHARED, r->fd, IO_ZCRX_MMAP);
	if (p != MAP_FAILED)
		munmap(p, ZC_PAGE);
	ASSERT_EQ(MAP_FAILED, p)
		TH_LOG("n=%u: a failed registration left a mappable refill region", n);
}

/*
 * A registered instance 0 is whole: it pins what a registration pins,
 * takes refill flushes, and receives.
 */
static void assert_instance_works(struct __test_metadata *_metadata,
				  struct zc_ring *r, struct zc_zcrx *z,
				  long pinned_want, int tx, int rx,
				  uint64_t *stream, unsigned int n)
{
	ASSERT_EQ(0, z->reg.zcrx_id) TH_LOG("n=%u", n);
	ASSERT_EQ(pinned_want, zc_vm_pinned_kb())
		TH_LOG("n=%u: VmPin of a registered instance", n);
	ASSERT_EQ(0, *z->rq.khead) TH_LOG("n=%u", n);
	ASSERT_EQ(0, *z->rq.ktail) TH_LOG("n=%u", n);
	ASSERT_EQ(0, ctrl_flush(r, 0)) TH_LOG("n=%u", n);
	ASSERT_EQ(-ENXIO, ctrl_flush(r, 1)) TH_LOG("n=%u", n);
	nop_round_trip(_metadata, r);
	recv_through(_metadata, r, z, tx, rx, stream, 100);
}

static void close_all(struct zc_ring *r, struct zc_zcrx *z)
{
	zc_zcrx_free(z);
	zc_ring_exit(r);
}

/*
 * The accounted size of one registration: register once with room to
 * spare and see what VmPin grows by. Leaves the task without
 * CAP_IPC_LOCK and RLIMIT_MEMLOCK at exactly that size, after checking
 * that one page less is refused: from then on a registration fits only
 * if nothing stayed accounted.
 */
static long exact_memlock(struct __test_metadata *_metadata, bool rq_kernel,
			  long base)
{
	struct zc_ring r;
	struct zc_zcrx z;
	long delta;

	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, set_memlock(16 << 20));
	ASSERT_EQ(0, zc_ring_init(&r, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zcrx_setup(&r, &z, rq_kernel));
	delta = zc_vm_pinned_kb() - base;
	ASSERT_LE(AREA_LEN / 1024, delta);
	close_all(&r, &z);
	ASSERT_EQ(base, wait_pinned(base));

	ASSERT_EQ(0, set_memlock(delta * 1024 - ZC_PAGE));
	ASSERT_EQ(0, zc_ring_init(&r, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(-ENOMEM, zcrx_setup(&r, &z, rq_kernel));
	close_all(&r, &z);
	ASSERT_EQ(base, wait_pinned(base));
	ASSERT_EQ(0, set_memlock(delta * 1024));
	return delta;
}

/* ---- (a) registration ---------------------------------------------------- */

FIXTURE(reg) {
	struct zc_ring ring;
	struct zc_zcrx z;
	int tx, rx;
	long base;		/* VmPin with nothing registered */
	long delta;		/* what one registration accounts */
	uint64_t stream;
};

FIXTURE_VARIANT(reg) {
	bool rq_kernel;		/* refill ring in kernel memory, mmapped */
	bool touch;		/* user memory present before pinning */
};

FIXTURE_VARIANT_ADD(reg, user_region) { .rq_kernel = false, .touch = true };
FIXTURE_VARIANT_ADD(reg, kernel_region) { .rq_kernel = true, .touch = true };
/* pinning faults the pages in: page and page-table allocations fail too */
FIXTURE_VARIANT_ADD(reg, user_region_untouched) { .rq_kernel = false, .touch = false };

FIXTURE_SETUP(reg)
{
	self->tx = self->rx = -1;
	self->ring.fd = -1;
	REQUIRE_FAULTS();
	self->base = zc_vm_pinned_kb();
	ASSERT_LE(0, self->base);
	self->delta = exact_memlock(_metadata, variant->rq_kernel, self->base);
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rx));
}

FIXTURE_TEARDOWN(reg)
{
	close_all(&self->ring, &self->z);
	if (self->tx >= 0)
		close(self->tx);
	if (self->rx >= 0)
		close(self->rx);
	if (!_metadata->skip)
		EXPECT_EQ(self->base, wait_pinned(self->base));
}

/*
 * IORING_REGISTER_ZCRX_IFQ (and the mmap of a kernel refill region) with
 * the n-th allocation failing.
 */
TEST_F_TIMEOUT(reg, every_allocation, 300)
{
	struct zc_ring *r = &self->ring;
	struct zc_zcrx *z = &self->z;
	unsigned int n, failed = 0, efault = 0, absorbed = 0;
	bool fired;
	int ret, mret;

	if (_metadata->skip)
		return;
	for (n = 1; n <= MAX_N; n++) {
		ASSERT_EQ(self->base, wait_pinned(self->base))
			TH_LOG("n=%u: pinned memory of the last ring not given back", n);
		ASSERT_EQ(0, zc_ring_init(r, 8, ZC_RING_FLAGS, 0));
		ASSERT_EQ(0, zcrx_prepare(z, variant->rq_kernel, variant->touch));

		mret = 0;
		mark(variant->rq_kernel ? "reg.kernel_region" :
		     variant->touch ? "reg.user_region" : "reg.user_region_untouched", n);
		nth_arm(_metadata, n);
		ret = zc_sys_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &z->reg, 1);
		if (!ret)
			mret = zcrx_map_rq(r, z);
		fired = nth_fired(_metadata);

		if (ret) {
			failed++;
			ASSERT_TRUE(fired)
				TH_LOG("n=%u: registration failed (%d) with no fault injected", n, ret);
			/*
			 * Pinning that stops part way (a page could not be
			 * faulted in) is -EFAULT, as for registered buffers and
			 * in mainline.
			 */
			if (ret == -EFAULT && !variant->touch)
				efault++;
			else
				ASSERT_EQ(-ENOMEM, ret) TH_LOG("n=%u: registration error", n);
			assert_no_instance(_metadata, r, n);
			ASSERT_EQ(self->base, zc_vm_pinned_kb())
				TH_LOG("n=%u: a failed registration left memory pinned", n);
			/* the same ring takes the next one, at exactly the limit */
			zc_zcrx_free(z);
			ASSERT_EQ(0, zcrx_setup(r, z, variant->rq_kernel))
				TH_LOG("n=%u: registration after a failed one (memlock accounting kept?)", n);
		} else if (mret) {
			/* registered, but the refill region could not be mapped */
			ASSERT_TRUE(fired) TH_LOG("n=%u: mmap failed (%d) with no fault", n, mret);
			ASSERT_EQ(-ENOMEM, mret) TH_LOG("n=%u: mmap of the refill region", n);
			ASSERT_EQ(0, zcrx_map_rq(r, z)) TH_LOG("n=%u: mapping again", n);
			zcrx_bind(z);
		} else {
			absorbed += fired;
			zcrx_bind(z);
		}
		assert_instance_works(_metadata, r, z, self->base + self->delta,
				      self->tx, self->rx, &self->stream, n);
		close_all(r, z);
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("registration still failing after %u fault sites", MAX_N);
	TH_LOG("%u fault sites: %u registrations failed (%u of them -EFAULT), %u succeeded anyway",
	       n - 1, failed, efault, absorbed);
	/* the last ring's accounting is gone too: the limit fits once more */
	ASSERT_EQ(self->base, wait_pinned(self->base));
	ASSERT_EQ(0, zc_ring_init(r, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zcrx_setup(r, z, variant->rq_kernel));
}

/* ---- (b) teardown -------------------------------------------------------- */

FIXTURE(teardown) {
	struct zc_ring ring;
	struct zc_zcrx z;
	int tx, rx;
	long base, delta;
};

FIXTURE_SETUP(teardown)
{
	self->tx = self->rx = -1;
	self->ring.fd = -1;
	REQUIRE_FAULTS();
	self->base = zc_vm_pinned_kb();
	self->delta = exact_memlock(_metadata, true, self->base);
}

FIXTURE_TEARDOWN(teardown)
{
	close_all(&self->ring, &self->z);
	if (self->tx >= 0)
		close(self->tx);
	if (self->rx >= 0)
		close(self->rx);
	if (!_metadata->skip)
		EXPECT_EQ(self->base, wait_pinned(self->base));
}

#define HELD_BYTES	6000

/*
 * What a teardown finds: a ring at exactly the memlock limit with its
 * instance (kernel refill region, mmapped), a RECV_ZC armed that has
 * delivered HELD_BYTES, every chunk of them held by user space but the
 * first, which sits on the refill ring unflushed. Returns 0 or the step
 * that went wrong (it also runs in a child, away from the harness).
 */
static int hold_chunks(struct zc_ring *r, struct zc_zcrx *z, int tx, int rx,
		       long pinned_want)
{
	static uint8_t buf[HELD_BYTES];
	struct io_uring_cqe cqe;
	uint64_t big[2], first_off = 0;
	unsigned int got, cqes;

	if (zc_ring_init(r, 16, ZC_RING_FLAGS, 0))
		return 1;
	if (zcrx_setup(r, z, true))
		return 2;
	zc_pattern_fill(buf, sizeof(buf), SEED, 0);
	if (write(tx, buf, sizeof(buf)) != sizeof(buf))
		return 3;
	zc_prep_recv_zc(zc_get_sqe(r), rx, 0, 0, UD_RECV);
	if (zc_submit(r) != 1)
		return 4;
	for (got = 0, cqes = 0; got < sizeof(buf); cqes++) {
		if (wait_cqe(r, &cqe, big, WAIT_MS) || cqe.user_data != UD_RECV)
			return 5;
		/* still armed after every data CQE */
		if (!(cqe.flags & IORING_CQE_F_MORE) || cqe.res <= 0 ||
		    big[0] + cqe.res > z->area_len)
			return 6;
		if (zc_pattern_check(z->area + big[0], cqe.res, SEED, got) != -1)
			return 7;
		if (!cqes)
			first_off = big[0];
		got += cqe.res;
	}
	if (got != sizeof(buf))
		return 8;
	zc_zcrx_queue(z, first_off, 0);
	zc_zcrx_publish(z);
	if (zc_vm_pinned_kb() != pinned_want)
		return 9;
	/*
	 * The mappings hold the ring file too: drop them now (munmap may
	 * itself fail for want of memory), so that the last reference is
	 * the descriptor.
	 */
	if (munmap(z->rq_mem, z->rq_len) || munmap(r->sqes, r->sqes_sz) ||
	    (r->cq_map != r->sq_map && munmap(r->cq_map, r->cq_map_sz)) ||
	    munmap(r->sq_map, r->sq_map_sz))
		return 10;
	z->rq_mem = NULL;
	r->sqes = r->sq_map = r->cq_map = NULL;
	return 0;
}

/* After a teardown the socket is the application's again. */
static void socket_still_works(struct __test_metadata *_metadata, int tx, int rx)
{
	uint8_t buf[100];

	zc_pattern_fill(buf, sizeof(buf), SEED, 7);
	ASSERT_EQ(sizeof(buf), write(tx, buf, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, zc_recv_exact(rx, SOCK_STREAM, buf, sizeof(buf)));
	ASSERT_EQ(-1, zc_pattern_check(buf, sizeof(buf), SEED, 7));
}

/*
 * Closing the ring of hold_chunks() with the n-th allocation of the
 * closing task failing. The rest of the teardown runs in a workqueue,
 * where fail-nth does not reach.
 */
TEST_F_TIMEOUT(teardown, close_with_chunks_held_and_recv_armed, 300)
{
	struct zc_ring *r = &self->ring;
	struct zc_zcrx *z = &self->z;
	unsigned int n;
	bool fired;
	int ret;

	if (_metadata->skip)
		return;
	for (n = 1; n <= MAX_N; n++) {
		ASSERT_EQ(self->base, wait_pinned(self->base))
			TH_LOG("n=%u: pinned memory of the last ring not given back", n - 1);
		ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rx));
		/* at exactly the limit: the last teardown unaccounted it all */
		ASSERT_EQ(0, hold_chunks(r, z, self->tx, self->rx, self->base + self->delta))
			TH_LOG("n=%u: setting up the teardown", n);

		mark("teardown.close", n);
		nth_arm(_metadata, n);
		ret = close(r->fd);
		fired = nth_fired(_metadata);

		ASSERT_EQ(0, ret) TH_LOG("n=%u: close of the ring", n);
		r->fd = -1;
		close_all(r, z);
		ASSERT_EQ(self->base, wait_pinned(self->base))
			TH_LOG("n=%u: teardown did not give the pinned pool back", n);
		socket_still_works(_metadata, self->tx, self->rx);
		close(self->tx);
		close(self->rx);
		self->tx = self->rx = -1;
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("teardown still hitting faults after %u sites", MAX_N);
	TH_LOG("%u fault sites in the closing task", n - 1);
	ASSERT_EQ(self->base, wait_pinned(self->base));
	ASSERT_EQ(0, zc_ring_init(r, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zcrx_setup(r, z, true));
}

/*
 * A registration at exactly the limit fits again: whatever rings of this
 * user were torn down elsewhere have unaccounted everything. Teardown is
 * asynchronous, so retry (bounded) while it is -ENOMEM.
 */
static int wait_limit_fits(struct zc_ring *r, struct zc_zcrx *z)
{
	int ret = -ENOMEM;

	for (int i = 0; i < 250 && ret == -ENOMEM; i++) {
		if (i)
			usleep(20000);
		if (zc_ring_init(r, 8, ZC_RING_FLAGS, 0))
			return -EBADF;
		ret = zcrx_setup(r, z, true);
		close_all(r, z);
	}
	return ret;
}

/*
 * The same state torn down by the task's exit, with the n-th allocation
 * of the exiting task failing: io_uring cancels the task's requests and
 * drops its files on the way out. The child's fail-nth is read while it
 * is a zombie.
 */
TEST_F_TIMEOUT(teardown, exit_with_chunks_held_and_recv_armed, 300)
{
	char path[64], left[16];
	unsigned int n;
	siginfo_t si;
	bool fired;
	pid_t pid;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rx));
	for (n = 1; n <= MAX_N; n++) {
		mark("teardown.exit", n);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			struct zc_ring r;
			struct zc_zcrx z;
			int fd, len, err;

			fd = open("/proc/thread-self/fail-nth", O_WRONLY | O_CLOEXEC);
			err = hold_chunks(&r, &z, self->tx, self->rx,
					  zc_vm_pinned_kb() + self->delta);
			if (err || fd < 0)
				_exit(err ? err : 20);
			len = snprintf(left, sizeof(left), "%u", n);
			if (write(fd, left, len) != len)
				_exit(21);
			_exit(0);
		}
		memset(&si, 0, sizeof(si));
		ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
		snprintf(path, sizeof(path), "/proc/%d/fail-nth", pid);
		memset(left, 0, sizeof(left));
		ASSERT_EQ(0, zc_knob_read(path, left, sizeof(left)));
		fired = strtoul(left, NULL, 10) == 0;
		ASSERT_EQ(pid, waitpid(pid, NULL, 0));
		ASSERT_EQ(CLD_EXITED, si.si_code);
		ASSERT_EQ(0, si.si_status) TH_LOG("n=%u: child failed at step %d", n, si.si_status);

		ASSERT_EQ(0, wait_limit_fits(&self->ring, &self->z))
			TH_LOG("n=%u: the exited task's ring kept memlock accounting", n);
		ASSERT_EQ(self->base, wait_pinned(self->base));
		socket_still_works(_metadata, self->tx, self->rx);
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("exit still hitting faults after %u sites", MAX_N);
	TH_LOG("%u fault sites in the exiting task", n - 1);
}

/* ---- (c) send notification slots ----------------------------------------- */

#define NR_SLOTS	8
#define BUF_LEN		2048
#define NR_BUFS		(2 * MAX_N + 16)
#define TAG(i)		(0x5107000000000000ull + (i))
#define IS_TAG(ud)	((ud) >= TAG(0) && (ud) < TAG(NR_SLOTS))
#define UD_SEND(i)	(0x5e00000000ull + (i))

static int register_slots(struct zc_ring *r, unsigned int nr)
{
	uint64_t tags[NR_SLOTS];
	struct io_uring_send_zc_slots_reg reg = {
		.tags = (uintptr_t)tags, .nr = nr, .first_generation = 0,
	};

	for (unsigned int i = 0; i < NR_SLOTS; i++)
		tags[i] = TAG(i);
	return zc_sys_register(r->fd, IORING_REGISTER_SEND_ZC_SLOTS, &reg, 1);
}

static int unregister_slots(struct zc_ring *r)
{
	return zc_sys_register(r->fd, IORING_UNREGISTER_SEND_ZC_SLOTS, NULL, 0);
}

FIXTURE(slots) {
	struct zc_ring ring;
	int tx, rx;
	uint8_t *bufs;		/* NR_BUFS * BUF_LEN: a fresh buffer per send */
	unsigned int next_buf;
	uint64_t sent;		/* stream bytes the sends reported */
	uint64_t checked;	/* stream bytes verified at the receiver */
	/* notifications seen, per slot and generation */
	uint8_t *seen[NR_SLOTS];
	unsigned int nr_seen[NR_SLOTS];
	uint8_t *rbuf;
};

FIXTURE_SETUP(slots)
{
	self->tx = self->rx = -1;
	self->ring.fd = -1;
	REQUIRE_FAULTS();
	ASSERT_EQ(0, zc_ring_init(&self->ring, 16, ZC_RING_FLAGS, 64));
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rx));
	self->bufs = mmap(NULL, (size_t)NR_BUFS * BUF_LEN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->bufs);
	for (int i = 0; i < NR_SLOTS; i++) {
		self->seen[i] = calloc(NR_BUFS, 1);
		ASSERT_NE(NULL, self->seen[i]);
	}
	self->rbuf = malloc(2 * BUF_LEN);
	ASSERT_NE(NULL, self->rbuf);
}

FIXTURE_TEARDOWN(slots)
{
	zc_ring_exit(&self->ring);
	if (self->tx >= 0)
		close(self->tx);
	if (self->rx >= 0)
		close(self->rx);
	if (self->bufs && self->bufs != MAP_FAILED)
		munmap(self->bufs, (size_t)NR_BUFS * BUF_LEN);
	for (int i = 0; i < NR_SLOTS; i++)
		free(self->seen[i]);
	free(self->rbuf);
}

/*
 * Queue a send of the next BUF_LEN bytes of the stream from a buffer no
 * earlier send used (zero copy: the kernel may read a buffer until its
 * generation is notified).
 */
static void prep_slot_send(struct __test_metadata *_metadata,
			   FIXTURE_DATA(slots) *self, unsigned int slot,
			   uint64_t ud)
{
	struct io_uring_sqe *sqe = zc_get_sqe(&self->ring);
	uint8_t *b;

	ASSERT_NE(NULL, sqe);
	ASSERT_LT(self->next_buf, NR_BUFS);
	b = self->bufs + (size_t)self->next_buf++ * BUF_LEN;
	zc_pattern_fill(b, BUF_LEN, SEED, self->sent);
	zc_prep_send_zc(sqe, self->tx, b, BUF_LEN,
			IORING_SEND_ZC_SLOT | IORING_SEND_ZC_SLOT_FLUSH, ud);
	sqe->send_zc_slot = slot;
}

/* A notification: one per generation, each with its slot's tag. */
static void note_notif(struct __test_metadata *_metadata,
		       FIXTURE_DATA(slots) *self, const struct io_uring_cqe *cqe)
{
	unsigned int slot = cqe->user_data - TAG(0);

	ASSERT_TRUE(IS_TAG(cqe->user_data))
		TH_LOG("notification with user_data %llx", (unsigned long long)cqe->user_data);
	ASSERT_EQ(IORING_CQE_F_NOTIF, cqe->flags & (IORING_CQE_F_NOTIF | IORING_CQE_F_MORE));
	ASSERT_LE(0, cqe->res);
	ASSERT_LT(cqe->res, NR_BUFS);
	ASSERT_EQ(0, self->seen[slot][cqe->res])
		TH_LOG("slot %u: generation %d notified twice", slot, cqe->res);
	self->seen[slot][cqe->res] = 1;
	self->nr_seen[slot]++;
}

/*
 * Reap until the send with user_data ud completed; its res in *res.
 * Notifications that come meanwhile are recorded.
 */
static void reap_send(struct __test_metadata *_metadata,
		      FIXTURE_DATA(slots) *self, uint64_t ud, int *res)
{
	struct io_uring_cqe cqe;

	for (;;) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &cqe, NULL, WAIT_MS))
			TH_LOG("send %llx never completed", (unsigned long long)ud);
		if (cqe.flags & IORING_CQE_F_NOTIF) {
			note_notif(_metadata, self, &cqe);
			continue;
		}
		ASSERT_EQ(ud, cqe.user_data);
		ASSERT_EQ(0, cqe.flags & IORING_CQE_F_MORE)
			TH_LOG("a slotted send asked for a notification of its own");
		*res = cqe.res;
		return;
	}
}

/* Reap until slot has nr notifications. */
static void reap_notifs(struct __test_metadata *_metadata,
			FIXTURE_DATA(slots) *self, unsigned int slot,
			unsigned int nr)
{
	struct io_uring_cqe cqe;

	while (self->nr_seen[slot] < nr) {
		ASSERT_EQ(0, wait_cqe(&self->ring, &cqe, NULL, WAIT_MS))
			TH_LOG("slot %u: %u of %u notifications came", slot,
			       self->nr_seen[slot], nr);
		ASSERT_TRUE(cqe.flags & IORING_CQE_F_NOTIF)
			TH_LOG("unexpected CQE %llx res %d",
			       (unsigned long long)cqe.user_data, cqe.res);
		note_notif(_metadata, self, &cqe);
	}
}

/* The receiver has exactly the bytes the sends reported, in order. */
static void receive_sent(struct __test_metadata *_metadata,
			 FIXTURE_DATA(slots) *self)
{
	while (self->checked < self->sent) {
		size_t len = self->sent - self->checked;

		if (len > 2 * BUF_LEN)
			len = 2 * BUF_LEN;
		ASSERT_EQ(0, zc_recv_exact(self->rx, SOCK_STREAM, self->rbuf, len));
		ASSERT_EQ(-1, zc_pattern_check(self->rbuf, len, SEED, self->checked))
			TH_LOG("bad data at stream byte %llu",
			       (unsigned long long)self->checked);
		self->checked += len;
	}
}

/* A send on slot that must simply work; waits for its notification. */
static void clean_send(struct __test_metadata *_metadata,
		       FIXTURE_DATA(slots) *self, unsigned int slot)
{
	unsigned int want = self->nr_seen[slot] + 1;
	int res;

	prep_slot_send(_metadata, self, slot, UD_SEND(0));
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_send(_metadata, self, UD_SEND(0), &res);
	ASSERT_EQ(BUF_LEN, res);
	self->sent += res;
	/* reading makes the receiver ack at once, which frees the skbs */
	receive_sent(_metadata, self);
	reap_notifs(_metadata, self, slot, want);
}

/* Slotted send of slot with no slots registered: -EINVAL, no data. */
static void assert_no_slots(struct __test_metadata *_metadata,
			    FIXTURE_DATA(slots) *self, unsigned int n)
{
	int res;

	ASSERT_EQ(-ENXIO, unregister_slots(&self->ring))
		TH_LOG("n=%u: a failed registration left slots behind", n);
	prep_slot_send(_metadata, self, 0, UD_SEND(1));
	ASSERT_EQ(1, zc_submit(&self->ring));
	reap_send(_metadata, self, UD_SEND(1), &res);
	ASSERT_EQ(-EINVAL, res) TH_LOG("n=%u: slotted send without slots", n);
}

/* IORING_REGISTER_SEND_ZC_SLOTS with the n-th allocation failing. */
TEST_F_TIMEOUT(slots, register_every_allocation, 300)
{
	unsigned int n, failed = 0;
	bool fired;
	int ret;

	if (_metadata->skip)
		return;
	for (n = 1; n <= MAX_N; n++) {
		mark("slots.register", n);
		nth_arm(_metadata, n);
		ret = register_slots(&self->ring, NR_SLOTS);
		fired = nth_fired(_metadata);

		if (ret) {
			failed++;
			ASSERT_TRUE(fired)
				TH_LOG("n=%u: registration failed (%d) with no fault injected", n, ret);
			ASSERT_EQ(-ENOMEM, ret) TH_LOG("n=%u: registration error", n);
			assert_no_slots(_metadata, self, n);
			ASSERT_EQ(0, register_slots(&self->ring, NR_SLOTS))
				TH_LOG("n=%u: registration after a failed one", n);
		}
		/* registered whole: the last slot exists and has its tag */
		ASSERT_EQ(-EBUSY, register_slots(&self->ring, NR_SLOTS));
		memset(self->seen[NR_SLOTS - 1], 0, NR_BUFS);
		self->nr_seen[NR_SLOTS - 1] = 0;
		clean_send(_metadata, self, NR_SLOTS - 1);
		ASSERT_EQ(1, self->seen[NR_SLOTS - 1][0]) TH_LOG("n=%u: first generation", n);
		ASSERT_EQ(0, unregister_slots(&self->ring));
		ASSERT_EQ(-ENXIO, unregister_slots(&self->ring));
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("registration still failing after %u fault sites", MAX_N);
	TH_LOG("%u fault sites, %u failed registrations", n - 1, failed);
	nop_round_trip(_metadata, &self->ring);
}

/*
 * Wait until slot's notifications are generations 0..k-1 with k >= min,
 * each exactly once (note_notif() refuses a second one), and nothing more
 * comes for 50 ms; a generation still missing after WAIT_MS is one that
 * never completed.
 */
static void reap_gens(struct __test_metadata *_metadata,
		      FIXTURE_DATA(slots) *self, unsigned int slot,
		      unsigned int min, unsigned int n)
{
	struct io_uring_cqe cqe;
	struct timespec t0;
	unsigned int g;

	reap_notifs(_metadata, self, slot, min);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (!wait_cqe(&self->ring, &cqe, NULL, 50)) {
			ASSERT_TRUE(cqe.flags & IORING_CQE_F_NOTIF)
				TH_LOG("n=%u: unexpected CQE %llx res %d", n,
				       (unsigned long long)cqe.user_data, cqe.res);
			note_notif(_metadata, self, &cqe);
		}
		for (g = 0; g < self->nr_seen[slot] && self->seen[slot][g]; g++)
			;
		if (g == self->nr_seen[slot])
			return;
		ASSERT_LT(ms_since(&t0), WAIT_MS)
			TH_LOG("n=%u: slot %u generation %u never notified", n, slot, g);
	}
}

/*
 * A slotted SEND_ZC (slot 0, closing its generation) on a fresh ring with
 * the n-th allocation of its submission, issue and completion failing.
 * Then a clean send on slot 1 and a last one on slot 0: the ring and the
 * stream still work, every generation a send joined is notified exactly
 * once with no gaps in the numbering, and the receiver gets exactly the
 * bytes the sends reported.
 */
TEST_F_TIMEOUT(slots, send_every_allocation, 300)
{
	unsigned int n, joined, maybe, failed = 0, unsubmitted = 0;
	struct zc_ring *r = &self->ring;
	bool fired, submitted;
	int ret, res;

	if (_metadata->skip)
		return;
	zc_ring_exit(r);
	for (n = 1; n <= MAX_N; n++) {
		ASSERT_EQ(0, zc_ring_init(r, 16, ZC_RING_FLAGS, 64));
		ASSERT_EQ(0, register_slots(r, 2));
		for (int i = 0; i < 2; i++) {
			memset(self->seen[i], 0, NR_BUFS);
			self->nr_seen[i] = 0;
		}
		joined = maybe = 0;

		prep_slot_send(_metadata, self, 0, UD_SEND(n));
		mark("slots.send", n);
		nth_arm(_metadata, n);
		ret = enter_timeout(r, sq_unconsumed(r), 1, 2000);
		fired = nth_fired(_metadata);

		submitted = ret == 1;
		if (!submitted) {
			/* the SQE was not consumed: no request, no memory */
			ASSERT_TRUE(fired)
				TH_LOG("n=%u: io_uring_enter %d with no fault injected", n, ret);
			ASSERT_EQ(-EAGAIN, ret) TH_LOG("n=%u: io_uring_enter", n);
			unsubmitted++;
			ASSERT_EQ(1, sq_unconsumed(r));
			ASSERT_EQ(1, zc_sys_enter(r->fd, 1, 0, 0));
		}
		reap_send(_metadata, self, UD_SEND(n), &res);
		if (!submitted) {
			ASSERT_EQ(BUF_LEN, res) TH_LOG("n=%u: send resubmitted", n);
			joined = 1;
		} else if (res == BUF_LEN || (res > 0 && fired)) {
			joined = 1;	/* it sent data: its generation exists */
		} else {
			ASSERT_TRUE(fired)
				TH_LOG("n=%u: send failed (%d) with no fault injected", n, res);
			ASSERT_TRUE(res == -ENOMEM || res == -ENOBUFS || res == -ECANCELED)
				TH_LOG("n=%u: slotted send ended with %d", n, res);
			failed++;
			maybe = 1;	/* it may or may not have joined one */
		}
		if (res > 0)
			self->sent += res;
		/* the other slot, the ring and the stream work */
		clean_send(_metadata, self, 1);
		ASSERT_EQ(1, self->seen[1][0]) TH_LOG("n=%u: slot 1 generation", n);
		/* slot 0 goes on after what the failed send left */
		clean_send(_metadata, self, 0);
		reap_gens(_metadata, self, 0, joined + 1, n);
		ASSERT_GE(joined + maybe + 1, self->nr_seen[0])
			TH_LOG("n=%u: slot 0 notified generations no send joined", n);
		ASSERT_EQ(0, unregister_slots(r));
		ASSERT_EQ(NULL, zc_peek_cqe(r)) TH_LOG("n=%u: CQE after unregistering", n);
		zc_ring_exit(r);
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("slotted send still hitting faults after %u sites", MAX_N);
	TH_LOG("%u fault sites: %u sends failed, %u not submitted (-EAGAIN)",
	       n - 1, failed, unsubmitted);
	shutdown(self->tx, SHUT_WR);
	ASSERT_EQ(0, recv(self->rx, self->rbuf, 1, 0)) TH_LOG("bytes no send reported");
}

/* ---- (d) ring creation --------------------------------------------------- */

FIXTURE(ring) {
	int tx, rx;
	long base;
	uint64_t stream;
};

FIXTURE_SETUP(ring)
{
	self->tx = self->rx = -1;
	REQUIRE_FAULTS();
	self->base = zc_vm_pinned_kb();
	ASSERT_EQ(0, zc_pair(AF_INET, SOCK_STREAM, &self->tx, &self->rx));
}

FIXTURE_TEARDOWN(ring)
{
	if (self->tx >= 0)
		close(self->tx);
	if (self->rx >= 0)
		close(self->rx);
	if (!_metadata->skip)
		EXPECT_EQ(self->base, wait_pinned(self->base));
}

/*
 * io_uring_setup with DEFER_TASKRUN, SINGLE_ISSUER and CQE32, and the
 * mmaps of its rings, with the n-th allocation failing; the task's next
 * ring works and takes a zcrx instance.
 */
TEST_F_TIMEOUT(ring, setup_every_allocation, 300)
{
	struct zc_ring r;
	struct zc_zcrx z;
	unsigned int n, failed = 0;
	int ret, free_fd = lowest_free_fd();
	bool fired;

	if (_metadata->skip)
		return;
	for (n = 1; n <= MAX_N; n++) {
		mark("ring.setup", n);
		nth_arm(_metadata, n);
		ret = zc_ring_init(&r, 8, ZC_RING_FLAGS, 0);
		fired = nth_fired(_metadata);

		if (ret) {
			failed++;
			ASSERT_TRUE(fired)
				TH_LOG("n=%u: ring setup failed (%d) with no fault injected", n, ret);
			ASSERT_EQ(-ENOMEM, ret) TH_LOG("n=%u: ring setup error", n);
			ASSERT_EQ(free_fd, lowest_free_fd())
				TH_LOG("n=%u: a failed setup left a descriptor open", n);
			ASSERT_EQ(0, zc_ring_init(&r, 8, ZC_RING_FLAGS, 0))
				TH_LOG("n=%u: setup after a failed one", n);
		}
		ASSERT_EQ(ZC_RING_FLAGS, r.p.flags & ZC_RING_FLAGS);
		nop_round_trip(_metadata, &r);
		ASSERT_EQ(0, zcrx_setup(&r, &z, false)) TH_LOG("n=%u", n);
		ASSERT_EQ(0, z.reg.zcrx_id);
		recv_through(_metadata, &r, &z, self->tx, self->rx, &self->stream, 64);
		close_all(&r, &z);
		ASSERT_EQ(free_fd, lowest_free_fd());
		if (!fired)
			break;
	}
	ASSERT_GE(MAX_N, n) TH_LOG("ring setup still hitting faults after %u sites", MAX_N);
	TH_LOG("%u fault sites, %u failed setups", n - 1, failed);
}

/* TEST_HARNESS_MAIN, with fault injection set up around the run. */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	faults_setup();
	return test_harness_run(argc, argv);
}
