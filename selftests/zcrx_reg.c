// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_REGISTER_ZCRX_IFQ, IORING_REGISTER_ZCRX_CTRL and
 * IORING_REGISTER_QUERY: what registration accepts and returns, every
 * error code of the spec, and that a refused registration leaves nothing
 * registered or pinned.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <linux/capability.h>

#include "lib/uring.h"
#include "kselftest_harness.h"
#include "lib/zcrx.h"
#include "lib/priv.h"

#define AREA_LEN (64 * ZC_PAGE)
#define NOBODY 65534

FIXTURE(zcrx_reg) {
	struct zc_ring ring;
	struct zc_zcrx z;
	long pinned_before;
};

FIXTURE_SETUP(zcrx_reg)
{
	self->pinned_before = zc_vm_pinned_kb();
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(0, zc_zcrx_prepare(&self->z, AREA_LEN, 100, false));
}

FIXTURE_TEARDOWN(zcrx_reg)
{
	zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
}

static int reg(struct zc_ring *r, struct zc_zcrx *z)
{
	return zc_sys_register(r->fd, IORING_REGISTER_ZCRX_IFQ, &z->reg, 1);
}

/*
 * After a refused registration nothing stays registered or pinned: the
 * process pins nothing more than before, and the same request, corrected,
 * gets the first id.
 */
static void assert_nothing_left(struct __test_metadata *_metadata,
				FIXTURE_DATA(zcrx_reg) *self)
{
	struct zc_zcrx z2;

	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
	ASSERT_EQ(0, zc_zcrx_prepare(&z2, AREA_LEN, 16, false));
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &z2));
	ASSERT_EQ(0, z2.reg.zcrx_id);
	zc_zcrx_free(&z2);
}

#define EXPECT_REFUSED(err) do {					\
	ASSERT_EQ(err, reg(&self->ring, &self->z));			\
	assert_nothing_left(_metadata, self);				\
} while (0)

TEST_F(zcrx_reg, nodev_user_region)
{
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	EXPECT_EQ(0, self->z.reg.zcrx_id);
	EXPECT_EQ(128, self->z.reg.rq_entries);	/* 100 rounded up */
	EXPECT_EQ(0, self->z.reg.offsets.head);
	EXPECT_EQ(4, self->z.reg.offsets.tail);
	EXPECT_EQ(64, self->z.reg.offsets.rqes);
	EXPECT_EQ(ZC_PAGE, self->z.reg.rx_buf_len);
	EXPECT_EQ(0, self->z.area_reg.rq_area_token);
	EXPECT_EQ(0, self->z.rd.mmap_offset);
	/* the pool and the ring are pinned and accounted */
	EXPECT_EQ(self->pinned_before + (AREA_LEN + self->z.rq_len) / 1024,
		  zc_vm_pinned_kb());
}

TEST_F(zcrx_reg, nodev_kernel_region_mmap)
{
	struct zc_zcrx z2;

	zc_zcrx_free(&self->z);
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &self->z, AREA_LEN, 64, true));
	EXPECT_EQ(0x30000000ULL, self->z.rd.mmap_offset);
	/* the mapping is the ring: the kernel initialised head and tail */
	EXPECT_EQ(0, *self->z.rq.khead);
	EXPECT_EQ(0, *self->z.rq.ktail);
	ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &z2, AREA_LEN, 64, true));
	EXPECT_EQ(1, z2.reg.zcrx_id);
	EXPECT_EQ(0x30000000ULL + (1 << 16), z2.rd.mmap_offset);
	/* too large a mapping, or one of an unknown id, is refused */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->z.rq_len + ZC_PAGE, PROT_READ,
				   MAP_SHARED, self->ring.fd, self->z.rd.mmap_offset));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, ZC_PAGE, PROT_READ, MAP_SHARED,
				   self->ring.fd, 0x30000000ULL + (7 << 16)));
	zc_zcrx_free(&z2);
}

