// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_OP_RECV_ZC in device mode: the pool bound to the receive queue of
 * an emulated e1000e NIC (scripts/vm-run --e1000e, vm/e1000e-pair.sh), so
 * that the NIC writes TCP payload into the pool and RECV_ZC hands it out
 * without a copy. The receiving NIC is 10.7.0.1 in this namespace; the
 * sender runs in namespace zc-peer behind the other NIC (10.7.0.2).
 *
 * Every byte is checked against the sender's pattern at the pool offsets
 * the CQEs name; the share of bytes not copied is read from the ring's
 * fdinfo and from the driver's ethtool counters.
 */
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "lib/uring.h"
#include "lib/debugfs.h"
#include "kselftest_harness.h"
#include "testlib/net.h"
#include "lib/zcrx.h"
#include "lib/priv.h"

#define DEV_ADDR "10.7.0.1"
#define PEER_ADDR "10.7.0.2"
#define PEER_NS "zc-peer"
#define SEED 0xde71ce
#define UD_RECV 1

/* ---- the device ------------------------------------------------------------- */

/* The interface holding DEV_ADDR: its index, and its name in name. */
static int dev_find(char name[IFNAMSIZ])
{
	struct ifaddrs *ifa, *i;
	int idx = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		char ip[INET_ADDRSTRLEN];

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			  ip, sizeof(ip));
		if (!strcmp(ip, DEV_ADDR)) {
			snprintf(name, IFNAMSIZ, "%s", i->ifa_name);
			idx = if_nametoindex(name);
			break;
		}
	}
	freeifaddrs(ifa);
	return idx;
}

/* ioctl req on interface name with *ifr (its name filled in here). */
static int dev_ifreq(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	ret = ioctl(fd, req, ifr) ? -errno : 0;
	close(fd);
	return ret;
}

static int dev_ioctl(const char *name, unsigned long req, void *data)
{
	struct ifreq ifr = { .ifr_data = data };

	return dev_ifreq(name, req, &ifr);
}

static int dev_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };

	return dev_ifreq(name, SIOCSIFMTU, &ifr);
}

/*
 * Binding and MTU changes take the NIC down and up: wait up to 10 s for
 * its carrier, so that a connection's first SYN is not lost to a link
 * still coming up (the next would be seconds later).
 */
static int dev_wait_carrier(const char *name)
{
	char path[96], c = '0';
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	for (int i = 0; i < 100; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, &c, 1) != 1)
				c = '0';
			close(fd);
		}
		if (c == '1')
			return 0;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/* ethtool's rx-checksumming: 1 on, 0 off, or -errno. */
static int dev_rxcsum(const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GRXCSUM };
	int ret = dev_ioctl(name, SIOCETHTOOL, &ev);

	return ret ? ret : !!ev.data;
}

static int dev_set_rxcsum(const char *name, bool on)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SRXCSUM, .data = on };

	return dev_ioctl(name, SIOCETHTOOL, &ev);
}

/* The driver's ethtool -S counter called stat, or -1. */
static long long dev_stat(const char *name, const char *stat)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_gstrings *strs = NULL;
	struct ethtool_stats *st = NULL;
	long long val = -1;
	unsigned int n, i;

	if (dev_ioctl(name, SIOCETHTOOL, &info))
		return -1;
	n = info.n_stats;
	strs = calloc(1, sizeof(*strs) + n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + n * sizeof(uint64_t));
	if (!strs || !st)
		goto out;
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = ETH_SS_STATS;
	strs->len = n;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	if (dev_ioctl(name, SIOCETHTOOL, strs) || dev_ioctl(name, SIOCETHTOOL, st))
		goto out;
	for (i = 0; i < n; i++)
		if (!strncmp((char *)strs->data + i * ETH_GSTRING_LEN, stat,
			     ETH_GSTRING_LEN))
			val = st->data[i];
out:
	free(strs);
	free(st);
	return val;
}

/* bytes_zc and bytes_copied of instance id in the ring's fdinfo. */
static int ring_zcrx_bytes(int ring_fd, unsigned int id, uint64_t *zc,
			   uint64_t *copied)
{
	char path[64], line[256];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ring_fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		unsigned int i;
		char *p = strstr(line, "bytes_zc ");

		if (!p || sscanf(line, " %u:", &i) != 1 || i != id)
			continue;
		if (sscanf(p, "bytes_zc %llu bytes_copied %llu", &a, &b) == 2) {
			*zc = a;
			*copied = b;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

/* ---- the sender: a child in the peer's namespace ----------------------------- */

/*
 * Connect from PEER_NS to port on DEV_ADDR, write total bytes of pattern
 * seed in writes of wsize, then close. With pace_us, TCP_NODELAY and a
 * pause of pace_us between writes: a segment a write.
 */
static pid_t spawn_sender(uint16_t port, uint64_t total, uint64_t seed,
			  size_t wsize, unsigned int pace_us)
{
	struct sockaddr_storage ss;
	socklen_t len;
	pid_t pid = fork();
	int fd, one = 1;

	if (pid)
		return pid;
	len = zc_sockaddr(AF_INET, DEV_ADDR, port, &ss);
	fd = zc_socket_in(PEER_NS, AF_INET, SOCK_STREAM);
	if (fd < 0)
		_exit(2);
	zc_sockbufs(fd, ZC_SOCKBUF);
	if (pace_us)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len))
		_exit(3);
	if (zc_write_pattern(fd, total, seed, wsize, pace_us))
		_exit(4);
	close(fd);
	_exit(0);
}

