// SPDX-License-Identifier: GPL-2.0
/*
 * zcuring_net: an external fio ioengine for one TCP stream over io_uring,
 * with the zero-copy operations of the zcuring kernel. The send modes can
 * also send UDP datagrams (protocol=udp, one io_u a datagram), e.g. to a
 * dummy device, which frees them at transmit.
 *
 *   ioengine=external:zcuring_net.so  mode=recv|recv_zc|send|send_zc|send_zc_slots
 *
 * Options follow fio's "net" engine (hostname, port, listen, protocol,
 * nodelay): one side listens (rw=read for the recv modes), the other
 * connects (rw=write for the send modes). All iodepth requests of a job
 * are in flight on one io_uring:
 *
 *   recv           IORING_OP_RECV (MSG_WAITALL) into the io_u's buffer
 *   send           IORING_OP_SEND (MSG_WAITALL)
 *   send_zc        IORING_OP_SEND_ZC with IORING_SEND_ZC_REPORT_USAGE; an
 *                  io_u completes when its notification arrives (its
 *                  buffer may be reused only then)
 *   send_zc_slots  SEND_ZC bound to a notification slot: one CQE per send
 *                  and one notification per generation; a generation is
 *                  closed every zc_flush_every sends, or earlier when fio
 *                  waits for completions; its io_us complete with it
 *   recv_zc        IORING_OP_RECV_ZC (multishot) into a registered zcrx
 *                  pool of zc_pool_size bytes: the data is not copied
 *                  into the io_u; an io_u of bs bytes completes when bs
 *                  bytes have arrived, and every data CQE's chunk goes
 *                  straight back on the refill ring. Device-less (the
 *                  kernel copies into the pool), or with zcrx_ifname= (and
 *                  zcrx_rxq=) in device mode: the pool is bound to that
 *                  NIC queue, which writes the payload into it
 *
 * Short transfers are finished inside the engine, so fio only ever sees
 * whole io_us (or an error, or end of stream).
 *
 * An io_u's issue time is set when the engine submits it (commit), as fio's
 * io_uring engine does: slat is fio's start of the io_u to the submission,
 * clat the submission to the completion. A listener fails, instead of
 * waiting for ever, when no connection or no first data comes within
 * listen_timeout (default 30 s): its peer job failed.
 *
 * The counters (CQEs per operation, bytes copied or not, re-arms) go to
 * stderr at cleanup, or are appended as one JSON line to zc_stats=<path>.
 *
 * zc_tcg_mark=1 brackets the job's data phase (from the connection's
 * start to its close) with the markers of bench/tcg-insn's QEMU plugin,
 * which counts the guest instructions in between: 8-byte NOPs, so nothing
 * happens on real hardware or without the plugin.
 *
 * The engine only loads into the fio whose source it was built against
 * (ZC_FIO_BUILT_FOR, from that source's FIO-VERSION-FILE): fio's structures
 * change between releases, and a mismatch would be silent corruption.
 */
#include <liburing.h>
#include <zcuring/compat.h>	/* what liburing 2.3 lacks, as C and C++ take it */
#include <zcuring/zcrx.h>
#include <zcuring/zc_slots.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"

#ifndef ZC_FIO_BUILT_FOR
#error "ZC_FIO_BUILT_FOR (the fio version string of the source used) is not set"
#endif

#define ENGINE "zcuring_net"

enum zc_mode {
	ZC_MODE_DEFAULT = 0,	/* from rw: recv for reads, send for writes */
	ZC_MODE_RECV,
	ZC_MODE_RECV_ZC,
	ZC_MODE_SEND,
	ZC_MODE_SEND_ZC,
	ZC_MODE_SEND_ZC_SLOTS,
};

static const char *const mode_names[] = {
	[ZC_MODE_DEFAULT] = "default",
	[ZC_MODE_RECV] = "recv",
	[ZC_MODE_RECV_ZC] = "recv_zc",
	[ZC_MODE_SEND] = "send",
	[ZC_MODE_SEND_ZC] = "send_zc",
	[ZC_MODE_SEND_ZC_SLOTS] = "send_zc_slots",
};

struct zc_options {
	struct thread_data *td;	/* fio sets it: must be first */
	unsigned int mode;
	unsigned int port;
	unsigned int listen;
	unsigned int nodelay;
	char *protocol;
	unsigned long long zc_pool_size;
	unsigned int zc_rq_entries;
	unsigned int zc_flush_every;
	char *zc_stats;
	unsigned int zc_tcg_mark;
	char *zcrx_ifname;
	unsigned int zcrx_rxq;
	unsigned long long listen_timeout;	/* usec; 0: wait for ever */
};

/* user_data: a struct zc_req pointer (8-byte aligned), or one of these */
#define TAG_RECV_ZC	1ULL
#define TAG_SLOT	2ULL
#define TAG_LAST	TAG_SLOT

/* Engine state of one io_u. */
struct zc_req {
	struct io_u *io_u;
	unsigned long long done;	/* bytes moved so far */
	bool result_pending;		/* an SQE of it is in the kernel */
	bool notif_pending;		/* send_zc: its notification is due */
	bool copied;			/* send_zc: the kernel copied some of it */
	unsigned long long sent_zc;	/* send_zc: bytes of the current send */
	struct zc_req *next;		/* recv_zc wait list, slot generation */
};

/* A closed generation of the slot: its sends, in order. */
struct zc_gen {
	uint32_t number;
	struct zc_req *head, *tail;
	unsigned long long bytes;
	struct zc_gen *next;
};

struct zc_stats {
	unsigned long long io_us, bytes, sqes, cqes, cqes_data, cqes_notif;
	unsigned long long bytes_zc, bytes_copied, short_xfers;
	unsigned long long rearm_enospc, rearm_enomem, rearm_len, rq_entries,
		rq_flushes;
	unsigned long long generations, gen_flush_every, gen_flush_wait;
};

struct zc_data {
	enum zc_mode mode;
	bool udp;			/* protocol=udp: datagrams, send modes only */
	int listenfd;
	struct sockaddr_in addr;
	struct io_uring ring;
	bool ring_ok;
	/* io_us queued since the last commit: their issue time is due */
	struct io_u **unissued;
	unsigned int nr_unissued, unissued_cap;

	/* io_us done, waiting for fio to take them as events */
	struct io_u **ready;
	unsigned int ready_head, ready_tail, ready_cap;
	struct io_u **events;
	unsigned int nr_events;

	/* recv_zc */
	void *pool;
	size_t pool_len;
	void *rq_mem;
	size_t rq_len;
	struct io_uring_zcrx_ifq_reg reg;
	struct io_uring_zcrx_rq rq;
	bool zcrx_ok;
	bool zcrx_device;		/* bound to zcrx_ifname's queue zcrx_rxq */
	struct zc_req *wait_head, *wait_tail;
	unsigned long long need;	/* bytes the waiting io_us still want */
	bool armed, eof;
	unsigned long long armed_len, armed_got;