TEST_F(zcrx_reg, many_instances_get_their_own_ids)
{
	struct zc_zcrx z[4];

	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, zc_zcrx_setup(&self->ring, &z[i], AREA_LEN, 16, i & 1));
		EXPECT_EQ(i, z[i].reg.zcrx_id);
	}
	for (int i = 0; i < 4; i++)
		zc_zcrx_free(&z[i]);
}

TEST_F(zcrx_reg, clamp_caps_entries)
{
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS | IORING_SETUP_CLAMP, 0));
	zc_zcrx_free(&self->z);
	ASSERT_EQ(0, zc_zcrx_prepare(&self->z, AREA_LEN, 32768, false));
	self->z.reg.rq_entries = 40000;
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	EXPECT_EQ(32768, self->z.reg.rq_entries);
}

/* ---- refusals ---------------------------------------------------------- */

TEST_F(zcrx_reg, ring_without_defer_taskrun)
{
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, IORING_SETUP_CQE32, 0));
	ASSERT_EQ(-EINVAL, reg(&self->ring, &self->z));
}

TEST_F(zcrx_reg, ring_without_cqe32)
{
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, IORING_SETUP_DEFER_TASKRUN |
				  IORING_SETUP_SINGLE_ISSUER, 0));
	ASSERT_EQ(-EINVAL, reg(&self->ring, &self->z));
}

TEST_F(zcrx_reg, nr_args_not_one)
{
	ASSERT_EQ(-EINVAL, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   &self->z.reg, 2));
	ASSERT_EQ(-EINVAL, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   NULL, 1));
}

TEST_F(zcrx_reg, reserved_field_set)
{
	self->z.reg.__resv[2] = 1;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, output_zcrx_id_set)
{
	self->z.reg.zcrx_id = 3;
	EXPECT_REFUSED(-EINVAL);
}

/*
 * The offsets are an output that may hold what an earlier registration
 * wrote there, as mainline accepts: a program may register again with the
 * struct it used before. They come back as this registration's.
 */
TEST_F(zcrx_reg, output_offsets_hold_old_values)
{
	memset(&self->z.reg.offsets, 0xa5, sizeof(self->z.reg.offsets));
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	ASSERT_EQ(64, self->z.reg.offsets.rqes);
	ASSERT_EQ(0, self->z.reg.offsets.__resv2);
	ASSERT_EQ(0, self->z.reg.offsets.__resv[0]);
}

TEST_F(zcrx_reg, unknown_flag)
{
	self->z.reg.flags |= 1 << 5;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, import_not_supported)
{
	self->z.reg.flags = ZCRX_REG_IMPORT;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, zero_rq_entries)
{
	self->z.reg.rq_entries = 0;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, too_many_rq_entries)
{
	self->z.reg.rq_entries = 32769;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, nodev_with_interface)
{
	self->z.reg.if_idx = 1;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, nodev_with_queue)
{
	self->z.reg.if_rxq = 1;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, device_mode_unknown_device)
{
	self->z.reg.flags = 0;
	self->z.reg.if_idx = 12345;
	EXPECT_REFUSED(-ENODEV);
}

/* No 6.1 driver fills an rx queue from the pool yet. */
TEST_F(zcrx_reg, device_mode_unsupported_driver)
{
	self->z.reg.flags = 0;
	self->z.reg.if_idx = 1;	/* lo */
	EXPECT_REFUSED(-EOPNOTSUPP);
}

TEST_F(zcrx_reg, rx_buf_len_not_power_of_two)
{
	self->z.reg.rx_buf_len = 5000;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, rx_buf_len_below_page)
{
	self->z.reg.rx_buf_len = 2048;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, rx_buf_len_above_page_nodev)
{
	self->z.reg.rx_buf_len = 2 * ZC_PAGE;
	EXPECT_REFUSED(-EOPNOTSUPP);
}