/* A listening socket on DEV_ADDR in this namespace; *port: its port. */
static int listen_dev(uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = zc_bound_at(NULL, AF_INET, SOCK_STREAM, DEV_ADDR, 4, &ss, &len);

	if (fd >= 0)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* ---- the receiver ------------------------------------------------------------ */

/*
 * The next CQE, waiting at most ms milliseconds: 0, -ETIME when none
 * came, or -errno.
 */
static int wait_cqe_ms(struct zc_ring *ring, struct io_uring_cqe *out,
		       uint64_t big[2], int ms)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_getevents_arg arg = { .ts = (uintptr_t)&ts };
	struct io_uring_cqe *cqe;
	int ret;

	while (!(cqe = zc_peek_cqe(ring))) {
		ret = syscall(__NR_io_uring_enter, ring->fd, 0, 1,
			      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			      &arg, sizeof(arg));
		if (ret < 0 && errno == ETIME && !zc_peek_cqe(ring))
			return -ETIME;
		if (ret < 0 && errno != EINTR && errno != ETIME)
			return -errno;
	}
	*out = *cqe;
	memcpy(big, (char *)cqe + 16, 16);
	zc_cqe_seen(ring);
	return 0;
}

struct rx {
	struct zc_ring *ring;
	struct zc_zcrx *z;
	int fd;
	uint64_t seed;
	uint64_t got;		/* bytes verified */
	unsigned int cqes;
	unsigned int rearms;	/* after -ENOMEM or -ENOSPC */
	unsigned int stalls;	/* a second without data while holding chunks */
	double worst_resume;	/* seconds from handing chunks back to data */
	/* CQEs held back instead of returned at once (hold > 0) */
	unsigned int hold;
	unsigned int nr_held;
	uint64_t held_off[4096];
	uint32_t held_len[4096];
	char why[160];
};

static void rx_arm(struct rx *r)
{
	zc_prep_recv_zc(zc_get_sqe(r->ring), r->fd, r->z->reg.zcrx_id, 0, UD_RECV);
	zc_submit(r->ring);
}

static void rx_return_held(struct rx *r)
{
	for (unsigned int i = 0; i < r->nr_held; i++)
		zc_zcrx_queue_on(r->ring, r->z, r->held_off[i], r->held_len[i]);
	r->nr_held = 0;
	zc_zcrx_publish(r->z);
}

/*
 * Handle one CQE of the stream: verify and return (or hold) its bytes.
 * Returns 1 at EOF, 0 to go on, -1 with r->why on a failure.
 */
static int rx_cqe(struct rx *r, const struct io_uring_cqe *cqe,
		  const uint64_t big[2])
{
	uint64_t off = big[0] & ~IORING_ZCRX_AREA_MASK;
	long bad;

	if (cqe->user_data != UD_RECV) {
		snprintf(r->why, sizeof(r->why), "CQE of ud %llu", cqe->user_data);
		return -1;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		if (cqe->res == 0)
			return 1;
		if (cqe->res == -ENOMEM || cqe->res == -ENOSPC) {
			r->rearms++;
			rx_return_held(r);
			rx_arm(r);
			return 0;
		}
		snprintf(r->why, sizeof(r->why), "final res %d at byte %llu",
			 cqe->res, (unsigned long long)r->got);
		return -1;
	}
	if (cqe->res <= 0 || (big[0] & IORING_ZCRX_AREA_MASK) ||
	    off + cqe->res > r->z->area_len ||
	    off / ZC_PAGE != (off + cqe->res - 1) / ZC_PAGE) {
		snprintf(r->why, sizeof(r->why), "bad CQE res %d off %#llx",
			 cqe->res, (unsigned long long)big[0]);
		return -1;
	}
	bad = zc_pattern_check(r->z->area + off, cqe->res, r->seed, r->got);
	if (bad >= 0) {
		snprintf(r->why, sizeof(r->why),
			 "byte %llu of the stream wrong (pool offset %#llx)",
			 (unsigned long long)(r->got + bad),
			 (unsigned long long)(off + bad));
		return -1;
	}
	r->got += cqe->res;
	r->cqes++;
	if (r->nr_held < r->hold) {
		r->held_off[r->nr_held] = off;
		r->held_len[r->nr_held++] = cqe->res;
	} else {
		zc_zcrx_queue_on(r->ring, r->z, off, cqe->res);
		zc_zcrx_publish(r->z);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Receive the whole stream on r->fd until EOF; 0, or -1 with r->why.
 * Holding chunks (r->hold), a second without data counts as a stall:
 * every held chunk goes back, and data must come again. No data for 30 s
 * fails.
 */
static int rx_stream(struct rx *r)
{
	double last = now_s(), returned = 0;
	struct io_uring_cqe cqe;
	uint64_t big[2];
	int ret;

	rx_arm(r);
	for (;;) {
		ret = wait_cqe_ms(r->ring, &cqe, big, 1000);
		if (ret == -ETIME) {
			if (r->nr_held) {
				r->stalls++;
				rx_return_held(r);
				returned = now_s();
			}
			if (now_s() - last > 30) {
				snprintf(r->why, sizeof(r->why),
					 "no data for 30 s at byte %llu",
					 (unsigned long long)r->got);
				return -1;
			}
			continue;
		}
		if (ret) {
			snprintf(r->why, sizeof(r->why), "wait: %s", strerror(-ret));
			return -1;
		}
		last = now_s();
		if (returned && cqe.res > 0) {
			if (last - returned > r->worst_resume)
				r->worst_resume = last - returned;
			returned = 0;
		}
		ret = rx_cqe(r, &cqe, big);
		if (ret)
			return ret < 0 ? -1 : 0;
	}
}

/* ---- the fixture --------------------------------------------------------------- */

FIXTURE(dev) {
	char name[IFNAMSIZ];
	int ifindex;
	struct zc_ring ring;
	struct zc_zcrx z;
	int lfd;
	uint16_t port;
};

FIXTURE_SETUP(dev)
{
	const char *only = getenv("ZC_TEST");

	memset(self, 0, sizeof(*self));
	self->ring.fd = -1;
	self->lfd = -1;
	/* ZC_TEST=name runs only the cases whose name contains name */
	if (only && !strstr(_metadata->name, only))
		SKIP(return, "not selected by ZC_TEST");
	self->ifindex = dev_find(self->name);
	if (!self->ifindex)
		SKIP(return, "no NIC with %s: run with scripts/vm-run --e1000e", DEV_ADDR);
	ASSERT_EQ(0, dev_wait_carrier(self->name));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 256, ZC_RING_FLAGS, 4096));
	self->lfd = listen_dev(&self->port);
	ASSERT_LE(0, self->lfd);
}