	/* send_zc_slots */
	bool slots_ok, slots_broken;
	struct zc_req *held;		/* newest send, not yet in the SQ */
	struct zc_req *open_head, *open_tail;	/* open generation */
	unsigned int open_count;
	unsigned long long open_bytes;
	uint32_t open_number;
	struct zc_gen *closed_head, *closed_tail;
	unsigned int closed_reqs;	/* io_us in closed generations */

	struct zc_stats st;
};

static int str_hostname_cb(void *data, const char *input)
{
	struct zc_options *o = data;

	free(o->td->o.filename);
	o->td->o.filename = strdup(input);
	return 0;
}

static struct fio_option options[] = {
	{
		.name	= "mode",
		.lname	= "zcuring_net mode",
		.type	= FIO_OPT_STR,
		.off1	= offsetof(struct zc_options, mode),
		.help	= "Operation: recv, recv_zc, send, send_zc, send_zc_slots",
		.posval = {
			{ .ival = "recv", .oval = ZC_MODE_RECV,
			  .help = "IORING_OP_RECV into the io_u" },
			{ .ival = "recv_zc", .oval = ZC_MODE_RECV_ZC,
			  .help = "IORING_OP_RECV_ZC into a registered pool" },
			{ .ival = "send", .oval = ZC_MODE_SEND,
			  .help = "IORING_OP_SEND" },
			{ .ival = "send_zc", .oval = ZC_MODE_SEND_ZC,
			  .help = "IORING_OP_SEND_ZC, one notification per send" },
			{ .ival = "send_zc_slots", .oval = ZC_MODE_SEND_ZC_SLOTS,
			  .help = "IORING_OP_SEND_ZC on a notification slot" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "hostname",
		.lname	= "zcuring_net hostname",
		.type	= FIO_OPT_STR_STORE,
		.cb	= str_hostname_cb,
		.help	= "Host to connect to",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "port",
		.lname	= "zcuring_net port",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct zc_options, port),
		.minval	= 1,
		.maxval	= 65535,
		.help	= "TCP port (plus the subjob number)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "listen",
		.lname	= "zcuring_net listen",
		.type	= FIO_OPT_STR_SET,
		.off1	= offsetof(struct zc_options, listen),
		.help	= "Accept one connection instead of connecting",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "protocol",
		.lname	= "zcuring_net protocol",
		.alias	= "proto",
		.type	= FIO_OPT_STR_STORE,
		.off1	= offsetof(struct zc_options, protocol),
		.def	= "tcp",
		.help	= "Network protocol: tcp, or udp for the send modes",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "nodelay",
		.lname	= "zcuring_net nodelay",
		.type	= FIO_OPT_BOOL,
		.off1	= offsetof(struct zc_options, nodelay),
		.help	= "Set TCP_NODELAY",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zc_pool_size",
		.lname	= "zcrx pool size",
		.type	= FIO_OPT_STR_VAL,
		.off1	= offsetof(struct zc_options, zc_pool_size),
		.def	= "4m",
		.minval	= 4096,
		.help	= "recv_zc: bytes of the registered receive pool",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zc_rq_entries",
		.lname	= "zcrx refill ring entries",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct zc_options, zc_rq_entries),
		.def	= "4096",
		.minval	= 1,
		.maxval	= 32768,
		.help	= "recv_zc: entries of the refill ring",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zc_flush_every",
		.lname	= "slot flush interval",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct zc_options, zc_flush_every),
		.def	= "32",
		.minval	= 0,
		.help	= "send_zc_slots: close a generation every N sends (0: only when fio waits)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zc_stats",
		.lname	= "zcuring_net counters file",
		.type	= FIO_OPT_STR_STORE,
		.off1	= offsetof(struct zc_options, zc_stats),
		.help	= "Append the engine's counters as a JSON line to this file (default: stderr)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zc_tcg_mark",
		.lname	= "tcg_insn markers",
		.type	= FIO_OPT_BOOL,
		.off1	= offsetof(struct zc_options, zc_tcg_mark),
		.def	= "0",
		.help	= "Mark the data phase for the tcg_insn QEMU plugin (bench/tcg-insn)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zcrx_ifname",
		.lname	= "zcrx device",
		.type	= FIO_OPT_STR_STORE,
		.off1	= offsetof(struct zc_options, zcrx_ifname),
		.help	= "recv_zc: device mode, the pool bound to a receive queue of this NIC "
			  "(default: device-less)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "zcrx_rxq",
		.lname	= "zcrx device queue",
		.type	= FIO_OPT_INT,
		.off1	= offsetof(struct zc_options, zcrx_rxq),
		.def	= "0",
		.minval	= 0,
		.help	= "recv_zc with zcrx_ifname: the receive queue",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= "listen_timeout",
		.lname	= "zcuring_net listen timeout",
		.type	= FIO_OPT_STR_VAL_TIME,
		.off1	= offsetof(struct zc_options, listen_timeout),
		.def	= "30",
		.is_seconds = 1,
		.is_time = 1,
		.help	= "listen: fail when no connection, or no first data, comes within this "
			  "time (seconds unless suffixed; 0: wait for ever)",
		.category = FIO_OPT_C_ENGINE,
		.group	= FIO_OPT_G_NETIO,
	},
	{
		.name	= NULL,
	},
};

/*
 * The markers of bench/tcg-insn/tcg_insn.c: nopl 0x5a4349NN(%rax,%rax,1),
 * NN 01 at the start of the measured section, 02 at its end.
 */
static void tcg_mark(struct thread_data *td, bool start)
{
	struct zc_options *o = td->eo;

	if (!o->zc_tcg_mark)
		return;
#if defined(__x86_64__) || defined(__i386__)
	if (start)
		asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, 0x01, 0x49, 0x43, 0x5a" ::: "memory");
	else
		asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, 0x02, 0x49, 0x43, 0x5a" ::: "memory");
#endif
}

/* ---------------------------------------------------------------------- */

static bool is_recv(enum zc_mode m)
{
	return m == ZC_MODE_RECV || m == ZC_MODE_RECV_ZC;
}

static void ready_push(struct zc_data *d, struct io_u *io_u)
{
	d->ready[d->ready_tail++ % d->ready_cap] = io_u;
}

/* An io_u is finished: hand it to fio at the next getevents. */
static void req_complete(struct thread_data *td, struct zc_req *r, int err)
{
	struct zc_data *d = td->io_ops_data;
	struct io_u *io_u = r->io_u;

	if (err) {
		io_u->error = err;
	} else {
		io_u->error = 0;
		io_u->resid = io_u->xfer_buflen - r->done;
	}
	d->st.io_us++;
	d->st.bytes += r->done;
	ready_push(d, io_u);
}

/* An SQE, submitting what is queued if the SQ is full. */
static struct io_uring_sqe *get_sqe(struct zc_data *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
	}
	if (sqe)
		d->st.sqes++;
	return sqe;
}