TEST_F(zcrx_reg, rx_buf_len_page_accepted)
{
	self->z.reg.rx_buf_len = ZC_PAGE;
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
}

TEST_F(zcrx_reg, area_unaligned_addr)
{
	self->z.area_reg.addr += 64;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, area_unaligned_len)
{
	self->z.area_reg.len -= 64;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, area_zero_len)
{
	self->z.area_reg.len = 0;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, area_dmabuf)
{
	self->z.area_reg.flags = IORING_ZCRX_AREA_DMABUF;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, area_token_set)
{
	self->z.area_reg.rq_area_token = 1ULL << 48;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, area_reserved_set)
{
	self->z.area_reg.__resv2[1] = 1;
	EXPECT_REFUSED(-EINVAL);
}

/* One page more than is mapped: nothing of it may stay pinned. */
TEST_F(zcrx_reg, area_not_mapped)
{
	ASSERT_EQ(0, munmap(self->z.area + AREA_LEN - ZC_PAGE, ZC_PAGE));
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, area_read_only)
{
	ASSERT_EQ(0, mprotect(self->z.area, AREA_LEN, PROT_READ));
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, area_null)
{
	self->z.area_reg.addr = 0;
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, area_ptr_bad)
{
	self->z.reg.area_ptr = 8;
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, region_ptr_bad)
{
	self->z.reg.region_ptr = 0;
	EXPECT_REFUSED(-EFAULT);
}

/* Results are written back: a read-only argument is refused whole. */
TEST_F(zcrx_reg, reg_struct_read_only)
{
	void *ro = mmap(NULL, ZC_PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	memcpy(ro, &self->z.reg, sizeof(self->z.reg));
	ASSERT_EQ(0, mprotect(ro, ZC_PAGE, PROT_READ));
	ASSERT_EQ(-EFAULT, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ, ro, 1));
	assert_nothing_left(_metadata, self);
	munmap(ro, ZC_PAGE);
}

TEST_F(zcrx_reg, region_too_small)
{
	self->z.reg.rq_entries = 1024;	/* 64 + 16 KiB > one page */
	self->z.rd.size = ZC_PAGE;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, region_unknown_flag)
{
	self->z.rd.flags |= 1 << 3;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, region_user_flag_without_memory)
{
	self->z.rd.user_addr = 0;
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, region_memory_without_user_flag)
{
	self->z.rd.flags = 0;
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, region_mmap_offset_set)
{
	self->z.rd.mmap_offset = 0x30000000ULL;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, region_unaligned_size)
{
	self->z.rd.size = 3000;
	EXPECT_REFUSED(-EINVAL);
}

/* ---- privilege and accounting ------------------------------------------ */

static void become_nobody(struct __test_metadata *_metadata, rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, setgid(NOBODY));
	ASSERT_EQ(0, setuid(NOBODY));
}

/*
 * As mainline: every registration needs CAP_NET_ADMIN, device-less too,
 * and the check comes first (a valid request gets -EPERM, not a result).
 */
TEST_F(zcrx_reg, unprivileged_nodev_refused)
{
	zc_ring_exit(&self->ring);
	become_nobody(_metadata, 8 << 20);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(-EPERM, reg(&self->ring, &self->z));
	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
}

/* Root without CAP_NET_ADMIN is refused too. */
TEST_F(zcrx_reg, without_cap_net_admin_refused)
{
	ASSERT_EQ(0, zc_drop_cap(CAP_NET_ADMIN));
	ASSERT_EQ(-EPERM, reg(&self->ring, &self->z));
	/* even a request that is wrong in every other way */
	self->z.reg.__resv[0] = 1;
	ASSERT_EQ(-EPERM, reg(&self->ring, &self->z));
}