static void pressure_off(void);

FIXTURE_TEARDOWN(dev)
{
	/* a failed memory-pressure case must not leave faults on */
	pressure_off();
	if (self->lfd >= 0)
		close(self->lfd);
	if (self->ring.fd >= 0)
		zc_ring_exit(&self->ring);
	zc_zcrx_free(&self->z);
	/* whatever a test changed, the pair stays as vm/e1000e-pair.sh made it */
	if (self->ifindex) {
		dev_set_mtu(self->name, 9000);
		dev_set_rxcsum(self->name, true);
	}
}

/*
 * A test case of the fixture whose body is skipped when FIXTURE_SETUP
 * skipped (no NIC, or not selected by ZC_TEST): this harness runs the
 * body after a SKIP in the setup.
 */
#define DEV_TEST(name, secs)							\
	static void dev_case_##name(struct __test_metadata *_metadata,		\
			       FIXTURE_DATA(dev) *self);			\
	TEST_F_TIMEOUT(dev, name, secs)						\
	{									\
		if (!_metadata->skip)						\
			dev_case_##name(_metadata, self);				\
	}									\
	static void dev_case_##name(struct __test_metadata *_metadata,		\
			       FIXTURE_DATA(dev) *self)

/* Prepare a device-mode registration of a pool of chunks pages. */
static int dev_prepare(FIXTURE_DATA(dev) *self, unsigned int chunks)
{
	int ret = zc_zcrx_prepare(&self->z, chunks * ZC_PAGE, 4096, false);

	self->z.reg.flags = 0;
	self->z.reg.if_idx = self->ifindex;
	self->z.reg.if_rxq = 0;
	return ret;
}

/*
 * Register on ring fd. A ring closed by the test before is torn down
 * asynchronously and keeps the queue bound until then: wait for that.
 */
static int register_on(int fd, struct io_uring_zcrx_ifq_reg *reg)
{
	int ret, i;

	for (i = 0; i < 200; i++) {
		ret = zc_sys_register(fd, IORING_REGISTER_ZCRX_IFQ, reg, 1);
		if (ret != -EEXIST)
			break;
		usleep(50 * 1000);
	}
	return ret;
}

static int dev_register(FIXTURE_DATA(dev) *self, unsigned int chunks)
{
	int ret = dev_prepare(self, chunks);

	if (!ret)
		ret = register_on(self->ring.fd, &self->z.reg);
	if (!ret)
		ret = dev_wait_carrier(self->name);
	return ret ? ret : zc_zcrx_map(&self->ring, &self->z);
}

/* Accept the sender's connection into *fd within 30 s. */
static int accept_peer(FIXTURE_DATA(dev) *self, int *fd)
{
	struct pollfd pfd = { .fd = self->lfd, .events = POLLIN };

	if (poll(&pfd, 1, 30000) != 1)
		return -ETIMEDOUT;
	*fd = accept4(self->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*fd < 0)
		return -errno;
	zc_sockbufs(*fd, ZC_SOCKBUF);
	return 0;
}

/* ---- registration ------------------------------------------------------------------ */

DEV_TEST(bind_errors, 30)
{
	struct io_uring_zcrx_ifq_reg saved;
	struct zc_ring other;
	struct zc_zcrx z2;

	ASSERT_EQ(0, dev_prepare(self, 64));
	saved = self->z.reg;

	/* no such device */
	self->z.reg.if_idx = 0x7fffffff;
	EXPECT_EQ(-ENODEV, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   &self->z.reg, 1));
	/* a device that cannot: loopback */
	self->z.reg = saved;
	self->z.reg.if_idx = if_nametoindex("lo");
	EXPECT_EQ(-EOPNOTSUPP, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					       &self->z.reg, 1));
	/* no such queue */
	self->z.reg = saved;
	self->z.reg.if_rxq = 1;
	EXPECT_EQ(-ERANGE, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   &self->z.reg, 1));
	/* chunks larger than a page */
	self->z.reg = saved;
	self->z.reg.rx_buf_len = 2 * ZC_PAGE;
	EXPECT_EQ(-EOPNOTSUPP, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					       &self->z.reg, 1));

	/* bound once; a second pool on the same queue: -EEXIST */
	self->z.reg = saved;
	ASSERT_EQ(0, register_on(self->ring.fd, &self->z.reg));
	ASSERT_EQ(0, zc_ring_init(&other, 64, ZC_RING_FLAGS, 256));
	ASSERT_EQ(0, zc_zcrx_prepare(&z2, 64 * ZC_PAGE, 256, false));
	z2.reg.flags = 0;
	z2.reg.if_idx = self->ifindex;
	EXPECT_EQ(-EEXIST, zc_sys_register(other.fd, IORING_REGISTER_ZCRX_IFQ,
					   &z2.reg, 1));
	/* the queue is free again once its ring is gone */
	zc_ring_exit(&self->ring);
	self->ring.fd = -1;
	EXPECT_EQ(0, register_on(other.fd, &z2.reg));
	zc_ring_exit(&other);
	zc_zcrx_free(&z2);
}

