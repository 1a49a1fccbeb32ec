/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Receiving a batch of UDP datagrams between the test namespaces, with loss
 * and reordering told apart from corruption.
 *
 * UDP promises neither delivery nor order. On a loaded guest the tests saw
 * datagrams of a batch arrive out of send order over veth (a datagram of
 * another length or offset came first: -EMSGSIZE or a pattern mismatch from
 * an in-order receiver) while no skb was dropped anywhere. A test
 * therefore names every datagram it sent by its length and the pattern
 * offset of its first byte (struct zc_dgram): the pattern (testlib/net.h)
 * differs at every offset, so the bytes themselves number the datagram.
 * The receiver takes datagrams in any order and matches each one, every
 * byte, to exactly one expected datagram:
 *  - a datagram that equals none (a wrong byte, a wrong length) is
 *    corruption, and so is a second copy of one that was sent once;
 *  - an expected datagram that has not come after a quiet time is loss:
 *    it is sent again (SEND_ZC, its completion and notification checked)
 *    until it arrives, a few times at most.
 * Every byte that arrives is checked; every datagram must arrive.
 */
#ifndef ZC_SELFTEST_DGRAM_H
#define ZC_SELFTEST_DGRAM_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "uring.h"
#include "testlib/net.h"

/* Quiet time before what has not come counts as lost, and re-sends. */
#define ZC_DGRAM_QUIET_MS 2000
#define ZC_DGRAM_RESENDS 5
/* user_data of re-sends, apart from every test's own */
#define ZC_DGRAM_RESEND_UD 0x7e5e000000000000ull

struct zc_dgram {
	uint64_t off;		/* pattern offset of its first byte */
	uint32_t len;
	uint16_t sent;		/* 1, more once re-sent */
	uint16_t got;		/* copies received */
	bool arrived;
};

/* What zc_dgram_recv_all() saw besides the expected datagrams. */
struct zc_dgram_stats {
	unsigned int lost;	/* datagrams re-sent after a quiet time */
	unsigned int rounds;	/* quiet times that ended with loss */
	unsigned int reordered;	/* arrived while an older one was missing */
	unsigned int copies;	/* second copies of re-sent datagrams */
	char why[256];		/* the failure, when one is returned */
};

static inline void zc_dgram_set(struct zc_dgram *d, uint64_t off, uint32_t len)
{
	d->off = off;
	d->len = len;
	d->sent = 1;
	d->got = 0;
	d->arrived = false;
}

/*
 * Match one received datagram (n bytes in buf, n > cap when it was
 * truncated) to d[0..nr). Returns 0, or -EBADMSG with st->why.
 */
static inline int zc_dgram_match(const void *buf, size_t n, size_t cap,
				 uint64_t seed, struct zc_dgram *d,
				 unsigned int nr, struct zc_dgram_stats *st)
{
	long first_bad = -1, bad;
	int near = -1;

	for (unsigned int i = 0; i < nr; i++) {
		if (d[i].arrived || d[i].len != n || n > cap)
			continue;
		bad = zc_pattern_check(buf, n, seed, d[i].off);
		if (bad < 0) {
			for (unsigned int j = 0; j < i; j++)
				if (!d[j].arrived) {
					st->reordered++;
					break;
				}
			d[i].arrived = true;
			d[i].got = 1;
			return 0;
		}
		/* the one it is closest to, for the report */
		if (bad > first_bad) {
			first_bad = bad;
			near = i;
		}
	}
	/*
	 * A re-sent datagram may come once per send: the late original and
	 * its copy. Any more is an error.
	 */
	for (unsigned int i = 0; i < nr; i++) {
		if (!d[i].arrived || d[i].len != n || n > cap ||
		    zc_pattern_check(buf, n, seed, d[i].off) >= 0)
			continue;
		if (d[i].got < d[i].sent) {
			d[i].got++;
			st->copies++;
			return 0;
		}
		snprintf(st->why, sizeof(st->why),
			 "datagram %u (%zu bytes at pattern offset %llu) arrived %u times, sent %u",
			 i, n, (unsigned long long)d[i].off, d[i].got + 1, d[i].sent);
		return -EBADMSG;
	}
	if (near >= 0)
		snprintf(st->why, sizeof(st->why),
			 "corrupt datagram of %zu bytes: equals none expected; closest is datagram %d (pattern offset %llu), first wrong byte at %ld: 0x%02x, expected 0x%02x",
			 n, near, (unsigned long long)d[near].off, first_bad,
			 ((const uint8_t *)buf)[first_bad],
			 zc_pattern_byte(seed, d[near].off + first_bad));
	else
		snprintf(st->why, sizeof(st->why),
			 "corrupt datagram of %zu bytes: no missing datagram has that length",
			 n);
	return -EBADMSG;
}

/*
 * Receive from rx until every one of d[0..nr) arrived or nothing came for
 * quiet_ms. Returns how many are still missing, or -EBADMSG / -errno.
 */