/* Device mode sees a NIC queue, other flows included: CAP_NET_ADMIN. */
TEST_F(zcrx_reg, unprivileged_device_mode_refused)
{
	zc_ring_exit(&self->ring);
	become_nobody(_metadata, 8 << 20);
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	self->z.reg.flags = 0;
	self->z.reg.if_idx = 1;
	ASSERT_EQ(-EPERM, reg(&self->ring, &self->z));
}

TEST_F(zcrx_reg, memlock_exceeded)
{
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_drop_ipc_lock(AREA_LEN / 2));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(-ENOMEM, reg(&self->ring, &self->z));
	/* with the pool within the limit it works, so nothing was kept */
	zc_zcrx_free(&self->z);
	ASSERT_EQ(0, zc_zcrx_prepare(&self->z, AREA_LEN / 4, 16, false));
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
}

/*
 * The memlock limit is checked before anything sized by the user is
 * allocated. With fault injection (fail-nth) armed for the next
 * allocation, a registration over the limit must fail without reaching
 * that allocation: the fault is still pending afterwards.
 */
static int fail_nth_fd(void)
{
	static const char *const knobs[] = {
		"/sys/kernel/debug/failslab/ignore-gfp-wait",
		"/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait",
		"/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem",
	};

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int fd = open(knobs[i], O_WRONLY);

		if (fd < 0)
			return -1;
		if (write(fd, "N", 1) != 1) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return open("/proc/thread-self/fail-nth", O_RDWR);
}

TEST_F(zcrx_reg, over_limit_allocates_nothing)
{
	int fd = fail_nth_fd();
	char buf[16] = "";

	if (fd < 0)
		SKIP(return, "no fault injection (fail-nth) in this kernel");
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_drop_ipc_lock(AREA_LEN / 2));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(1, write(fd, "1", 1));
	ASSERT_EQ(-ENOMEM, reg(&self->ring, &self->z));
	ASSERT_LT(0, pread(fd, buf, sizeof(buf) - 1, 0));
	/* a fault that fired reads back 0: something was allocated */
	ASSERT_EQ(1, atoi(buf)) TH_LOG("an allocation came before the limit check");
	ASSERT_EQ(1, write(fd, "0", 1));
	close(fd);
}

/* Pool and refill ring are charged together, before either exists. */
TEST_F(zcrx_reg, memlock_counts_refill_ring)
{
	zc_ring_exit(&self->ring);
	/* the pool alone fits, the pool and the ring's page do not */
	ASSERT_EQ(0, zc_drop_ipc_lock(AREA_LEN));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	ASSERT_EQ(-ENOMEM, reg(&self->ring, &self->z));
	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
}

/* AnonHugePages of this process, in kB. */
static long anon_huge_kb(void)
{
	char line[256];
	long kb = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * A pool page inside a huge page pins the whole huge page: it is charged
 * whole, as registered buffers are. 4 KiB of a 2 MiB THP under a 1 MiB
 * limit must be refused.
 */
TEST_F(zcrx_reg, huge_page_charged_whole)
{
	size_t huge = 2UL << 20;
	uint8_t *m, *p;

	m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	p = (uint8_t *)(((uintptr_t)m + huge - 1) & ~(huge - 1));
	if (madvise(p, huge, MADV_HUGEPAGE)) {
		munmap(m, 2 * huge);
		SKIP(return, "no transparent huge pages in this kernel");
	}
	memset(p, 1, huge);
	if (anon_huge_kb() < 2048) {
		munmap(m, 2 * huge);
		SKIP(return, "the kernel gave no huge page for the mapping");
	}
	zc_ring_exit(&self->ring);
	ASSERT_EQ(0, zc_drop_ipc_lock(1 << 20));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 8, ZC_RING_FLAGS, 0));
	self->z.area_reg.addr = (uintptr_t)p;
	self->z.area_reg.len = ZC_PAGE;
	ASSERT_EQ(-ENOMEM, reg(&self->ring, &self->z))
		TH_LOG("4 KiB of a huge page was charged as 4 KiB");
	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
	self->z.area_reg.addr = (uintptr_t)self->z.area;
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	munmap(m, 2 * huge);
}