/* As mainline: device mode needs CAP_NET_ADMIN, checked first. */
DEV_TEST(bind_needs_cap_net_admin, 30)
{
	ASSERT_EQ(0, dev_prepare(self, 64));
	ASSERT_EQ(0, zc_drop_cap(CAP_NET_ADMIN));
	EXPECT_EQ(-EPERM, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					  &self->z.reg, 1));
	self->z.reg.if_rxq = 7;
	EXPECT_EQ(-EPERM, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					  &self->z.reg, 1));
}

/* Packet split needs a jumbo MTU and the device's checksum. */
DEV_TEST(bind_needs_split_and_rx_checksum, 30)
{
	ASSERT_EQ(0, dev_prepare(self, 64));
	ASSERT_EQ(0, dev_set_mtu(self->name, 1500));
	EXPECT_EQ(-EINVAL, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   &self->z.reg, 1));
	ASSERT_EQ(0, dev_set_mtu(self->name, 9000));
	ASSERT_EQ(0, dev_set_rxcsum(self->name, false));
	EXPECT_EQ(-EINVAL, zc_sys_register(self->ring.fd, IORING_REGISTER_ZCRX_IFQ,
					   &self->z.reg, 1));
	ASSERT_EQ(0, dev_set_rxcsum(self->name, true));
	EXPECT_EQ(0, register_on(self->ring.fd, &self->z.reg));
}

/* While bound, the MTU, the ring size and rx-checksumming stay. */
DEV_TEST(config_changes_refused_while_bound, 30)
{
	struct ethtool_ringparam rp = { .cmd = ETHTOOL_GRINGPARAM };

	ASSERT_EQ(0, dev_register(self, 64));
	EXPECT_EQ(-EBUSY, dev_set_mtu(self->name, 1500));
	ASSERT_EQ(0, dev_ioctl(self->name, SIOCETHTOOL, &rp));
	rp.cmd = ETHTOOL_SRINGPARAM;
	rp.rx_pending = rp.rx_pending == 256 ? 512 : 256;
	EXPECT_EQ(-EBUSY, dev_ioctl(self->name, SIOCETHTOOL, &rp));
	dev_set_rxcsum(self->name, false);
	EXPECT_EQ(1, dev_rxcsum(self->name));

	/* unbound with the ring (torn down asynchronously): changes work again */
	zc_ring_exit(&self->ring);
	self->ring.fd = -1;
	for (int i = 0; i < 200 && dev_set_mtu(self->name, 8000) == -EBUSY; i++)
		usleep(50 * 1000);
	EXPECT_EQ(0, dev_set_mtu(self->name, 8000));
	EXPECT_EQ(0, dev_set_mtu(self->name, 9000));
}

/* ---- receiving --------------------------------------------------------------------- */

/*
 * A bulk stream: every byte right at the offsets the CQEs name, and at
 * least 95% of them not copied, by the ring's count and the driver's.
 */
DEV_TEST(bulk_stream_not_copied, 300)
{
	const uint64_t total = 32 << 20;
	uint64_t zc0, cp0, zc1, cp1;
	long long drv0, drv1;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED };
	pid_t pid;

	ASSERT_EQ(0, dev_register(self, 1024));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc0, &cp0));
	drv0 = dev_stat(self->name, "rx_zcrx_bytes");
	ASSERT_LE(0, drv0);
	pid = spawn_sender(self->port, total, SEED, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	EXPECT_EQ(0, rx_stream(&r)) TH_LOG("%s", r.why);
	EXPECT_EQ(total, r.got);
	EXPECT_EQ(0, zc_reap(pid));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc1, &cp1));
	drv1 = dev_stat(self->name, "rx_zcrx_bytes");
	TH_LOG("%llu bytes: %llu not copied, %llu copied; driver: %lld bytes left in the pool; %u CQEs",
	       (unsigned long long)total, (unsigned long long)(zc1 - zc0),
	       (unsigned long long)(cp1 - cp0), drv1 - drv0, r.cqes);
	EXPECT_EQ(total, (zc1 - zc0) + (cp1 - cp0));
	EXPECT_LE(total * 95 / 100, zc1 - zc0);
	EXPECT_LE((long long)(total * 95 / 100), drv1 - drv0);
	close(r.fd);
}

/*
 * Small segments are copied (a 100-byte payload would take a whole
 * chunk: the driver's copybreak) and still right.
 */
