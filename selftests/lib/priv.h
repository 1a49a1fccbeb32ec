/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Privilege for the selftests: every zcrx registration needs CAP_NET_ADMIN,
 * while RLIMIT_MEMLOCK only applies to a task without CAP_IPC_LOCK. Tests
 * of the memlock limit keep root and every other capability and drop
 * CAP_IPC_LOCK alone (raw capset(2), no libcap).
 */
#ifndef ZC_SELFTEST_PRIV_H
#define ZC_SELFTEST_PRIV_H

#include <errno.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Drop one capability from the effective and permitted sets. */
static inline int zc_drop_cap(unsigned int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[cap / 32].effective &= ~(1u << (cap % 32));
	data[cap / 32].permitted &= ~(1u << (cap % 32));
	data[cap / 32].inheritable &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Be charged for pinned memory, up to memlock bytes; keep CAP_NET_ADMIN. */
static inline int zc_drop_ipc_lock(rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };
	int ret = zc_drop_cap(CAP_IPC_LOCK);

	if (ret)
		return ret;
	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

#endif /* ZC_SELFTEST_PRIV_H */