/* recv, send and send_zc: (re)issue what is left of the io_u. */
static struct io_uring_sqe *issue_xfer(struct thread_data *td, struct zc_req *r)
{
	struct zc_data *d = td->io_ops_data;
	struct io_u *io_u = r->io_u;
	char *buf = (char *)io_u->xfer_buf + r->done;
	size_t len = io_u->xfer_buflen - r->done;
	int fd = io_u->file->fd;
	struct io_uring_sqe *sqe = get_sqe(d);

	if (!sqe)
		return NULL;
	switch (d->mode) {
	case ZC_MODE_RECV:
		io_uring_prep_recv(sqe, fd, buf, len, MSG_WAITALL);
		break;
	case ZC_MODE_SEND:
		io_uring_prep_send(sqe, fd, buf, len, MSG_WAITALL | MSG_NOSIGNAL);
		break;
	case ZC_MODE_SEND_ZC:
	case ZC_MODE_SEND_ZC_SLOTS:
		io_uring_prep_send_zc(sqe, fd, buf, len, MSG_WAITALL | MSG_NOSIGNAL,
				      IORING_SEND_ZC_REPORT_USAGE);
		break;
	default:
		return NULL;
	}
	io_uring_sqe_set_data(sqe, r);
	r->result_pending = true;
	r->sent_zc = len;
	return sqe;
}

/* ---------------------------------------------------------------------- */
/* recv_zc */

static int rzc_arm(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct io_uring_sqe *sqe;
	unsigned long long len = d->need;

	if (d->armed || d->eof || !d->need)
		return 0;
	if (len > (1U << 30))
		len = 1U << 30;
	sqe = get_sqe(d);
	if (!sqe)
		return -EBUSY;
	zcuring_prep_recv_zc(sqe, td->files[0]->fd, (unsigned int)len, d->reg.zcrx_id);
	io_uring_sqe_set_data64(sqe, TAG_RECV_ZC);
	d->armed = true;
	d->armed_len = len;
	d->armed_got = 0;
	return 0;
}

/* Give the chunk of one data CQE back: exactly one refill entry. */
static int rzc_return(struct zc_data *d, uint64_t off, uint32_t len)
{
	if (!zcuring_zcrx_rq_space(&d->rq)) {
		int ret;

		zcuring_zcrx_rq_publish(&d->rq);
		ret = zcuring_zcrx_flush(&d->ring, d->reg.zcrx_id);
		d->st.rq_flushes++;
		if (ret < 0)
			return ret;
		if (!zcuring_zcrx_rq_space(&d->rq))
			return -ENOSPC;
	}
	zcuring_zcrx_rq_return(&d->rq, off, len);
	d->st.rq_entries++;
	return 0;
}

/* @bytes arrived: credit them to the waiting io_us, oldest first. */
static void rzc_credit(struct thread_data *td, unsigned long long bytes)
{
	struct zc_data *d = td->io_ops_data;

	while (bytes && d->wait_head) {
		struct zc_req *r = d->wait_head;
		unsigned long long want = r->io_u->xfer_buflen - r->done;
		unsigned long long n = bytes < want ? bytes : want;

		r->done += n;
		d->need -= n;
		bytes -= n;
		if (r->done == r->io_u->xfer_buflen) {
			d->wait_head = r->next;
			if (!d->wait_head)
				d->wait_tail = NULL;
			req_complete(td, r, 0);
		}
	}
	/* more than was asked for cannot arrive: len bounds the request */
	if (bytes)
		log_err(ENGINE ": recv_zc: %llu bytes beyond the request's length\n",
			bytes);
}

/* End of stream or an error: every waiting io_u ends now. */
static void rzc_fail_all(struct thread_data *td, int err)
{
	struct zc_data *d = td->io_ops_data;

	while (d->wait_head) {
		struct zc_req *r = d->wait_head;

		d->wait_head = r->next;
		req_complete(td, r, err);
	}
	d->wait_tail = NULL;
	d->need = 0;
}

static void rzc_cqe(struct thread_data *td, struct io_uring_cqe *cqe)
{
	struct zc_data *d = td->io_ops_data;

	if (cqe->res > 0) {
		const struct io_uring_zcrx_cqe *z = zcuring_zcrx_cqe(cqe);
		int ret;

		d->st.cqes_data++;
		/* copied or not: the kernel's counters say, at the end */
		d->armed_got += cqe->res;
		ret = rzc_return(d, z->off, cqe->res);
		if (ret < 0 && !d->eof) {
			td_verror(td, -ret, "zcrx refill");
			d->eof = true;
			rzc_fail_all(td, -ret);
		}
		if (!d->eof)
			rzc_credit(td, cqe->res);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;

	/* the request ended */
	d->armed = false;
	if (cqe->res > 0 || (cqe->res == 0 && d->armed_got >= d->armed_len)) {
		d->st.rearm_len++;
	} else if (cqe->res == 0) {
		d->eof = true;
		td->done = 1;
		rzc_fail_all(td, 0);
	} else if (cqe->res == -ENOSPC) {
		d->st.rearm_enospc++;
	} else if (cqe->res == -ENOMEM) {
		d->st.rearm_enomem++;
	} else {
		td_verror(td, -cqe->res, "recv_zc");
		d->eof = true;	/* no more requests */
		rzc_fail_all(td, -cqe->res);
	}
}

/* ---------------------------------------------------------------------- */
/* send_zc_slots */

#define SLOT_FIRST_GEN	1U
#define SLOT_GEN_MASK	0x7fffffffU

static void slots_emit(struct thread_data *td, struct zc_req *r, bool flush)
{
	struct zc_data *d = td->io_ops_data;
	struct io_uring_sqe *sqe;

	sqe = issue_xfer(td, r);
	if (!sqe) {
		req_complete(td, r, EBUSY);
		return;
	}
	zcuring_sqe_set_zc_slot(sqe, 0, flush);

	r->next = NULL;
	if (d->open_tail)
		d->open_tail->next = r;
	else
		d->open_head = r;
	d->open_tail = r;
	d->open_count++;
	d->open_bytes += r->io_u->xfer_buflen - r->done;

	if (flush) {
		struct zc_gen *g = calloc(1, sizeof(*g));

		if (!g) {
			td_verror(td, ENOMEM, "generation");
			return;
		}
		g->number = d->open_number++;
		g->head = d->open_head;
		g->tail = d->open_tail;
		g->bytes = d->open_bytes;
		if (d->closed_tail)
			d->closed_tail->next = g;
		else
			d->closed_head = g;
		d->closed_tail = g;
		d->closed_reqs += d->open_count;
		d->open_head = d->open_tail = NULL;
		d->open_count = 0;
		d->open_bytes = 0;
		d->st.generations++;
	}
}

/* Queue the held send; it closes the generation when asked or when full. */
static void slots_release_held(struct thread_data *td, bool close)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	struct zc_req *r = d->held;
	bool full;

	if (!r)
		return;
	d->held = NULL;
	if (d->slots_broken) {
		req_complete(td, r, EIO);
		return;
	}
	full = o->zc_flush_every && d->open_count + 1 >= o->zc_flush_every;
	if (full)
		d->st.gen_flush_every++;
	else if (close)
		d->st.gen_flush_wait++;
	slots_emit(td, r, full || close);
}