DEV_TEST(small_writes_copied_and_right, 120)
{
	const uint64_t total = 100 << 10;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 7 };
	uint64_t zc, cp;
	pid_t pid;

	ASSERT_EQ(0, dev_register(self, 256));
	pid = spawn_sender(self->port, total, r.seed, 100, 2000);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	EXPECT_EQ(0, rx_stream(&r)) TH_LOG("%s", r.why);
	EXPECT_EQ(total, r.got);
	EXPECT_EQ(0, zc_reap(pid));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc, &cp));
	TH_LOG("%llu not copied, %llu copied", (unsigned long long)zc,
	       (unsigned long long)cp);
	EXPECT_EQ(total, zc + cp);
	/* a paced sender may still coalesce a few writes under TCG */
	EXPECT_LE(total * 9 / 10, cp);
	close(r.fd);
}

/*
 * A pool the application sits on runs dry: the NIC has no chunk to
 * receive into and the stream stalls; once the chunks come back it goes
 * on, without a syscall from us to wake the device, within seconds.
 */
DEV_TEST(pool_exhausted_stalls_then_resumes, 300)
{
	const uint64_t total = 8 << 20;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 9,
			.hold = 4096 };
	pid_t pid;

	/* 128 chunks: the NIC alone would post 768 */
	ASSERT_EQ(0, dev_register(self, 128));
	pid = spawn_sender(self->port, total, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	/*
	 * Sit on every chunk a CQE names until a second passes without
	 * data (or a request ends for lack of chunks), then hand all back.
	 */
	EXPECT_EQ(0, rx_stream(&r)) TH_LOG("%s", r.why);
	EXPECT_EQ(total, r.got);
	EXPECT_EQ(0, zc_reap(pid));
	TH_LOG("%u stalls, %u re-arms, slowest resume %.2f s", r.stalls,
	       r.rearms, r.worst_resume);
	EXPECT_LT(0, r.stalls + r.rearms);
	EXPECT_GT(5.0, r.worst_resume);
	close(r.fd);
}

/*
 * The ring goes while the stream flows: the NIC is unbound, and bytes
 * already received into the pool and still queued on the socket are
 * read with recv() afterwards, every one right.
 */
DEV_TEST(ring_exit_mid_stream_keeps_queued_data, 300)
{
	const uint64_t total = 16 << 20;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 11 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	uint64_t big[2];
	uint8_t *buf;
	ssize_t n;
	pid_t pid;

	buf = malloc(1 << 16);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, dev_register(self, 1024));
	pid = spawn_sender(self->port, total, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	rx_arm(&r);
	while (r.got < total / 4) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, big));
		ASSERT_EQ(0, rx_cqe(&r, &cqe, big)) TH_LOG("%s", r.why);
	}
	/*
	 * Stop the request and take every CQE it posted: the data they name
	 * has left the socket. Then pause, so the socket queues pool data.
	 */
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->addr = UD_RECV;
	sqe->user_data = 99;
	zc_submit(&self->ring);
	for (bool final = false, cancelled = false; !final || !cancelled;) {
		ASSERT_EQ(0, zc_wait_cqe(&self->ring, &cqe, big));
		if (cqe.user_data == 99) {
			cancelled = true;
			continue;
		}
		if (!(cqe.flags & IORING_CQE_F_MORE)) {
			final = true;
			continue;
		}
		ASSERT_EQ(0, rx_cqe(&r, &cqe, big)) TH_LOG("%s", r.why);
	}
	usleep(200 * 1000);
	zc_ring_exit(&self->ring);
	self->ring.fd = -1;
	while (r.got < total) {
		n = recv(r.fd, buf, 1 << 16, 0);
		ASSERT_LT(0, n) TH_LOG("recv %zd at %llu: %s", n,
				       (unsigned long long)r.got, strerror(errno));
		ASSERT_EQ(-1, zc_pattern_check(buf, n, r.seed, r.got))
			TH_LOG("byte after %llu wrong", (unsigned long long)r.got);
		r.got += n;
	}
	EXPECT_EQ(0, recv(r.fd, buf, 1, 0));
	EXPECT_EQ(0, zc_reap(pid));
	close(r.fd);
	free(buf);
}

/*
 * The bound NIC leaves: moved into a namespace that is then deleted (the
 * device comes back to this one). The binding must not hold either up;
 * the ring stays usable, and the queue can be bound again.
 */
DEV_TEST(netns_deleted_while_bound, 120)
{
	struct zc_ring other;
	struct zc_zcrx z2;
	char cmd[512];
	int ifindex;

	ASSERT_EQ(0, dev_register(self, 256));
	snprintf(cmd, sizeof(cmd),
		 "ip netns add zc-gone && ip link set %s netns zc-gone && ip netns del zc-gone",
		 self->name);
	ASSERT_EQ(0, system(cmd));
	/* the device comes back to this namespace, without its address */
	for (int i = 0; i < 100 && !if_nametoindex(self->name); i++)
		usleep(100 * 1000);
	ifindex = if_nametoindex(self->name);
	ASSERT_NE(0, ifindex);
	snprintf(cmd, sizeof(cmd),
		 "ip link set %s mtu 9000 up && ip addr add %s/24 dev %s && ethtool -K %s tso off",
		 self->name, DEV_ADDR, self->name, self->name);
	ASSERT_EQ(0, system(cmd));
	/* unbound: another ring may bind the queue while the first lives */
	ASSERT_EQ(0, zc_ring_init(&other, 64, ZC_RING_FLAGS, 256));
	ASSERT_EQ(0, zc_zcrx_prepare(&z2, 64 * ZC_PAGE, 256, false));
	z2.reg.flags = 0;
	z2.reg.if_idx = ifindex;
	EXPECT_EQ(0, register_on(other.fd, &z2.reg));
	zc_ring_exit(&other);
	zc_zcrx_free(&z2);
	/* wait for the link, so the next case starts with a working pair */
	snprintf(cmd, sizeof(cmd),
		 "for i in $(seq 100); do ip link show %s | grep -q 'state UP' && exit 0; sleep 0.1; done; exit 1",
		 self->name);
	EXPECT_EQ(0, system(cmd));
}

