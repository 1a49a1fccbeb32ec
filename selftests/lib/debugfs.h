/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading and writing one value of a debugfs or sysfs knob (fault
 * injection's failslab/ and fail_page_alloc/, for instance). Both return
 * 0 or -errno.
 */
#ifndef ZC_SELFTEST_DEBUGFS_H
#define ZC_SELFTEST_DEBUGFS_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The knob's value in buf, without its trailing newline or blanks. */
static inline int zc_knob_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

static inline int zc_knob_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

#endif
