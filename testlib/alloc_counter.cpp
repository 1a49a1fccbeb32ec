// SPDX-License-Identifier: GPL-2.0
/*
 * Heap allocation counter for the echo benchmark (scripts/bench-echo) and
 * the C++ echo example's allocation test (cxx/examples).
 * Link this translation unit into a C++ program (CMake: link the OBJECT
 * library zc_alloc_counter) and, without any change to the program:
 *
 *   - every replaceable global operator new / new[] (plain, nothrow,
 *     aligned, aligned nothrow) is counted (relaxed atomic) and forwards to
 *     malloc / posix_memalign; every operator delete forwards to free;
 *   - SIGUSR1 snapshots the count; SIGUSR2 writes
 *         allocations_in_window=<allocations since the SIGUSR1>
 *     to stderr with write(2) (the handlers are async-signal-safe);
 *   - zc_alloc_count() returns the count so far, for tests that measure
 *     a stretch of their own code.
 *
 * The program is not disturbed: the handlers run on a helper thread that
 * does nothing else, and SIGUSR1/SIGUSR2 are blocked in the thread that ran
 * the static initializers (main, and the threads it starts later inherit
 * that), so a blocking io_uring_enter() in the program never sees -EINTR
 * because of a measurement signal. If that thread cannot be started, the
 * handlers are installed with SA_RESTART and the signals left unblocked.
 */
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

using counter_t = unsigned long long;
static_assert(std::atomic<counter_t>::is_always_lock_free,
	      "the signal handlers read the counter: it must be lock-free");

constinit std::atomic<counter_t> allocations{0};
// Only the handlers touch this; each blocks the other while it runs.
constinit std::atomic<counter_t> window_start{0};

inline void count() noexcept
{
	allocations.fetch_add(1, std::memory_order_relaxed);
}

void *alloc(std::size_t n)
{
	count();
	if (n == 0)
		n = 1;
	for (;;) {
		if (void *p = std::malloc(n))
			return p;
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *alloc_aligned(std::size_t n, std::align_val_t al)
{
	std::size_t a = static_cast<std::size_t>(al);

	count();
	if (a < sizeof(void *))
		a = sizeof(void *);
	if (n == 0)
		n = 1;
	for (;;) {
		void *p = nullptr;

		if (posix_memalign(&p, a, n) == 0)
			return p;
		std::new_handler h = std::get_new_handler();
		if (!h)
			throw std::bad_alloc();
		h();
	}
}

void *alloc_nothrow(std::size_t n) noexcept
{
	try {
		return alloc(n);
	} catch (...) {
		return nullptr;
	}
}

void *alloc_aligned_nothrow(std::size_t n, std::align_val_t al) noexcept
{
	try {
		return alloc_aligned(n, al);
	} catch (...) {
		return nullptr;
	}
}

extern "C" void on_window_start(int)
{
	window_start.store(allocations.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

extern "C" void on_window_end(int)
{
	int saved_errno = errno;
	counter_t d = allocations.load(std::memory_order_relaxed) -
		      window_start.load(std::memory_order_relaxed);
	static const char prefix[] = "allocations_in_window=";
	char buf[sizeof(prefix) + 24];
	char digits[24];
	std::size_t len = sizeof(prefix) - 1, nd = 0;

	for (std::size_t i = 0; i < len; i++)
		buf[i] = prefix[i];
	do {
		digits[nd++] = static_cast<char>('0' + d % 10);
		d /= 10;
	} while (d);
	while (nd)
		buf[len++] = digits[--nd];
	buf[len++] = '\n';
	for (std::size_t off = 0; off < len;) {
		ssize_t w = write(STDERR_FILENO, buf + off, len - off);

		if (w > 0)
			off += static_cast<std::size_t>(w);
		else if (w < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	errno = saved_errno;
}

extern "C" void *signal_thread(void *)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
	for (;;)
		pause();
	return nullptr;
}

struct installer {
	installer() noexcept
	{
		struct sigaction sa = {};
		sigset_t both, old;
		pthread_attr_t attr;
		pthread_t tid;
		bool started = false;

		sigemptyset(&both);
		sigaddset(&both, SIGUSR1);
		sigaddset(&both, SIGUSR2);
		sa.sa_mask = both;
		sa.sa_flags = SA_RESTART;
		sa.sa_handler = on_window_start;
		sigaction(SIGUSR1, &sa, nullptr);
		sa.sa_handler = on_window_end;
		sigaction(SIGUSR2, &sa, nullptr);

		// Blocked here before the thread exists: it inherits the mask and
		// unblocks for itself; a signal sent meanwhile stays pending.
		pthread_sigmask(SIG_BLOCK, &both, &old);
		if (pthread_attr_init(&attr) == 0) {
			pthread_attr_setstacksize(&attr, 64 * 1024);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			started = pthread_create(&tid, &attr, signal_thread, nullptr) == 0;
			pthread_attr_destroy(&attr);
		}
		if (!started)
			pthread_sigmask(SIG_SETMASK, &old, nullptr);
	}
};

installer install_handlers;

} // namespace

extern "C" unsigned long long zc_alloc_count(void)
{
	return allocations.load(std::memory_order_relaxed);
}

void *operator new(std::size_t n) { return alloc(n); }
void *operator new[](std::size_t n) { return alloc(n); }
void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return alloc_nothrow(n); }
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return alloc_nothrow(n); }
void *operator new(std::size_t n, std::align_val_t al) { return alloc_aligned(n, al); }
void *operator new[](std::size_t n, std::align_val_t al) { return alloc_aligned(n, al); }
void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
	return alloc_aligned_nothrow(n, al);
}
void *operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
	return alloc_aligned_nothrow(n, al);
}

void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { std::free(p); }