/*
 * splice() from a socket whose data the NIC put into the pool must copy:
 * a pipe holding pool pages would see them overwritten once the pool
 * reuses them. Splice into a pipe, let a zero-copy stream cycle through
 * every chunk of the pool, then read the pipe.
 */
DEV_TEST(splice_never_shares_pool_pages, 300)
{
	const size_t spliced = 128 << 10;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 13 };
	int sfd, p[2], psz = 1 << 20;
	uint8_t *buf;
	size_t in = 0;
	pid_t pid, pid2;

	buf = malloc(spliced);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, dev_register(self, 256));
	ASSERT_EQ(0, pipe(p));
	ASSERT_LE(0, fcntl(p[1], F_SETPIPE_SZ, psz));
	/* a plain socket on the bound NIC, read by splice() */
	pid = spawn_sender(self->port, spliced, SEED ^ 17, 1 << 16, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &sfd));
	while (in < spliced) {
		ssize_t n = splice(sfd, NULL, p[1], NULL, spliced - in, 0);

		ASSERT_LT(0, n) TH_LOG("splice: %s", strerror(errno));
		in += n;
	}
	EXPECT_EQ(0, zc_reap(pid));
	/* 8 MiB through a pool of 1 MiB: every chunk reused (CQEs hold none) */
	pid2 = spawn_sender(self->port, 8 << 20, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid2);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	EXPECT_EQ(0, rx_stream(&r)) TH_LOG("%s", r.why);
	EXPECT_EQ(0, zc_reap(pid2));
	for (in = 0; in < spliced;) {
		ssize_t n = read(p[0], buf + in, spliced - in);

		ASSERT_LT(0, n);
		in += n;
	}
	EXPECT_EQ(-1, zc_pattern_check(buf, spliced, SEED ^ 17, 0));
	close(sfd);
	close(r.fd);
	close(p[0]);
	close(p[1]);
	free(buf);
}

/* ---- faults under traffic ----------------------------------------------------------- */

/* Receive with RECV_ZC until at least upto bytes are verified; 0 or -1 (r->why). */
static int rx_until(struct rx *r, uint64_t upto)
{
	struct io_uring_cqe cqe;
	uint64_t big[2];
	int ret;

	while (r->got < upto) {
		ret = wait_cqe_ms(r->ring, &cqe, big, 30000);
		if (ret) {
			snprintf(r->why, sizeof(r->why), "wait at byte %llu: %s",
				 (unsigned long long)r->got, strerror(-ret));
			return -1;
		}
		ret = rx_cqe(r, &cqe, big);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			snprintf(r->why, sizeof(r->why), "EOF at byte %llu",
				 (unsigned long long)r->got);
			return -1;
		}
	}
	return 0;
}

static int dev_set_up(const char *name, bool up)
{
	struct ifreq ifr = { 0 };
	int ret = dev_ifreq(name, SIOCGIFFLAGS, &ifr);

	if (ret)
		return ret;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return dev_ifreq(name, SIOCSIFFLAGS, &ifr);
}

/*
 * The link goes down and up again while the stream flows: the NIC gives
 * every posted chunk back when it stops and takes chunks again when it
 * opens, still bound; TCP retransmits what was lost, every byte arrives
 * right, and the part after the link came back is received into the
 * pool again.
 */
DEV_TEST(link_down_and_up_mid_stream, 300)
{
	const uint64_t total = 16 << 20;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 19 };
	uint64_t zc0, cp0, zc1, cp1;
	pid_t pid;

	ASSERT_EQ(0, dev_register(self, 1024));
	pid = spawn_sender(self->port, total, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	rx_arm(&r);
	ASSERT_EQ(0, rx_until(&r, total / 4)) TH_LOG("%s", r.why);
	ASSERT_EQ(0, dev_set_up(self->name, false));
	usleep(300 * 1000);
	ASSERT_EQ(0, dev_set_up(self->name, true));
	ASSERT_EQ(0, dev_wait_carrier(self->name));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc0, &cp0));
	EXPECT_EQ(0, rx_stream(&r)) TH_LOG("%s", r.why);
	EXPECT_EQ(total, r.got);
	EXPECT_EQ(0, zc_reap(pid));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc1, &cp1));
	TH_LOG("after the link came back: %llu bytes not copied, %llu copied",
	       (unsigned long long)(zc1 - zc0), (unsigned long long)(cp1 - cp0));
	EXPECT_EQ(total, zc1 + cp1);
	/* still bound: most of the rest came through the pool */
	EXPECT_LE((total - total / 2) * 9 / 10, zc1 - zc0);
	close(r.fd);
}

/*
 * The process that owns the pool dies (SIGKILL) while a socket of
 * another process holds data the NIC put in that pool: the data stays
 * right for that socket, which reads it all afterwards, and the queue
 * can be bound again.
 */
