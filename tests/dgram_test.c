// SPDX-License-Identifier: GPL-2.0
/*
 * selftests/lib/dgram.h tells loss apart from corruption: datagrams over an
 * AF_UNIX socket pair stand in for UDP between the namespaces, and each
 * case feeds the receiver what a loaded veth path (or a bug) would.
 */
#include <stdio.h>
#include <sys/socket.h>

#include "lib/dgram.h"

#define SEED 0x77
#define QUIET_MS 100

static int fails, n;

static void check(int ok, const char *what, const struct zc_dgram_stats *st)
{
	n++;
	if (!ok)
		fails++;
	printf("%sok %d %s\n", ok ? "" : "not ", n, what);
	if (!ok && st && st->why[0])
		printf("# %s\n", st->why);
}

static int sv[2];
static uint8_t buf[8192], rbuf[8192];

static void send_one(const struct zc_dgram *d)
{
	zc_pattern_fill(buf, d->len, SEED, d->off);
	if (send(sv[0], buf, d->len, 0) != (ssize_t)d->len)
		perror("send");
}

/* Six datagrams of mixed lengths, the shape of the tests' batches. */
static void batch(struct zc_dgram *d)
{
	static const uint32_t lens[6] = { 1, 7, 1000, 4096, 4096, 1 };
	uint64_t off = 0;

	for (int i = 0; i < 6; i++) {
		zc_dgram_set(&d[i], off, lens[i]);
		off += lens[i];
	}
}

static int recv_batch(struct zc_dgram *d, struct zc_dgram_stats *st)
{
	memset(st, 0, sizeof(*st));
	return zc_dgram_recv(sv[1], rbuf, sizeof(rbuf), SEED, d, 6, QUIET_MS, st);
}

int main(void)
{
	struct zc_dgram d[6];
	struct zc_dgram_stats st;
	int ret;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) {
		perror("socketpair");
		return 1;
	}

	batch(d);
	for (int i = 0; i < 6; i++)
		send_one(&d[i]);
	ret = recv_batch(d, &st);
	check(ret == 0 && !st.reordered, "in order: all arrive", &st);

	batch(d);
	for (int i = 5; i >= 0; i--)
		send_one(&d[i]);
	ret = recv_batch(d, &st);
	check(ret == 0 && st.reordered, "reversed: all arrive, counted as out of order", &st);

	batch(d);
	for (int i = 0; i < 6; i++)
		if (i != 2 && i != 4)
			send_one(&d[i]);
	ret = recv_batch(d, &st);
	check(ret == 2 && !d[2].arrived && !d[4].arrived && d[3].arrived,
	      "two lost: loss, 2 missing, the others arrived", &st);
	/* the re-sends come, and the late original of one of them too */
	d[2].sent = d[4].sent = 2;
	send_one(&d[4]);
	send_one(&d[4]);
	send_one(&d[2]);
	ret = recv_batch(d, &st);
	check(ret == 0 && st.copies == 1,
	      "the re-sent ones arrive, a late second copy is no error", &st);

	batch(d);
	for (int i = 0; i < 6; i++) {
		zc_pattern_fill(buf, d[i].len, SEED, d[i].off);
		if (i == 3)
			buf[4000] ^= 0x10;
		send(sv[0], buf, d[i].len, 0);
	}
	ret = recv_batch(d, &st);
	check(ret == -EBADMSG && strstr(st.why, "first wrong byte at 4000"),
	      "one flipped bit: corruption, not loss, and where", &st);

	/* drain what the failed case left */
	while (recv(sv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		;
	batch(d);
	send_one(&d[0]);
	send_one(&d[0]);
	ret = recv_batch(d, &st);
	check(ret == -EBADMSG && strstr(st.why, "arrived 2 times, sent 1"),
	      "a datagram sent once arrives twice: an error", &st);

	while (recv(sv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		;
	batch(d);
	d[0].sent = 2;
	for (int i = 0; i < 3; i++)
		send_one(&d[0]);
	ret = recv_batch(d, &st);
	check(ret == -EBADMSG && strstr(st.why, "arrived 3 times, sent 2"),
	      "a datagram sent twice arrives three times: an error", &st);

	while (recv(sv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		;
	batch(d);
	zc_pattern_fill(buf, 999, SEED, d[2].off);
	send(sv[0], buf, 999, 0);
	ret = recv_batch(d, &st);
	check(ret == -EBADMSG, "a short datagram: corruption", &st);

	while (recv(sv[1], rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		;
	batch(d);
	zc_pattern_fill(buf, d[1].len, SEED, d[1].off + 1);
	send(sv[0], buf, d[1].len, 0);
	ret = recv_batch(d, &st);
	check(ret == -EBADMSG, "right length, bytes of another offset: corruption", &st);

	printf("1..%d\n", n);
	return fails != 0;
}
