/* SPDX-License-Identifier: MIT */
/*
 * What liburing 2.3 (Debian 12's) lacks and zcuring's C helpers, C++
 * bindings and fio engine use, in one place.
 *
 * ZCURING_LIBURING_AT_LEAST(major, minor) is true when the liburing being
 * compiled against is that version or newer. liburing 2.4 added
 * <liburing/io_uring_version.h> (IO_URING_VERSION_MAJOR/MINOR); without it
 * the liburing is older than 2.4. The comparison is made here rather than
 * with liburing's IO_URING_CHECK_VERSION(), whose sense at equal versions
 * changed between releases.
 *
 * The definitions of the zcuring kernel's uapi come from
 * <linux/io_uring/zcrx.h>, <linux/io_uring/query.h> and
 * <linux/io_uring/zc_slots.h>, which do not depend on which
 * <linux/io_uring.h> won the include guard (liburing 2.3 bundles its own
 * under the same guard). The flags below are the ones those headers leave
 * to <linux/io_uring.h>: defined here when liburing's older copy won.
 */
#ifndef ZCURING_COMPAT_H
#define ZCURING_COMPAT_H

#include <liburing.h>
#if defined(__has_include)
#if __has_include(<liburing/io_uring_version.h>)
#include <liburing/io_uring_version.h>
#endif
#endif
#include <linux/io_uring/zcrx.h>
#include <linux/io_uring/query.h>
#include <linux/io_uring/zc_slots.h>

#if defined(IO_URING_VERSION_MAJOR) && defined(IO_URING_VERSION_MINOR)
#define ZCURING_LIBURING_AT_LEAST(major, minor)				\
	(IO_URING_VERSION_MAJOR > (major) ||				\
	 (IO_URING_VERSION_MAJOR == (major) &&				\
	  IO_URING_VERSION_MINOR >= (minor)))
#else
#define ZCURING_LIBURING_AT_LEAST(major, minor)	0	/* before 2.4 */
#endif

/* IORING_OP_SEND_ZC: report whether the kernel copied (Linux 6.2) */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE	(1U << 3)
#endif
/* in a notification's res, with IORING_SEND_ZC_REPORT_USAGE: it copied */
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED	(1U << 31)
#endif

#endif /* ZCURING_COMPAT_H */