DEV_TEST(owner_killed_while_another_socket_holds_pool_data, 120)
{
	const uint64_t total = 256 << 10;
	int ready[2], sfd, got_fd;
	uint8_t *buf;
	uint64_t got = 0;
	pid_t owner, pid;
	char c;

	buf = malloc(1 << 16);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(ready));
	owner = fork();
	ASSERT_LE(0, owner);
	if (!owner) {
		/* the owner: a ring of its own, the pool bound, then wait to die */
		struct zc_ring ring;

		close(ready[0]);
		if (zc_ring_init(&ring, 64, ZC_RING_FLAGS, 256) ||
		    dev_prepare(self, 256) || register_on(ring.fd, &self->z.reg) ||
		    dev_wait_carrier(self->name))
			_exit(1);
		c = 'r';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("the owner could not bind the queue");
	close(ready[0]);
	/* a plain socket of ours on the bound NIC: its data lands in the pool */
	pid = spawn_sender(self->port, total, SEED ^ 23, 1 << 16, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &sfd));
	EXPECT_EQ(0, zc_reap(pid));
	/* all of it is queued on the socket, unread */
	for (int i = 0; i < 100; i++) {
		int inq = 0;

		ASSERT_EQ(0, ioctl(sfd, FIONREAD, &inq));
		if ((uint64_t)inq >= total)
			break;
		usleep(100 * 1000);
	}
	ASSERT_EQ(0, kill(owner, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, zc_reap(owner));
	/* the owner's ring is gone: another binding churns the pool pages */
	ASSERT_EQ(0, dev_register(self, 256));
	got_fd = sfd;
	while (got < total) {
		ssize_t n = recv(got_fd, buf, 1 << 16, 0);

		ASSERT_LT(0, n) TH_LOG("recv at %llu: %s", (unsigned long long)got,
				       strerror(errno));
		ASSERT_EQ(-1, zc_pattern_check(buf, n, SEED ^ 23, got))
			TH_LOG("byte after %llu wrong", (unsigned long long)got);
		got += n;
	}
	EXPECT_EQ(0, recv(sfd, buf, 1, 0));
	close(sfd);
	free(buf);
}

#define DBG "/sys/kernel/debug/"
#define FAULT_TIMES 1000000

/*
 * Memory pressure where it hurts a NIC: atomic allocations (skbs, the
 * pool's tokens, the driver's copies, pages) fail at random, sleeping
 * ones never (the rest of the guest goes on).
 */
static struct {
	const char *path, *val;
	char saved[32];
	bool changed;
} pressure[] = {
	{ DBG "failslab/ignore-gfp-wait", "Y" },
	{ DBG "failslab/cache-filter", "N" },
	{ DBG "failslab/task-filter", "N" },
	{ DBG "failslab/verbose", "0" },
	{ DBG "failslab/interval", "1" },
	{ DBG "failslab/space", "0" },
	{ DBG "failslab/times", "1000000" },
	{ DBG "fail_page_alloc/ignore-gfp-wait", "Y" },
	{ DBG "fail_page_alloc/ignore-gfp-highmem", "Y" },
	{ DBG "fail_page_alloc/min-order", "0" },
	{ DBG "fail_page_alloc/task-filter", "N" },
	{ DBG "fail_page_alloc/verbose", "0" },
	{ DBG "fail_page_alloc/interval", "1" },
	{ DBG "fail_page_alloc/space", "0" },
	{ DBG "fail_page_alloc/times", "1000000" },
	/* last: switch them on */
	{ DBG "failslab/probability", "2" },
	{ DBG "fail_page_alloc/probability", "2" },
};

static void pressure_off(void)
{
	for (int i = (int)(sizeof(pressure) / sizeof(pressure[0])) - 1; i >= 0; i--)
		if (pressure[i].changed) {
			zc_knob_write(pressure[i].path, pressure[i].saved);
			pressure[i].changed = false;
		}
}

/* 0, or -errno with the knob that failed in why. */
static int pressure_on(char *why, size_t len)
{
	struct stat st;
	int err;

	if (stat(DBG "failslab", &st))
		syscall(SYS_mount, "debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (size_t i = 0; i < sizeof(pressure) / sizeof(pressure[0]); i++) {
		err = zc_knob_read(pressure[i].path, pressure[i].saved,
				sizeof(pressure[i].saved));
		if (!err)
			err = zc_knob_write(pressure[i].path, pressure[i].val);
		if (err) {
			snprintf(why, len, "%s: %s", pressure[i].path, strerror(-err));
			pressure_off();
			return err;
		}
		pressure[i].changed = true;
	}
	return 0;
}

/* How many faults a capability injected since pressure_on(). */
static long pressure_fired(const char *dir)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), DBG "%s/times", dir);
	if (zc_knob_read(path, buf, sizeof(buf)))
		return -1;
	return FAULT_TIMES - atol(buf);
}

/*
 * Under memory pressure (2% of atomic slab and page allocations fail,
 * guest-wide, while the stream flows) the receive path drops packets,
 * or copies where it could not keep the pool's pages, but never
 * corrupts: every byte arrives right, and the counters add up.
 */