/* A refill ring inside the pool would be overwritten by received data. */
TEST_F(zcrx_reg, refill_ring_inside_pool)
{
	self->z.rd.user_addr = (uintptr_t)self->z.area + 4 * ZC_PAGE;
	EXPECT_REFUSED(-EINVAL);
}

TEST_F(zcrx_reg, refill_ring_overlaps_pool_end)
{
	munmap(self->z.rq_mem, self->z.rq_len);
	self->z.rq_mem = NULL;
	self->z.rd.user_addr = (uintptr_t)self->z.area + AREA_LEN - ZC_PAGE;
	self->z.rd.size = 2 * ZC_PAGE;
	EXPECT_REFUSED(-EINVAL);
}

/* Mainline's limit on a pool, and its error: over 1 GiB is -EFAULT. */
TEST_F(zcrx_reg, area_over_1g)
{
	self->z.area_reg.len = (1UL << 30) + ZC_PAGE;
	EXPECT_REFUSED(-EFAULT);
}

TEST_F(zcrx_reg, ring_close_unpins)
{
	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	ASSERT_LT(self->pinned_before, zc_vm_pinned_kb());
	zc_ring_exit(&self->ring);
	/* ring teardown runs from a workqueue: wait for it */
	for (int i = 0; i < 100 && zc_vm_pinned_kb() != self->pinned_before; i++)
		usleep(20000);
	ASSERT_EQ(self->pinned_before, zc_vm_pinned_kb());
}

/* ---- IORING_REGISTER_ZCRX_CTRL ------------------------------------------ */

static int ctrl(struct zc_ring *r, struct zcrx_ctrl *c, unsigned int nr)
{
	return zc_sys_register(r->fd, IORING_REGISTER_ZCRX_CTRL, c, nr);
}

TEST_F(zcrx_reg, ctrl_flush)
{
	struct zcrx_ctrl c = { .op = ZCRX_CTRL_FLUSH_RQ };

	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	/* garbage entries are consumed and ignored */
	zc_zcrx_queue(&self->z, AREA_LEN, 0);			/* past the area */
	zc_zcrx_queue(&self->z, 1ULL << 48, 0);			/* area 1 */
	zc_zcrx_queue(&self->z, 0, 0);				/* never posted */
	zc_zcrx_queue(&self->z, (1ULL << 48) - 1, 0);
	self->z.rq.rqes[self->z.rq.rq_tail & (self->z.rq.ring_entries - 1)].__pad = 1;
	self->z.rq.rq_tail++;
	zc_zcrx_publish(&self->z);
	ASSERT_EQ(5, zc_zcrx_queued(&self->z));
	ASSERT_EQ(0, ctrl(&self->ring, &c, 0));
	ASSERT_EQ(0, zc_zcrx_queued(&self->z));
}

TEST_F(zcrx_reg, ctrl_unknown_id)
{
	struct zcrx_ctrl c = { .zcrx_id = 7, .op = ZCRX_CTRL_FLUSH_RQ };

	ASSERT_EQ(-ENXIO, ctrl(&self->ring, &c, 0));
}

TEST_F(zcrx_reg, ctrl_bad_args)
{
	struct zcrx_ctrl c = { .op = ZCRX_CTRL_FLUSH_RQ };

	ASSERT_EQ(0, zc_zcrx_register(&self->ring, &self->z));
	ASSERT_EQ(-EINVAL, ctrl(&self->ring, &c, 1));
	ASSERT_EQ(-EFAULT, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_CTRL,
					   (void *)8, 0));
	c.__resv[0] = 1;
	ASSERT_EQ(-EINVAL, ctrl(&self->ring, &c, 0));
	c.__resv[0] = 0;
	c.zc_flush.__resv[5] = 1;
	ASSERT_EQ(-EINVAL, ctrl(&self->ring, &c, 0));
	c.zc_flush.__resv[5] = 0;
	c.op = ZCRX_CTRL_EXPORT;
	ASSERT_EQ(-EOPNOTSUPP, ctrl(&self->ring, &c, 0));
	c.op = 99;
	ASSERT_EQ(-EOPNOTSUPP, ctrl(&self->ring, &c, 0));
}