/* A notification: the oldest closed generation's pages are free. */
static void slots_notif(struct thread_data *td, struct io_uring_cqe *cqe)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_gen *g = d->closed_head;
	uint32_t number = (uint32_t)cqe->res & SLOT_GEN_MASK;
	struct zc_req *r;

	d->st.cqes_notif++;
	if (d->slots_broken)
		return;	/* slots_break() finished their io_us */
	if (!g) {
		log_err(ENGINE ": slot notification for generation %u, none closed\n",
			number);
		td_verror(td, EPROTO, "slot notification");
		return;
	}
	if ((g->number & SLOT_GEN_MASK) != number) {
		log_err(ENGINE ": slot notification for generation %u, expected %u\n",
			number, g->number & SLOT_GEN_MASK);
		td_verror(td, EPROTO, "slot notification");
	}
	if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
		d->st.bytes_copied += g->bytes;
	else
		d->st.bytes_zc += g->bytes;

	d->closed_head = g->next;
	if (!d->closed_head)
		d->closed_tail = NULL;
	for (r = g->head; r; ) {
		struct zc_req *next = r->next;

		d->closed_reqs--;
		if (r->done < r->io_u->xfer_buflen) {
			/* short send: the rest joins the open generation */
			d->st.short_xfers++;
			slots_emit(td, r, false);
		} else {
			req_complete(td, r, 0);
		}
		r = next;
	}
	free(g);
}

/*
 * A slot send failed: its generation may not have closed, and what the
 * kernel and we count as generations no longer agree. The job is failing
 * anyway; drop the slots (which closes everything) and finish every io_u
 * as soon as its send's CQE is in.
 */
static void slots_break(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_gen *g;
	struct zc_req *r, *next;

	if (d->slots_broken)
		return;
	d->slots_broken = true;
	zcuring_zc_slots_unregister(&d->ring);
	while ((g = d->closed_head)) {
		d->closed_head = g->next;
		for (r = g->head; r; r = next) {
			next = r->next;
			if (!r->result_pending)
				req_complete(td, r, r->io_u->error);
		}
		free(g);
	}
	d->closed_tail = NULL;
	d->closed_reqs = 0;
	for (r = d->open_head; r; r = next) {
		next = r->next;
		if (!r->result_pending)
			req_complete(td, r, r->io_u->error);
	}
	d->open_head = d->open_tail = NULL;
	d->open_count = 0;
}

/* ---------------------------------------------------------------------- */

/* The result of a recv, send or send_zc SQE of io_u @r. */
static void xfer_cqe(struct thread_data *td, struct zc_req *r,
		     struct io_uring_cqe *cqe)
{
	struct zc_data *d = td->io_ops_data;
	struct io_u *io_u = r->io_u;

	if (cqe->flags & IORING_CQE_F_NOTIF) {
		/* send_zc: the kernel is done with the buffer */
		d->st.cqes_notif++;
		r->notif_pending = false;
		if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			d->st.bytes_copied += r->sent_zc;
		else
			d->st.bytes_zc += r->sent_zc;
		goto check_done;
	}

	d->st.cqes_data++;
	r->result_pending = false;
	if (d->mode == ZC_MODE_SEND_ZC && (cqe->flags & IORING_CQE_F_MORE))
		r->notif_pending = true;

	if (d->mode == ZC_MODE_SEND_ZC_SLOTS) {
		if (cqe->res <= 0)
			io_u->error = cqe->res < 0 ? -cqe->res : EPIPE;
		else
			r->done += cqe->res;
		if (d->slots_broken)
			req_complete(td, r, io_u->error);	/* in no list any more */
		else if (cqe->res <= 0)
			slots_break(td);	/* completes r, which is in a list */
		/* else the generation's notification completes it */
		return;
	}

	if (cqe->res < 0) {
		r->sent_zc = 0;
		if (!r->notif_pending)
			req_complete(td, r, -cqe->res);
		else
			io_u->error = -cqe->res;
		return;
	}
	if (cqe->res == 0 && io_u->xfer_buflen > r->done) {
		if (is_recv(d->mode)) {
			/* end of stream */
			td->done = 1;
			req_complete(td, r, 0);
		} else {
			req_complete(td, r, EPIPE);
		}
		return;
	}
	if (d->mode == ZC_MODE_SEND_ZC)
		r->sent_zc = cqe->res;
	else if (d->mode == ZC_MODE_RECV || d->mode == ZC_MODE_SEND)
		d->st.bytes_copied += cqe->res;
	r->done += cqe->res;

check_done:
	if (r->notif_pending || r->result_pending)
		return;
	if (io_u->error) {
		req_complete(td, r, io_u->error);
		return;
	}
	if (r->done < io_u->xfer_buflen) {
		d->st.short_xfers++;
		if (!issue_xfer(td, r))
			req_complete(td, r, EBUSY);
		return;
	}
	req_complete(td, r, 0);
}

/* Handle every CQE that is posted. */
static void reap(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&d->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud == TAG_RECV_ZC)
			rzc_cqe(td, cqe);
		else if (ud == TAG_SLOT)
			slots_notif(td, cqe);
		else if (ud > TAG_LAST)
			xfer_cqe(td, (struct zc_req *)(uintptr_t)ud, cqe);
	}
	if (!n)
		return;
	io_uring_cq_advance(&d->ring, n);
	d->st.cqes += n;
	if (d->mode == ZC_MODE_RECV_ZC) {
		zcuring_zcrx_rq_publish(&d->rq);
		rzc_arm(td);
	}
}

/* ---------------------------------------------------------------------- */
/* fio hooks */

/* An io_u queue() completes at once: issued now (fio leaves it to us). */
static void mark_completed_now(struct thread_data *td, struct io_u *io_u)
{
	if (fio_fill_issue_time(td))
		fio_gettime(&io_u->issue_time, NULL);
}

static enum fio_q_status zc_queue(struct thread_data *td, struct io_u *io_u)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_req *r = io_u->engine_data;

	fio_ro_check(td, io_u);

	if (!ddir_rw(io_u->ddir)) {
		mark_completed_now(td, io_u);
		return FIO_Q_COMPLETED;	/* syncs and trims mean nothing here */
	}
	/* more than iodepth between commits: fio should not; commit first */
	if (d->nr_unissued == d->unissued_cap)
		return FIO_Q_BUSY;

	memset(r, 0, sizeof(*r));
	r->io_u = io_u;

	switch (d->mode) {
	case ZC_MODE_RECV_ZC:
		if (d->eof) {
			/* through getevents: a sync completion of 0 bytes is an error */
			req_complete(td, r, 0);
			break;
		}
		if (d->wait_tail)
			d->wait_tail->next = r;
		else
			d->wait_head = r;
		d->wait_tail = r;
		d->need += io_u->xfer_buflen;
		break;
	case ZC_MODE_SEND_ZC_SLOTS:
		if (d->slots_broken) {
			io_u->error = EIO;
			mark_completed_now(td, io_u);
			return FIO_Q_COMPLETED;
		}
		slots_release_held(td, false);
		d->held = r;
		break;
	default:
		if (io_uring_sq_space_left(&d->ring) < 1)
			return FIO_Q_BUSY;
		if (!issue_xfer(td, r))
			return FIO_Q_BUSY;
		break;
	}
	d->unissued[d->nr_unissued++] = io_u;
	return FIO_Q_QUEUED;
}