DEV_TEST(memory_pressure_drops_never_corrupts, 300)
{
	const uint64_t total = 16 << 20;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 37 };
	long slab, page, drops0, drops1;
	uint64_t zc, cp;
	char why[160];
	pid_t pid;
	int ret;

	ASSERT_EQ(0, dev_register(self, 1024));
	drops0 = dev_stat(self->name, "rx_zcrx_drops");
	pid = spawn_sender(self->port, total, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	ret = pressure_on(why, sizeof(why));
	if (ret) {
		kill(pid, SIGKILL);
		zc_reap(pid);
		SKIP(return, "no fault injection (%s)", why);
	}
	ret = rx_stream(&r);
	slab = pressure_fired("failslab");
	page = pressure_fired("fail_page_alloc");
	pressure_off();
	EXPECT_EQ(0, ret) TH_LOG("%s", r.why);
	EXPECT_EQ(total, r.got);
	EXPECT_EQ(0, zc_reap(pid));
	drops1 = dev_stat(self->name, "rx_zcrx_drops");
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc, &cp));
	TH_LOG("%ld slab and %ld page allocations failed; driver drops %ld; %llu bytes not copied, %llu copied",
	       slab, page, drops1 - drops0, (unsigned long long)zc,
	       (unsigned long long)cp);
	EXPECT_EQ(total, zc + cp);
	/* the pressure was real */
	EXPECT_LT(0, slab + page);
	close(r.fd);
}

/* The PCI address of interface name, in bdf (from its sysfs device link). */
static int dev_pci(const char *name, char bdf[32])
{
	char path[128], target[256];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "/sys/class/net/%s/device", name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return -errno;
	target[n] = '\0';
	slash = strrchr(target, '/');
	snprintf(bdf, 32, "%.31s", slash ? slash + 1 : target);
	return 0;
}

/* Write str to the sysfs file path: 0 or -errno. */
static int sysfs_write(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, str, strlen(str)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The bound NIC is removed (its driver unbound from the PCI device) while
 * the stream flows and while RECV_ZC waits: the removal does not wait for
 * the ring, the request can be cancelled, the ring exits, nothing leaks
 * (the runner's kmemleak scan), and the NIC, bound to its driver again,
 * can take a pool again.
 */
DEV_TEST(device_removed_mid_stream, 300)
{
	const uint64_t total = 64 << 20;
	struct rx r = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 29 };
	struct rx r2 = { .ring = &self->ring, .z = &self->z, .seed = SEED ^ 31 };
	uint64_t zc, cp;
	struct io_uring_cqe cqe;
	struct io_uring_sqe *sqe;
	char bdf[32], path[160], cmd[512];
	uint64_t big[2];
	bool final = false, cancelled = false;
	pid_t pid;

	ASSERT_EQ(0, dev_pci(self->name, bdf));
	ASSERT_EQ(0, dev_register(self, 1024));
	pid = spawn_sender(self->port, total, r.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r.fd));
	rx_arm(&r);
	ASSERT_EQ(0, rx_until(&r, 4 << 20)) TH_LOG("%s", r.why);
	EXPECT_EQ(0, sysfs_write("/sys/bus/pci/drivers/e1000e/unbind", bdf));
	ASSERT_EQ(0, if_nametoindex(self->name));
	/* the stream stalls; the request is still there to cancel */
	sqe = zc_get_sqe(&self->ring);
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->addr = UD_RECV;
	sqe->user_data = 99;
	zc_submit(&self->ring);
	while (!final || !cancelled) {
		ASSERT_EQ(0, wait_cqe_ms(&self->ring, &cqe, big, 10000));
		if (cqe.user_data == 99) {
			cancelled = true;
		} else if (!(cqe.flags & IORING_CQE_F_MORE)) {
			final = true;
		} else {
			ASSERT_EQ(0, rx_cqe(&r, &cqe, big)) TH_LOG("%s", r.why);
		}
	}
	kill(pid, SIGKILL);
	zc_reap(pid);
	close(r.fd);
	zc_ring_exit(&self->ring);
	self->ring.fd = -1;

	/* the NIC comes back, under whatever name it gets; set it up as before */
	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers/e1000e/bind", bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", bdf);
	for (int i = 0; i < 100; i++) {
		DIR *d = opendir(path);
		struct dirent *e;

		self->ifindex = 0;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(self->name, IFNAMSIZ, "%.15s", e->d_name);
				self->ifindex = if_nametoindex(self->name);
			}
		if (d)
			closedir(d);
		/* udev may rename it: wait until the name holds */
		if (self->ifindex && i > 10)
			break;
		usleep(100 * 1000);
	}
	ASSERT_NE(0, self->ifindex);
	snprintf(cmd, sizeof(cmd),
		 "ip link set %s mtu 9000 up && ip addr add %s/24 dev %s && ethtool -K %s tso off",
		 self->name, DEV_ADDR, self->name, self->name);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, dev_wait_carrier(self->name));
	ASSERT_EQ(0, zc_ring_init(&self->ring, 256, ZC_RING_FLAGS, 4096));
	zc_zcrx_free(&self->z);
	memset(&self->z, 0, sizeof(self->z));
	ASSERT_EQ(0, dev_register(self, 256));
	/* and receives into the pool again */
	close(self->lfd);
	self->lfd = listen_dev(&self->port);
	ASSERT_LE(0, self->lfd);
	pid = spawn_sender(self->port, 4 << 20, r2.seed, 1 << 20, 0);
	ASSERT_LE(0, pid);
	ASSERT_EQ(0, accept_peer(self, &r2.fd));
	EXPECT_EQ(0, rx_stream(&r2)) TH_LOG("%s", r2.why);
	EXPECT_EQ(0, zc_reap(pid));
	ASSERT_EQ(0, ring_zcrx_bytes(self->ring.fd, self->z.reg.zcrx_id, &zc, &cp));
	EXPECT_LE((4 << 20) * 9 / 10, zc);
	close(r2.fd);
}

TEST_HARNESS_MAIN
