// SPDX-License-Identifier: MIT
// The single-shot operations: each async_* mirrors one io_uring_prep_*
// and returns an operation to co_await (see operation.hpp for timeouts and
// cancellation). Files are plain descriptors or fixed_file indexes.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <span>

#include <zcuring/operation.hpp>

namespace zcuring {

// An index into the ring's registered files (see fixed_files).
struct fixed_file {
	unsigned index;
};

template <class F>
concept file_ref = std::same_as<F, int> || std::same_as<F, fixed_file>;

namespace detail {
inline int raw_fd(int fd) noexcept
{
	return fd;
}
inline int raw_fd(fixed_file f) noexcept
{
	return static_cast<int>(f.index);
}
inline void mark_file(io_uring_sqe *, int) noexcept {}
inline void mark_file(io_uring_sqe *s, fixed_file) noexcept
{
	s->flags |= IOSQE_FIXED_FILE;
}
} // namespace detail

// Completes with nothing; for tests and for yielding to the kernel.
inline auto async_nop(ring &r) noexcept
{
	return make_operation<void>(r, [](io_uring_sqe *s) { io_uring_prep_nop(s); });
}

namespace detail {
struct sleep_conv {
	static result<void> convert(int res, std::uint32_t) noexcept
	{
		return from_res<void>(res == -ETIME ? 0 : res);
	}
};
} // namespace detail

// Completes after @d (IORING_OP_TIMEOUT).
template <class Rep, class Period>
auto async_sleep(ring &r, std::chrono::duration<Rep, Period> d) noexcept
{
	auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
	__kernel_timespec ts{ns / 1000000000, ns % 1000000000};
	// The timespec is read at submission, which is after the SQE is
	// prepped: keep it in the operation (the lambda) rather than here.
	return make_operation<void, detail::sleep_conv>(
	        r, [ts](io_uring_sqe *s) mutable { io_uring_prep_timeout(s, &ts, 0, 0); });
}

template <file_ref F>
auto async_read(ring &r, F f, std::span<std::byte> buf, std::uint64_t off) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_read(s, detail::raw_fd(f), buf.data(), buf.size(), off);
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_write(ring &r, F f, std::span<const std::byte> buf, std::uint64_t off) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_write(s, detail::raw_fd(f), buf.data(), buf.size(), off);
		detail::mark_file(s, f);
	});
}

// Read into, and write from, registered buffer @buf_index (buffers.hpp).
template <file_ref F>
auto async_read_fixed(ring &r, F f, std::span<std::byte> buf, std::uint64_t off,
                      unsigned buf_index) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_read_fixed(s, detail::raw_fd(f), buf.data(), buf.size(), off,
		                         static_cast<int>(buf_index));
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_write_fixed(ring &r, F f, std::span<const std::byte> buf, std::uint64_t off,
                       unsigned buf_index) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_write_fixed(s, detail::raw_fd(f), buf.data(), buf.size(), off,
		                          static_cast<int>(buf_index));
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_recv(ring &r, F f, std::span<std::byte> buf, int flags = 0) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_recv(s, detail::raw_fd(f), buf.data(), buf.size(), flags);
		detail::mark_file(s, f);
	});
}

// One send; it may be short. async_send_all waits for every byte.
template <file_ref F>
auto async_send(ring &r, F f, std::span<const std::byte> buf, int flags = 0) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_send(s, detail::raw_fd(f), buf.data(), buf.size(),
		                   flags | MSG_NOSIGNAL);
		detail::mark_file(s, f);
	});
}

// MSG_WAITALL: the kernel retries a short stream send itself.
template <file_ref F>
auto async_send_all(ring &r, F f, std::span<const std::byte> buf, int flags = 0) noexcept
{
	return async_send(r, f, buf, flags | MSG_WAITALL);
}

template <file_ref F>
auto async_sendmsg(ring &r, F f, const ::msghdr *msg, int flags = 0) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_sendmsg(s, detail::raw_fd(f), msg,
		                      static_cast<unsigned>(flags | MSG_NOSIGNAL));
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_recvmsg(ring &r, F f, ::msghdr *msg, int flags = 0) noexcept
{
	return make_operation<std::size_t>(r, [=](io_uring_sqe *s) {
		io_uring_prep_recvmsg(s, detail::raw_fd(f), msg, static_cast<unsigned>(flags));
		detail::mark_file(s, f);
	});
}

// A new connection's descriptor; @peer/@len may be null.
template <file_ref F>
auto async_accept(ring &r, F f, ::sockaddr *peer = nullptr, ::socklen_t *len = nullptr,
                  int flags = SOCK_CLOEXEC) noexcept
{
	return make_operation<int>(r, [=](io_uring_sqe *s) {
		io_uring_prep_accept(s, detail::raw_fd(f), peer, len, flags);
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_connect(ring &r, F f, const ::sockaddr *addr, ::socklen_t len) noexcept
{
	return make_operation<void>(r, [=](io_uring_sqe *s) {
		io_uring_prep_connect(s, detail::raw_fd(f), addr, len);
		detail::mark_file(s, f);
	});
}

template <file_ref F>
auto async_shutdown(ring &r, F f, int how = SHUT_WR) noexcept
{
	return make_operation<void>(r, [=](io_uring_sqe *s) {
		io_uring_prep_shutdown(s, detail::raw_fd(f), how);
		detail::mark_file(s, f);
	});
}

// Close a descriptor, or (fixed_file) free a registered file slot.
inline auto async_close(ring &r, int fd) noexcept
{
	return make_operation<void>(r, [=](io_uring_sqe *s) { io_uring_prep_close(s, fd); });
}
inline auto async_close(ring &r, fixed_file f) noexcept
{
	return make_operation<void>(
	        r, [=](io_uring_sqe *s) { io_uring_prep_close_direct(s, f.index); });
}

} // namespace zcuring