/*
 * The io_us queued since the last commit are with the kernel now: their
 * issue time is now (clat runs from here to completion, slat from fio's
 * start of the io_u to here), as fio's io_uring engine does after its
 * io_uring_enter(); hence FIO_ASYNCIO_SETS_ISSUE_TIME, which tells fio not
 * to set it itself when queue() returns, before the submission.
 */
static void mark_issued(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct timespec now;
	unsigned int i;

	if (!d->nr_unissued)
		return;
	if (fio_fill_issue_time(td)) {
		fio_gettime(&now, NULL);
		for (i = 0; i < d->nr_unissued; i++) {
			d->unissued[i]->issue_time = now;
			io_u_queued(td, d->unissued[i]);	/* the slat sample */
		}
		if (td->o.read_iolog_file)
			td->last_issue = now;
	}
	io_u_mark_submit(td, d->nr_unissued);
	d->nr_unissued = 0;
}

static int zc_commit(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	int ret;

	if (d->mode == ZC_MODE_RECV_ZC) {
		ret = rzc_arm(td);
		if (ret)
			return ret;
	}
	ret = io_uring_submit(&d->ring);
	if (ret < 0 && ret != -EAGAIN && ret != -EINTR) {
		td_verror(td, -ret, "io_uring_submit");
		return ret;
	}
	mark_issued(td);
	return 0;
}

static unsigned int ready_count(const struct zc_data *d)
{
	return d->ready_tail - d->ready_head;
}

static int zc_getevents(struct thread_data *td, unsigned int min,
			unsigned int max, const struct timespec *t)
{
	struct zc_data *d = td->io_ops_data;
	struct __kernel_timespec ts = { .tv_sec = 1 };
	bool entered = false;

	/*
	 * fio commits before it waits (min > 0), not before it polls: what
	 * it queued since goes to the kernel, and gets its issue time, now.
	 */
	if (d->nr_unissued) {
		int ret = zc_commit(td);

		if (ret)
			return ret;
	}
	d->nr_events = 0;
	for (;;) {
		struct io_uring_cqe *cqe;
		int ret;

		reap(td);
		while (d->nr_events < max && ready_count(d))
			d->events[d->nr_events++] = d->ready[d->ready_head++ % d->ready_cap];
		if (d->nr_events >= min && (entered || d->nr_events))
			break;
		if (td->terminate && entered)
			break;	/* fio is stopping the job: do not wait on */

		/*
		 * About to wait. Sends of the open generation complete only
		 * once it is closed: close it unless closed generations
		 * already hold enough io_us.
		 */
		if (d->mode == ZC_MODE_SEND_ZC_SLOTS && min &&
		    d->nr_events + d->closed_reqs < min)
			slots_release_held(td, true);
		if (d->mode == ZC_MODE_RECV_ZC)
			rzc_arm(td);

		if (d->nr_events >= min) {
			/* nothing needed: just let deferred completions run */
			ret = io_uring_submit_and_get_events(&d->ring);
			entered = true;
		} else {
			ret = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
			entered = true;
			if (ret == -ETIME || ret == -EINTR || ret == -EAGAIN)
				ret = 0;
		}
		if (ret < 0) {
			td_verror(td, -ret, "io_uring wait");
			return ret;
		}
	}
	return d->nr_events;
}

static struct io_u *zc_event(struct thread_data *td, int event)
{
	struct zc_data *d = td->io_ops_data;

	return d->events[event];
}

static int zc_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct zc_req *r = calloc(1, sizeof(*r));

	if (!r)
		return 1;
	r->io_u = io_u;
	io_u->engine_data = r;
	return 0;
}

static void zc_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	free(io_u->engine_data);
	io_u->engine_data = NULL;
}

/* ---------------------------------------------------------------------- */
/* set-up */

static unsigned int roundup_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * Binding resets the NIC: wait up to 10 s for its carrier, so that the
 * connection's first SYN is not lost to a link still coming up.
 */
static void wait_carrier(const char *ifname)
{
	char path[64 + IFNAMSIZ], c;
	int i, fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	for (i = 0; i < 200; i++) {
		c = '0';
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, &c, 1) != 1)
				c = '0';
			close(fd);
		}
		if (c == '1')
			return;
		usleep(50000);
	}
	log_err(ENGINE ": %s: no carrier 10 s after binding its queue\n", ifname);
}

/* recv_zc in device mode: the pool bound to zcrx_ifname's queue zcrx_rxq. */
static int setup_recv_zc_device(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	unsigned int idx = if_nametoindex(o->zcrx_ifname);
	const char *why;
	int ret, i;

	if (!idx) {
		log_err(ENGINE ": zcrx_ifname=%s: %s\n", o->zcrx_ifname, strerror(errno));
		td_verror(td, errno, "zcrx_ifname");
		return 1;
	}
	/* a ring on its way out keeps the queue bound a moment: -EEXIST */
	for (i = 0; i < 200; i++) {
		ret = zcuring_zcrx_register(&d->ring, idx, o->zcrx_rxq, d->pool,
					 d->pool_len, d->rq_mem, d->rq_len,
					 o->zc_rq_entries, &d->reg, &d->rq);
		if (ret != -EEXIST)
			break;
		usleep(50000);
	}
	if (ret < 0) {
		switch (-ret) {
		case EOPNOTSUPP:
			why = " (this NIC or kernel has no device-mode zcrx)";
			break;
		case EINVAL:
			why = " (the NIC cannot split headers now: e1000e needs an MTU above 1500 and rx-checksumming)";
			break;
		case ERANGE:
			why = " (no such queue)";
			break;
		case EEXIST:
			why = " (the queue is bound to another zcrx instance)";
			break;
		case ENOMEM:
			why = " (RLIMIT_MEMLOCK?)";
			break;
		default:
			why = "";
		}
		log_err(ENGINE ": binding the zcrx pool to %s rx queue %u failed: %s%s\n",
			o->zcrx_ifname, o->zcrx_rxq, strerror(-ret), why);
		td_verror(td, -ret, "zcrx register (device)");
		return 1;
	}
	d->zcrx_ok = true;
	d->zcrx_device = true;
	wait_carrier(o->zcrx_ifname);
	return 0;
}

/*
 * What the kernel delivered from the instance without and with a copy:
 * the ring's fdinfo, "ZcrxIfqs:" then "    N: ... bytes_zc X bytes_copied
 * Y" per instance. 0, or -ENOENT when the kernel does not show them.
 */
