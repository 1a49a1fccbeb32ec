/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test and benchmark helpers shared by the selftests, demo/ and bench/:
 * sockets between the two network namespaces that the guest runner
 * (selftests/run-guest.sh) creates: ZC_NS_A (the sender, 10.91.0.1 and
 * fd00:91::1) and ZC_NS_B (the receiver, 10.91.0.2 and fd00:91::2), joined
 * by veth. A socket keeps the namespace it was created in, so one process
 * holds both ends: it enters a namespace only to create a socket.
 * Helpers return a file descriptor or -errno.
 */
#ifndef ZC_TESTLIB_NET_H
#define ZC_TESTLIB_NET_H


#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZC_NS_A "zc-a"
#define ZC_NS_B "zc-b"
#define ZC_ADDR4_A "10.91.0.1"
#define ZC_ADDR4_B "10.91.0.2"
#define ZC_ADDR6_A "fd00:91::1"
#define ZC_ADDR6_B "fd00:91::2"
#define ZC_SOCKBUF (8 << 20)

/*
 * Enter network namespace ns (a name under /run/netns); *back gets the
 * current one, for zc_netns_leave(). Returns 0 or -errno.
 */
static inline int zc_netns_enter(const char *ns, int *back)
{
	char path[128];
	int target, ret = 0;

	*back = -1;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -errno;
	*back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*back < 0) {
		ret = -errno;
	} else if (setns(target, CLONE_NEWNET)) {
		ret = -errno;
		close(*back);
		*back = -1;
	}
	close(target);
	return ret;
}

/* Back to the namespace zc_netns_enter() left. */
static inline void zc_netns_leave(int back)
{
	if (setns(back, CLONE_NEWNET)) {
		/* Cannot continue in the wrong namespace. */
		perror("setns back");
		exit(1);
	}
	close(back);
}

/* Run socket(2) inside network namespace ns (NULL: the current one). */
static inline int zc_socket_in(const char *ns, int family, int type)
{
	int back = -1, fd, err;

	if (ns) {
		err = zc_netns_enter(ns, &back);
		if (err)
			return err;
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	err = fd < 0 ? -errno : fd;
	if (ns)
		zc_netns_leave(back);
	return err;
}

static inline socklen_t zc_sockaddr(int family, const char *ip, uint16_t port,
				    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	return sizeof(*sin6);
}

static inline void zc_sockbufs(int fd, int bytes)
{
	/* FORCE: the tests run as root and must not depend on rmem_max. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes));
}

/*
 * A socket of family and type in namespace ns (NULL: the current one),
 * SO_REUSEADDR and ZC_SOCKBUF buffers, bound to ip on a port of the
 * kernel's choosing (*ss and *len: where it is) and, for TCP, listening
 * with backlog. Returns its descriptor or -errno.
 */
static inline int zc_bound_at(const char *ns, int family, int type,
			      const char *ip, int backlog,
			      struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, fd, ret;

	*len = zc_sockaddr(family, ip, 0, ss);
	fd = zc_socket_in(ns, family, type);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	zc_sockbufs(fd, ZC_SOCKBUF);
	if (bind(fd, (struct sockaddr *)ss, *len) ||
	    getsockname(fd, (struct sockaddr *)ss, len) ||
	    (type == SOCK_STREAM && listen(fd, backlog))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A connected pair: *tx created in namespace ns_tx, *rx in ns_rx (NULL:
 * the current namespace), the receiver bound to ip_rx. type is
 * SOCK_STREAM (TCP) or SOCK_DGRAM (UDP). Returns 0 or -errno.
 */
static inline int zc_pair_at(const char *ns_tx, const char *ns_rx, int family,
			     int type, const char *ip_rx, int *tx, int *rx)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, lfd, ret;

	*tx = *rx = -1;
	lfd = zc_bound_at(ns_rx, family, type, ip_rx, 1, &ss, &len);
	if (lfd < 0)
		return lfd;
	*tx = zc_socket_in(ns_tx, family, type);
	if (*tx < 0) {
		ret = *tx;
		close(lfd);
		return ret;
	}
	zc_sockbufs(*tx, ZC_SOCKBUF);
	if (connect(*tx, (struct sockaddr *)&ss, len))
		goto err;
	if (type == SOCK_STREAM) {
		*rx = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (*rx < 0)
			goto err;
		close(lfd);
		setsockopt(*tx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		*rx = lfd;
	}
	return 0;
err:
	ret = -errno;
	close(lfd);
	if (*tx >= 0)
		close(*tx);
	*tx = *rx = -1;
	return ret;
}

/* The test pair: *tx in ZC_NS_A, *rx in ZC_NS_B, over veth. */
static inline int zc_pair(int family, int type, int *tx, int *rx)
{
	return zc_pair_at(ZC_NS_A, ZC_NS_B, family, type,
			  family == AF_INET ? ZC_ADDR4_B : ZC_ADDR6_B, tx, rx);
}

/* Byte at stream offset off of pattern seed: no short period. */
static inline uint8_t zc_pattern_byte(uint64_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (uint8_t)(x >> 56 ^ x >> 29 ^ off);
}

static inline void zc_pattern_fill(void *buf, size_t len, uint64_t seed,
				   uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = zc_pattern_byte(seed, off + i);
}

/* Index of the first wrong byte, or -1 when all len bytes match. */
static inline long zc_pattern_check(const void *buf, size_t len, uint64_t seed,
				    uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (((const uint8_t *)buf)[i] != zc_pattern_byte(seed, off + i))
			return (long)i;
	return -1;
}

/* Wait for a forked child: its exit status, 128 + the signal that ended it, or -1. */
static inline int zc_reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Write total bytes of pattern seed to fd in writes of wsize, pausing
 * pace_us after each (0: none). Returns 0, or -1 if a write failed.
 */
static inline int zc_write_pattern(int fd, uint64_t total, uint64_t seed,
				   size_t wsize, unsigned int pace_us)
{
	uint8_t *buf = malloc(wsize);
	uint64_t off = 0;

	while (buf && off < total) {
		size_t n = total - off < wsize ? total - off : wsize;
		ssize_t w;

		zc_pattern_fill(buf, n, seed, off);
		w = write(fd, buf, n);
		if (w <= 0)
			break;
		off += w;
		if (pace_us)
			usleep(pace_us);
	}
	free(buf);
	return off == total ? 0 : -1;
}

/* Read exactly len bytes (TCP) or one datagram of len bytes (UDP). */
static inline int zc_recv_exact(int fd, int type, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len || (type == SOCK_DGRAM && !got)) {
		ssize_t n = recv(fd, (char *)buf + got, len - got,
				 type == SOCK_DGRAM ? MSG_TRUNC : MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		if (type == SOCK_DGRAM)
			return (size_t)n == len ? 0 : -EMSGSIZE;
		got += n;
	}
	return 0;
}

#endif /* ZC_TESTLIB_NET_H */
