// SPDX-License-Identifier: MIT
// The one system call the event loop makes on its hot path, io_uring_enter,
// without libc's syscall() (its variadic arguments and errno) in between.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace zcuring::detail {

// io_uring_enter(fd, to_submit, min_complete, flags, no sigmask): its
// result, or -errno.
inline int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete,
                              unsigned flags) noexcept
{
#if defined(__x86_64__)
	// The x86-64 system call convention: number in rax, arguments in
	// rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered.
	register long a4 asm("r10") = flags;
	register long a5 asm("r8") = 0; // no signal mask
	register long a6 asm("r9") = _NSIG / 8;
	long ret = __NR_io_uring_enter;
	asm volatile("syscall"
	             : "+a"(ret)
	             : "D"(static_cast<long>(fd)), "S"(static_cast<unsigned long>(to_submit)),
	               "d"(static_cast<unsigned long>(min_complete)), "r"(a4), "r"(a5), "r"(a6)
	             : "rcx", "r11", "memory");
	return static_cast<int>(ret);
#else
	// syscall() reads its variadic arguments as longs.
	long ret = ::syscall(__NR_io_uring_enter, static_cast<long>(fd),
	                     static_cast<unsigned long>(to_submit),
	                     static_cast<unsigned long>(min_complete),
	                     static_cast<unsigned long>(flags), nullptr, static_cast<long>(_NSIG / 8));
	return ret < 0 ? -errno : static_cast<int>(ret);
#endif
}

} // namespace zcuring::detail