static inline int zc_dgram_recv(int rx, void *buf, size_t cap, uint64_t seed,
				struct zc_dgram *d, unsigned int nr,
				int quiet_ms, struct zc_dgram_stats *st)
{
	struct pollfd pfd = { .fd = rx, .events = POLLIN };
	unsigned int missing = 0;
	ssize_t n;
	int ret;

	for (unsigned int i = 0; i < nr; i++)
		missing += !d[i].arrived;
	while (missing) {
		ret = poll(&pfd, 1, quiet_ms);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return missing;
		n = recv(rx, buf, cap, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		ret = zc_dgram_match(buf, n, cap, seed, d, nr, st);
		if (ret)
			return ret;
		missing = 0;
		for (unsigned int i = 0; i < nr; i++)
			missing += !d[i].arrived;
	}
	return 0;
}

/*
 * Send d->len bytes of the pattern from scratch with SEND_ZC and check the
 * stock protocol: a completion with res = len and F_MORE, then its
 * notification. The ring must have no other request in flight.
 */
static inline int zc_dgram_resend(struct zc_ring *r, int tx, void *scratch,
				  uint64_t seed, struct zc_dgram *d,
				  struct zc_dgram_stats *st)
{
	struct io_uring_sqe *sqe = zc_get_sqe(r);
	struct io_uring_cqe cqe;
	uint64_t ud = ZC_DGRAM_RESEND_UD + d->off;
	int ret;

	if (!sqe)
		return -EBUSY;
	zc_pattern_fill(scratch, d->len, seed, d->off);
	zc_prep_send_zc(sqe, tx, scratch, d->len, 0, ud);
	ret = zc_submit(r);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = zc_wait_cqe(r, &cqe, NULL);
	if (ret)
		return ret;
	if (cqe.user_data != ud || cqe.res != (int)d->len ||
	    !(cqe.flags & IORING_CQE_F_MORE) || (cqe.flags & IORING_CQE_F_NOTIF)) {
		snprintf(st->why, sizeof(st->why),
			 "re-send of %u bytes: completion res %d flags 0x%x",
			 d->len, cqe.res, cqe.flags);
		return -EPROTO;
	}
	ret = zc_wait_cqe(r, &cqe, NULL);
	if (ret)
		return ret;
	if (cqe.user_data != ud || !(cqe.flags & IORING_CQE_F_NOTIF) ||
	    (cqe.flags & IORING_CQE_F_MORE)) {
		snprintf(st->why, sizeof(st->why),
			 "re-send of %u bytes: notification flags 0x%x",
			 d->len, cqe.flags);
		return -EPROTO;
	}
	d->sent++;
	return 0;
}

/*
 * Every datagram of d[0..nr) (sent on tx, all completed) must arrive on
 * rx: receive and match them in any order; re-send the lost ones from
 * scratch (at least the longest len bytes) through ring r, up to
 * ZC_DGRAM_RESENDS times. Returns 0 when all arrived; -EBADMSG
 * (corruption), -ETIMEDOUT (still lost) or -errno, with st->why.
 */
static inline int zc_dgram_recv_all(struct zc_ring *r, int tx, int rx,
				    void *rbuf, size_t cap, void *scratch,
				    uint64_t seed, struct zc_dgram *d,
				    unsigned int nr, struct zc_dgram_stats *st)
{
	for (int tries = 0;; tries++) {
		int missing = zc_dgram_recv(rx, rbuf, cap, seed, d, nr,
					    ZC_DGRAM_QUIET_MS, st);

		if (missing <= 0) {
			if (missing < 0 && !st->why[0])
				snprintf(st->why, sizeof(st->why), "recv: %s",
					 strerror(-missing));
			return missing;
		}
		if (tries == ZC_DGRAM_RESENDS) {
			snprintf(st->why, sizeof(st->why),
				 "%d of %u datagrams still lost after %d re-sends",
				 missing, nr, tries);
			return -ETIMEDOUT;
		}
		st->rounds++;
		for (unsigned int i = 0; i < nr; i++) {
			int ret;

			if (d[i].arrived)
				continue;
			st->lost++;
			ret = zc_dgram_resend(r, tx, scratch, seed, &d[i], st);
			if (ret) {
				if (!st->why[0])
					snprintf(st->why, sizeof(st->why),
						 "re-send: %s", strerror(-ret));
				return ret;
			}
		}
	}
}

/*
 * Receive what of d[0..nr) has not arrived yet and check every byte: TCP
 * (SOCK_STREAM) as one stream, in order; UDP in any order with lost
 * datagrams sent again (zc_dgram_recv_all()). Returns 0, or -errno with
 * st->why.
 */
static inline int zc_dgram_check(struct zc_ring *r, int type, int tx, int rx,
				 void *rbuf, size_t cap, void *scratch,
				 uint64_t seed, struct zc_dgram *d,
				 unsigned int nr, struct zc_dgram_stats *st)
{
	if (type != SOCK_STREAM)
		return zc_dgram_recv_all(r, tx, rx, rbuf, cap, scratch, seed,
					 d, nr, st);
	for (unsigned int i = 0; i < nr; i++) {
		long bad;
		int ret;

		if (d[i].arrived)
			continue;
		ret = zc_recv_exact(rx, type, rbuf, d[i].len);
		if (ret) {
			snprintf(st->why, sizeof(st->why), "recv: %s",
				 strerror(-ret));
			return ret;
		}
		bad = zc_pattern_check(rbuf, d[i].len, seed, d[i].off);
		if (bad != -1) {
			snprintf(st->why, sizeof(st->why),
				 "stream byte %llu is wrong",
				 (unsigned long long)(d[i].off + bad));
			return -EBADMSG;
		}
		d[i].arrived = true;
	}
	return 0;
}

#endif /* ZC_SELFTEST_DGRAM_H */