static int zcrx_fdinfo_bytes(struct zc_data *d, unsigned long long *zc,
			     unsigned long long *copied)
{
	char path[64], line[256];
	bool section = false;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", d->ring.ring_fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		unsigned int id;
		int end = 0;
		char *p;

		if (!strcmp(line, "ZcrxIfqs:\n")) {
			section = true;
			continue;
		}
		if (!section)
			continue;
		if (sscanf(line, " %u:%n", &id, &end) != 1 || !end)
			break;
		p = strstr(line, "bytes_zc ");
		if (id == d->reg.zcrx_id && p &&
		    sscanf(p, "bytes_zc %llu bytes_copied %llu", &a, &b) == 2) {
			*zc = a;
			*copied = b;
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static int setup_recv_zc(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	struct io_uring_query_zcrx q;
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	d->pool_len = (o->zc_pool_size + page - 1) / page * page;
	d->pool = mmap(NULL, d->pool_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (d->pool == MAP_FAILED) {
		d->pool = NULL;
		td_verror(td, errno, "mmap zcrx pool");
		return 1;
	}
	ret = zcuring_zcrx_query(&q);
	if (ret < 0)
		return 1;	/* checked in zc_init */
	d->rq_len = zcuring_zcrx_rq_bytes(&q, roundup_pow2(o->zc_rq_entries));
	d->rq_len = (d->rq_len + page - 1) / page * page;
	d->rq_mem = mmap(NULL, d->rq_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (d->rq_mem == MAP_FAILED) {
		d->rq_mem = NULL;
		td_verror(td, errno, "mmap zcrx refill ring");
		return 1;
	}
	if (o->zcrx_ifname)
		return setup_recv_zc_device(td);
	ret = zcuring_zcrx_register_nodev(&d->ring, d->pool, d->pool_len, d->rq_mem,
				  d->rq_len, o->zc_rq_entries, &d->reg, &d->rq);
	if (ret < 0) {
		log_err(ENGINE ": registering the zcrx pool (%llu bytes, %u refill entries) failed: %s%s\n",
			(unsigned long long)d->pool_len, o->zc_rq_entries, strerror(-ret),
			ret == -ENOMEM ? " (RLIMIT_MEMLOCK?)" : "");
		td_verror(td, -ret, "zcrx register");
		return 1;
	}
	d->zcrx_ok = true;
	return 0;
}

/* Refuse, in one line, what the running kernel cannot do. */
static int check_kernel(struct thread_data *td, const struct io_uring_params *p)
{
	struct zc_data *d = td->io_ops_data;
	struct io_uring_probe *probe;
	struct io_uring_query_zcrx q;
	int ret;

	switch (d->mode) {
	case ZC_MODE_RECV_ZC:
		ret = zcuring_zcrx_query(&q);
		if (ret < 0) {
			log_err(ENGINE ": mode=recv_zc: unsupported by this kernel "
				"(no io_uring zero-copy receive: %s)\n", strerror(-ret));
			return EOPNOTSUPP;
		}
		/* device mode: the registration says whether the NIC can */
		if (!((struct zc_options *)td->eo)->zcrx_ifname &&
		    !(q.register_flags & ZCRX_REG_NODEV)) {
			log_err(ENGINE ": mode=recv_zc: unsupported by this kernel "
				"(no device-less io_uring zero-copy receive, no ZCRX_REG_NODEV; "
				"zcrx_ifname= for device mode)\n");
			return EOPNOTSUPP;
		}
		return 0;
	case ZC_MODE_SEND_ZC_SLOTS:
		if (!(p->features & IORING_FEAT_SEND_ZC_SLOTS)) {
			log_err(ENGINE ": mode=send_zc_slots: unsupported by this kernel "
				"(no IORING_FEAT_SEND_ZC_SLOTS)\n");
			return EOPNOTSUPP;
		}
		/* fall through: slots are SEND_ZC */
	case ZC_MODE_SEND_ZC:
		probe = io_uring_get_probe_ring(&d->ring);
		if (!probe || !io_uring_opcode_supported(probe, IORING_OP_SEND_ZC)) {
			io_uring_free_probe(probe);
			log_err(ENGINE ": mode=%s: unsupported by this kernel (no IORING_OP_SEND_ZC)\n",
				mode_names[d->mode]);
			return EOPNOTSUPP;
		}
		io_uring_free_probe(probe);
		return 0;
	default:
		return 0;
	}
}

static int setup_ring(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	struct io_uring_params p;
	unsigned int depth = td->o.iodepth ? td->o.iodepth : 1;
	unsigned int cq;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE;
	cq = 4 * depth + 16;
	if (d->mode == ZC_MODE_RECV_ZC) {
		unsigned long long chunks = o->zc_pool_size / 4096;

		p.flags |= IORING_SETUP_CQE32;
		if (cq < chunks)
			cq = chunks > 32768 ? 32768 : (unsigned int)chunks;
	}
	p.cq_entries = roundup_pow2(cq);
	ret = io_uring_queue_init_params(roundup_pow2(depth + 8), &d->ring, &p);
	if (ret < 0) {
		log_err(ENGINE ": io_uring_setup failed: %s\n", strerror(-ret));
		td_verror(td, -ret, "io_uring_setup");
		return 1;
	}
	d->ring_ok = true;

	ret = check_kernel(td, &p);
	if (ret) {
		td_verror(td, ret, "kernel support");
		return 1;
	}

	if (d->mode == ZC_MODE_RECV_ZC)
		return setup_recv_zc(td);
	if (d->mode == ZC_MODE_SEND_ZC_SLOTS) {
		static const uint64_t tags[1] = { TAG_SLOT };

		ret = zcuring_zc_slots_register(&d->ring, tags, 1, SLOT_FIRST_GEN);
		if (ret < 0) {
			log_err(ENGINE ": registering a notification slot failed: %s\n",
				strerror(-ret));
			td_verror(td, -ret, "slots register");
			return 1;
		}
		d->slots_ok = true;
		d->open_number = SLOT_FIRST_GEN;
	}
	return 0;
}

static int setup_listen(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	int fd, one = 1;

	if (td->o.filename && strcmp(td->o.filename, "net")) {
		log_err(ENGINE ": hostname is not used with listen\n");
		return 1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		td_verror(td, errno, "socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	d->addr.sin_family = AF_INET;
	d->addr.sin_addr.s_addr = htonl(INADDR_ANY);
	d->addr.sin_port = htons(o->port);
	if (bind(fd, (struct sockaddr *)&d->addr, sizeof(d->addr)) < 0 ||
	    listen(fd, 4) < 0) {
		td_verror(td, errno, "bind/listen");
		close(fd);
		return 1;
	}
	d->listenfd = fd;
	return 0;
}

static int setup_connect(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	struct addrinfo hints, *res;
	int ret;

	if (!td->o.filename || !strcmp(td->o.filename, "net")) {
		log_err(ENGINE ": hostname is needed to connect (or use listen)\n");
		return 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = d->udp ? SOCK_DGRAM : SOCK_STREAM;
	ret = getaddrinfo(td->o.filename, NULL, &hints, &res);
	if (ret) {
		log_err(ENGINE ": hostname %s: %s\n", td->o.filename, gai_strerror(ret));
		return 1;
	}
	memcpy(&d->addr, res->ai_addr, sizeof(d->addr));
	d->addr.sin_port = htons(o->port);
	freeaddrinfo(res);
	return 0;
}

static int zc_init(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	unsigned int depth = td->o.iodepth ? td->o.iodepth : 1;

	if (!strcmp(o->protocol ? o->protocol : "tcp", "udp")) {
		d->udp = true;
	} else if (strcmp(o->protocol ? o->protocol : "tcp", "tcp")) {
		log_err(ENGINE ": protocol=%s is not supported: only tcp and udp\n",
			o->protocol);
		return 1;
	}
	if (td_random(td)) {
		log_err(ENGINE ": a TCP stream cannot be random: use rw=read or rw=write\n");
		return 1;
	}
	if (td_rw(td)) {
		log_err(ENGINE ": a job either receives (rw=read) or sends (rw=write)\n");
		return 1;
	}
	if (!o->port) {
		log_err(ENGINE ": port is required\n");
		return 1;
	}
	d->mode = o->mode;
	if (d->mode == ZC_MODE_DEFAULT)
		d->mode = td_read(td) ? ZC_MODE_RECV : ZC_MODE_SEND;
	if (is_recv(d->mode) != !!td_read(td)) {
		log_err(ENGINE ": mode=%s needs rw=%s\n", mode_names[d->mode],
			is_recv(d->mode) ? "read" : "write");
		return 1;
	}
	if (d->udp && (is_recv(d->mode) || o->listen)) {
		log_err(ENGINE ": protocol=udp is for the send modes only (rw=write, no listen)\n");
		return 1;
	}
	/* one io_u, one datagram: at most what IPv4 UDP carries */
	if (d->udp && td->o.max_bs[DDIR_WRITE] > 65507) {
		log_err(ENGINE ": protocol=udp: bs must be at most 65507 (one datagram per io_u)\n");
		return 1;
	}
	if (d->mode != ZC_MODE_RECV_ZC && o->zcrx_ifname) {
		log_err(ENGINE ": zcrx_ifname is for mode=recv_zc\n");
		return 1;
	}
	if (d->mode == ZC_MODE_RECV_ZC && o->zc_rq_entries > 32768) {
		log_err(ENGINE ": zc_rq_entries must be at most 32768\n");
		return 1;
	}
	o->port += td->subjob_number;

	/* a generation may hold every io_u, plus short-send rests */
	d->ready_cap = 2 * depth + 8;
	d->ready = calloc(d->ready_cap, sizeof(*d->ready));
	d->events = calloc(d->ready_cap, sizeof(*d->events));
	d->unissued_cap = depth;
	d->unissued = calloc(d->unissued_cap, sizeof(*d->unissued));
	if (!d->ready || !d->events || !d->unissued) {
		td_verror(td, ENOMEM, "calloc");
		return 1;
	}

	if (setup_ring(td))
		return 1;
	return o->listen ? setup_listen(td) : setup_connect(td);
}

static int zc_setup(struct thread_data *td)
{
	struct zc_data *d;

	if (!td->files_index) {
		add_file(td, td->o.filename ?: "net", 0, 0);
		td->o.nr_files = td->o.nr_files ?: 1;
		td->o.open_files++;
	}
	if (!td->io_ops_data) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return 1;
		d->listenfd = -1;
		td->io_ops_data = d;
	}
	return 0;
}

static unsigned long long mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The listener waits for its peer twice: for the connection, then for its
 * first data (or its end). Each wait is bounded by listen_timeout (0: no
 * bound), so that a listener whose peer job
 * failed (refused at set-up, could not connect, exited) fails instead of
 * waiting for ever. 0 when @fd is readable; else the job's error is set.
 */
static int wait_peer(struct thread_data *td, int fd, unsigned long long deadline,
		     const char *what)
{
	struct zc_options *o = td->eo;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		int ret = poll(&pfd, 1, 200);

		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR) {
			td_verror(td, errno, "poll for the peer");
			return 1;
		}
		if (td->terminate) {
			td_verror(td, EINTR, "poll for the peer");
			return 1;
		}
		if (deadline && mono_usec() >= deadline) {
			/* no log_info(): it would land in --output-format=json's stdout */
			log_err(ENGINE ": job %s: %s on port %u within listen_timeout=%llus "
				"(did the peer job fail?)\n", td->o.name, what, o->port,
				o->listen_timeout / 1000000);
			td_verror(td, ETIMEDOUT, what);
			return 1;
		}
	}
}

static int zc_open_file(struct thread_data *td, struct fio_file *f)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	int one = 1;

	if (o->listen) {
		int state = td->runstate;
		unsigned long long deadline = 0;

		if (o->listen_timeout)
			deadline = mono_usec() + o->listen_timeout;
		td_set_runstate(td, TD_SETTING_UP);
		if (wait_peer(td, d->listenfd, deadline, "no connection")) {
			td_set_runstate(td, state);
			return 1;
		}
		f->fd = accept4(d->listenfd, NULL, NULL, SOCK_CLOEXEC);
		if (f->fd < 0) {
			td_set_runstate(td, state);
			td_verror(td, errno, "accept");
			return 1;
		}
		/* a peer that connected and then stalls: the same bound */
		if (o->listen_timeout)
			deadline = mono_usec() + o->listen_timeout;
		if (wait_peer(td, f->fd, deadline, "a connection but no data")) {
			close(f->fd);
			f->fd = -1;
			td_set_runstate(td, state);
			return 1;
		}
		reset_all_stats(td);
		td_set_runstate(td, state);
		tcg_mark(td, true);
	} else {
		int tries = 0;

		for (;;) {
			f->fd = socket(AF_INET, (d->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			if (f->fd < 0) {
				td_verror(td, errno, "socket");
				return 1;
			}
			if (!connect(f->fd, (struct sockaddr *)&d->addr, sizeof(d->addr)))
				break;
			/* the listener may still be starting: retry for 10 s */
			if (errno != ECONNREFUSED || ++tries > 200 || td->terminate) {
				td_verror(td, errno, "connect");
				close(f->fd);
				f->fd = -1;
				return 1;
			}
			close(f->fd);
			usleep(50000);
		}
		tcg_mark(td, true);
	}
	if (o->nodelay && !d->udp &&
	    setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		td_verror(td, errno, "TCP_NODELAY");
		close(f->fd);
		f->fd = -1;
		return 1;
	}
	return 0;
}

/*
 * fio's net engine ends a TCP receive job when one recv() returns exactly
 * its 8-byte "link close" message (magic "link", command 0x89, both little
 * endian), not at end of stream: send it too, so that a net receiver can
 * be paired with this engine's senders.
 */
static int zc_close_file(struct thread_data *td, struct fio_file *f)
{
	struct zc_data *d = td->io_ops_data;

	if (d && !is_recv(d->mode) && f->fd >= 0 && !td->error) {
		uint32_t msg[2] = { htole32(0x6c696e6b), htole32(0x89) };

		/* UDP: fio's net receiver takes the same 8 bytes; none may listen */
		if (send(f->fd, msg, sizeof(msg), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
		    errno != ECONNRESET && !(d->udp && errno == ECONNREFUSED))
			td_verror(td, errno, "send link close");
	}
	if (f->fd >= 0)
		tcg_mark(td, false);
	return generic_close_file(td, f);
}

static void json_counter(FILE *out, const char *name, unsigned long long v)
{
	fprintf(out, ",\"%s\":%llu", name, v);
}

static void dump_stats(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_options *o = td->eo;
	struct zc_stats *s = &d->st;
	int zcrx_counters = 0;
	char *line = NULL;
	size_t len = 0;
	FILE *out;

	if (d->mode == ZC_MODE_RECV_ZC && d->zcrx_ok) {
		/* the kernel's word; without it, device-less copies every byte */
		zcrx_counters = !zcrx_fdinfo_bytes(d, &s->bytes_zc, &s->bytes_copied);
		if (!zcrx_counters && !d->zcrx_device)
			s->bytes_copied = s->bytes;
	}
	out = open_memstream(&line, &len);
	if (!out)
		return;
	fprintf(out, "{\"engine\":\"" ENGINE "\",\"job\":\"%s\",\"mode\":\"%s\","
		"\"iodepth\":%u,\"bs\":%llu",
		td->o.name ? td->o.name : "", mode_names[d->mode], td->o.iodepth,
		(unsigned long long)td->o.bs[is_recv(d->mode) ? DDIR_READ : DDIR_WRITE]);
	json_counter(out, "io_us", s->io_us);
	json_counter(out, "bytes", s->bytes);
	json_counter(out, "sqes", s->sqes);
	json_counter(out, "cqes", s->cqes);
	json_counter(out, "cqes_data", s->cqes_data);
	json_counter(out, "cqes_notif", s->cqes_notif);
	fprintf(out, ",\"cqes_per_io_u\":%.3f",
		s->io_us ? (double)s->cqes / s->io_us : 0.0);
	/*
	 * bytes_copied: data the kernel copied between its buffers and the
	 * application's (recv, send; send_zc sends the notification says it
	 * copied; recv_zc: what the kernel copied into the pool, every byte
	 * in device-less mode).
	 * bytes_zc: data no CPU copied (send_zc sends not copied; recv_zc
	 * in device mode: what the NIC wrote into the pool).
	 * recv_zc's come from the kernel's counters (the ring's fdinfo,
	 * zcrx_counters 1); without them (0), device-less counts every byte
	 * copied and device mode neither.
	 */
	json_counter(out, "bytes_copied", s->bytes_copied);
	json_counter(out, "bytes_zc", s->bytes_zc);
	json_counter(out, "short_xfers", s->short_xfers);
	if (d->mode == ZC_MODE_RECV_ZC) {
		fprintf(out, ",\"zcrx_mode\":\"%s\"", d->zcrx_device ? "device" : "nodev");
		if (d->zcrx_device)
			fprintf(out, ",\"zcrx_ifname\":\"%s\",\"zcrx_rxq\":%u",
				o->zcrx_ifname, o->zcrx_rxq);
		json_counter(out, "zcrx_counters", zcrx_counters);
		json_counter(out, "rearm_len", s->rearm_len);
		json_counter(out, "rearm_enospc", s->rearm_enospc);
		json_counter(out, "rearm_enomem", s->rearm_enomem);
		json_counter(out, "rq_entries", s->rq_entries);
		json_counter(out, "rq_flushes", s->rq_flushes);
	}
	if (d->mode == ZC_MODE_SEND_ZC_SLOTS) {
		json_counter(out, "generations", s->generations);
		json_counter(out, "gen_flush_every", s->gen_flush_every);
		json_counter(out, "gen_flush_wait", s->gen_flush_wait);
	}
	fprintf(out, "}\n");
	fclose(out);

	if (o->zc_stats) {
		int fd = open(o->zc_stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0 || write(fd, line, len) != (ssize_t)len)
			log_err(ENGINE ": cannot write zc_stats=%s: %s\n", o->zc_stats,
				strerror(errno));
		if (fd >= 0)
			close(fd);
	} else {
		fputs(line, stderr);
	}
	free(line);
}

static void zc_cleanup(struct thread_data *td)
{
	struct zc_data *d = td->io_ops_data;
	struct zc_gen *g;

	if (!d)
		return;
	if (d->ring_ok && d->st.sqes)
		dump_stats(td);
	while ((g = d->closed_head)) {
		d->closed_head = g->next;
		free(g);
	}
	/* tearing the ring down takes every chunk back and closes the slots */
	if (d->ring_ok)
		io_uring_queue_exit(&d->ring);
	if (d->pool)
		munmap(d->pool, d->pool_len);
	if (d->rq_mem)
		munmap(d->rq_mem, d->rq_len);
	if (d->listenfd >= 0)
		close(d->listenfd);
	free(d->ready);
	free(d->events);
	free(d->unissued);
	free(d);
	td->io_ops_data = NULL;
}

static void zc_terminate(struct thread_data *td)
{
	kill(td->pid, SIGTERM);
}

static struct ioengine_ops zc_ops = {
	.name			= ENGINE,
	.version		= FIO_IOOPS_VERSION,
	.flags			= FIO_DISKLESSIO | FIO_UNIDIR | FIO_PIPEIO |
				  FIO_NO_OFFLOAD | FIO_BIT_BASED |
				  FIO_ASYNCIO_SETS_ISSUE_TIME,
	.setup			= zc_setup,
	.init			= zc_init,
	.queue			= zc_queue,
	.commit			= zc_commit,
	.getevents		= zc_getevents,
	.event			= zc_event,
	.cleanup		= zc_cleanup,
	.open_file		= zc_open_file,
	.close_file		= zc_close_file,
	.io_u_init		= zc_io_u_init,
	.io_u_free		= zc_io_u_free,
	.terminate		= zc_terminate,
	.options		= options,
	.option_struct_size	= sizeof(struct zc_options),
};

/*
 * The loading fio's version. Weak, so that a host program without it still
 * loads the engine far enough to be told.
 */
#pragma weak fio_version_string

/*
 * fio looks for "ioengine" first, then calls get_ioengine(): the engine
 * exports only the latter, so that this check runs before fio touches any
 * of the engine's structures.
 */
__attribute__((visibility("default")))
void get_ioengine(struct ioengine_ops **ops)
{
	const char *running = fio_version_string;

	if (!running || strcmp(running, ZC_FIO_BUILT_FOR)) {
		fprintf(stderr, ENGINE ": built for %s (ioengine ops %d) but loaded into %s: "
			"rebuild it against this fio's source (scripts/fio-headers)\n",
			ZC_FIO_BUILT_FOR, FIO_IOOPS_VERSION,
			running ? running : "a program that is not fio");
		fflush(stderr);
		exit(1);
	}
	*ops = &zc_ops;
}