/* ---- IORING_REGISTER_QUERY ------------------------------------------------ */

TEST(query_zcrx_without_ring)
{
	struct io_uring_query_zcrx q;
	struct io_uring_query_hdr h = { .query_op = IO_URING_QUERY_ZCRX,
					.query_data = (uintptr_t)&q,
					.size = sizeof(q) };

	memset(&q, 0xff, sizeof(q));
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(0, h.result);
	ASSERT_EQ(sizeof(q), h.size);
	ASSERT_EQ(ZCRX_REG_NODEV, q.register_flags);
	ASSERT_EQ(0, q.area_flags);
	ASSERT_EQ(1, q.nr_ctrl_opcodes);
	ASSERT_EQ(8, q.rq_hdr_size);
	ASSERT_EQ(64, q.rq_hdr_alignment);
	ASSERT_EQ(0, q.__resv2);
}

TEST(query_chain_and_sizes)
{
	struct io_uring_query_opcode op;
	uint8_t big[sizeof(struct io_uring_query_zcrx) + 24];
	struct io_uring_query_hdr h2 = { .query_op = IO_URING_QUERY_ZCRX,
					 .query_data = (uintptr_t)big,
					 .size = sizeof(big) };
	struct io_uring_query_hdr h1 = { .next_entry = (uintptr_t)&h2,
					 .query_op = IO_URING_QUERY_OPCODES,
					 .query_data = (uintptr_t)&op,
					 .size = sizeof(op) };

	memset(big, 0xff, sizeof(big));
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h1, 0));
	ASSERT_EQ(0, h1.result);
	/*
	 * Counts without holes, as mainline means them: every opcode below
	 * is supported. RECV_ZC and the zcrx registers lie past the holes.
	 */
	ASSERT_EQ(IORING_OP_SENDMSG_ZC + 1, op.nr_request_opcodes);
	ASSERT_EQ(IORING_REGISTER_FILE_ALLOC_RANGE + 1, op.nr_register_opcodes);
	ASSERT_EQ(2, op.nr_query_opcodes);
	ASSERT_NE(0, op.ring_setup_flags & IORING_SETUP_DEFER_TASKRUN);
	ASSERT_NE(0, op.sqe_flags & IOSQE_CQE_SKIP_SUCCESS);
	ASSERT_EQ(0, h2.result);
	/* answered with what the kernel knows, the rest zeroed */
	ASSERT_EQ(sizeof(struct io_uring_query_zcrx), h2.size);
	for (size_t i = sizeof(struct io_uring_query_zcrx); i < sizeof(big); i++)
		ASSERT_EQ(0, big[i]);
}

