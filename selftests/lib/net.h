/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sockets between the two network namespaces that the guest runner
 * (selftests/run-guest.sh) creates: ZC_NS_A (the sender, 10.91.0.1 and
 * fd00:91::1) and ZC_NS_B (the receiver, 10.91.0.2 and fd00:91::2), joined
 * by veth. A socket keeps the namespace it was created in, so one process
 * holds both ends: it enters a namespace only to create a socket.
 * Helpers return a file descriptor or -errno.
 */
#ifndef ZC_SELFTEST_NET_H
#define ZC_SELFTEST_NET_H


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
#include <unistd.h>

#define ZC_NS_A "zc-a"
#define ZC_NS_B "zc-b"
#define ZC_ADDR4_A "10.91.0.1"
#define ZC_ADDR4_B "10.91.0.2"
#define ZC_ADDR6_A "fd00:91::1"
#define ZC_ADDR6_B "fd00:91::2"
#define ZC_SOCKBUF (8 << 20)

/* Run socket(2) inside network namespace ns (NULL: the current one). */
static inline int zc_socket_in(const char *ns, int family, int type)
{
	char path[128];
	int self, target, fd, err;

	if (!ns) {
		fd = socket(family, type | SOCK_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -errno;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		close(target);
		return err;
	}
	if (setns(target, CLONE_NEWNET)) {
		err = -errno;
		goto out;
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	err = fd < 0 ? -errno : fd;
	if (setns(self, CLONE_NEWNET)) {
		/* Cannot continue in the wrong namespace. */
		perror("setns back");
		exit(1);
	}
out:
	close(self);
	close(target);
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
 * A connected pair: *tx created in namespace ns_tx, *rx in ns_rx (NULL:
 * the current namespace), the receiver bound to ip_rx. type is
 * SOCK_STREAM (TCP) or SOCK_DGRAM (UDP). Returns 0 or -errno.
 */
static inline int zc_pair_at(const char *ns_tx, const char *ns_rx, int family,
			     int type, const char *ip_rx, int *tx, int *rx)
{
	struct sockaddr_storage ss;
	socklen_t len = zc_sockaddr(family, ip_rx, 0, &ss);
	int one = 1, lfd, ret;

	*tx = *rx = -1;
	lfd = zc_socket_in(ns_rx, family, type);
	if (lfd < 0)
		return lfd;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	zc_sockbufs(lfd, ZC_SOCKBUF);
	if (bind(lfd, (struct sockaddr *)&ss, len) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) ||
	    (type == SOCK_STREAM && listen(lfd, 1)))
		goto err;
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

#endif /* ZC_SELFTEST_NET_H */