TEST(query_bad_entries)
{
	struct io_uring_query_zcrx q;
	struct io_uring_query_hdr h = { .query_op = 77,
					.query_data = (uintptr_t)&q,
					.size = sizeof(q) };

	/* per-entry problems are reported in the entry */
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(-EOPNOTSUPP, h.result);
	h.query_op = IO_URING_QUERY_ZCRX;
	h.result = 0;
	h.__resv[1] = 1;
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(-EINVAL, h.result);
	h.__resv[1] = 0;
	h.result = 0;
	h.size = 0;
	ASSERT_EQ(0, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(-EINVAL, h.result);
	/* the call itself fails on bad memory or arguments */
	h.size = sizeof(q);
	h.result = 0;
	h.query_data = 8;
	ASSERT_EQ(-EFAULT, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
	ASSERT_EQ(-EFAULT, zc_sys_register(-1, IORING_REGISTER_QUERY, (void *)8, 0));
	ASSERT_EQ(-EINVAL, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 1));
	/* other register opcodes still need a ring */
	ASSERT_EQ(-EBADF, zc_sys_register(-1, IORING_REGISTER_ZCRX_IFQ, &h, 1));
}

TEST(query_loop_is_bounded)
{
	struct io_uring_query_zcrx q;
	struct io_uring_query_hdr h = { .query_op = IO_URING_QUERY_ZCRX,
					.query_data = (uintptr_t)&q,
					.size = sizeof(q) };

	h.next_entry = (uintptr_t)&h;
	ASSERT_EQ(-ERANGE, zc_sys_register(-1, IORING_REGISTER_QUERY, &h, 0));
}

/* ---- opcodes --------------------------------------------------------------- */

/*
 * Register opcodes this kernel skips are unknown, as on stock 6.1 and
 * mainline: -EINVAL without a ring (fd -1), not -EBADF. Feature probes
 * rely on it (liburing asks for IORING_REGISTER_SEND_MSG_RING, 31, so).
 */
TEST(register_holes_without_ring)
{
	for (unsigned int op = IORING_REGISTER_FILE_ALLOC_RANGE + 1;
	     op < IORING_REGISTER_LAST; op++) {
		int want = -EINVAL;

		if (op == IORING_REGISTER_QUERY)
			continue;
		/* the ones this kernel has need a ring: -EBADF */
		if (op == IORING_REGISTER_ZCRX_IFQ ||
		    op == IORING_REGISTER_ZCRX_CTRL ||
		    op == IORING_REGISTER_SEND_ZC_SLOTS ||
		    op == IORING_UNREGISTER_SEND_ZC_SLOTS)
			want = -EBADF;
		ASSERT_EQ(want, zc_sys_register(-1, op, NULL, 0))
			TH_LOG("register opcode %u", op);
	}
	ASSERT_EQ(-EINVAL, zc_sys_register(-1, IORING_REGISTER_LAST, NULL, 0));
}

/*
 * 49..57 are later kernels' opcodes, 59..127 holes below the slots' flush
 * (128): unsupported, and -EINVAL on submit.
 */
TEST(opcode_holes)
{
	struct {
		struct io_uring_probe p;
		struct io_uring_probe_op ops[256];
	} pr;
	struct zc_ring r;
	struct io_uring_cqe cqe;

	ASSERT_EQ(0, zc_ring_init(&r, 8, 0, 0));
	memset(&pr, 0, sizeof(pr));
	ASSERT_EQ(0, zc_sys_register(r.fd, IORING_REGISTER_PROBE, &pr, 256));
	ASSERT_EQ(IORING_OP_SEND_ZC_FLUSH, pr.p.last_op);
	for (int op = IORING_OP_SENDMSG_ZC + 1; op < IORING_OP_SEND_ZC_FLUSH; op++) {
		struct io_uring_sqe *sqe;

		if (op == IORING_OP_RECV_ZC)
			continue;
		sqe = zc_get_sqe(&r);
		ASSERT_EQ(0, pr.ops[op].flags & IO_URING_OP_SUPPORTED);
		sqe->opcode = op;
		sqe->user_data = op;
		ASSERT_EQ(0, zc_submit_one(&r, &cqe));
		ASSERT_EQ(op, cqe.user_data);
		ASSERT_EQ(-EINVAL, cqe.res);
	}
	ASSERT_NE(0, pr.ops[IORING_OP_SENDMSG_ZC].flags & IO_URING_OP_SUPPORTED);
	ASSERT_NE(0, pr.ops[IORING_OP_RECV_ZC].flags & IO_URING_OP_SUPPORTED);
	ASSERT_NE(0, pr.ops[IORING_OP_SEND_ZC_FLUSH].flags & IO_URING_OP_SUPPORTED);
	zc_ring_exit(&r);
}

TEST_HARNESS_MAIN
