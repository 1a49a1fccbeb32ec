// SPDX-License-Identifier: MIT
// Sockets: an owning descriptor, IPv4/IPv6 endpoints, listening and
// connecting helpers, and multishot accept as a stream of connections.
// Setting a socket up may throw (setup errors); I/O returns result<>.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include <zcuring/ops.hpp>
#include <zcuring/stream.hpp>

namespace zcuring {

// A descriptor that is closed when the object goes away.
class unique_fd {
public:
	unique_fd() = default;
	explicit unique_fd(int fd) noexcept : fd_(fd) {}
	unique_fd(unique_fd &&o) noexcept : fd_(o.release()) {}
	unique_fd &operator=(unique_fd &&o) noexcept
	{
		if (this != &o)
			reset(o.release());
		return *this;
	}
	~unique_fd() { reset(); }

	int get() const noexcept { return fd_; }
	explicit operator bool() const noexcept { return fd_ >= 0; }
	int release() noexcept { return std::exchange(fd_, -1); }
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}

private:
	int fd_ = -1;
};

// A direct descriptor (a slot of the ring's fixed file table, see
// ring_options::fixed_files) that is freed when the object goes away, as
// unique_fd closes a descriptor. Operations take get() (a fixed_file):
// the kernel then looks no file up per request. It may outlive its ring
// (lifetime rule 4): the ring's destructor, which closes every direct
// descriptor, detaches it and it then frees nothing.
class unique_fixed_file : private detail::ring_node {
public:
	unique_fixed_file() noexcept { destroy_with_ring = &detach; }
	// Own slot @index of @r's table.
	unique_fixed_file(ring &r, unsigned index) noexcept : r_(&r), index_(index)
	{
		destroy_with_ring = &detach;
		r.adopt(this);
	}
	unique_fixed_file(unique_fixed_file &&o) noexcept : unique_fixed_file() { take(o); }
	unique_fixed_file &operator=(unique_fixed_file &&o) noexcept
	{
		if (this != &o) {
			reset();
			take(o);
		}
		return *this;
	}
	~unique_fixed_file() { reset(); }

	fixed_file get() const noexcept { return {index_}; }
	explicit operator bool() const noexcept { return r_ != nullptr; }
	// Free the slot now (a synchronous files update: one syscall per
	// connection, none per request).
	void reset() noexcept
	{
		if (!r_)
			return;
		int none = -1;
		(void)io_uring_register_files_update(r_->native(), index_, &none, 1);
		node_list::unlink(this);
		r_ = nullptr;
	}

private:
	using node_list = detail::node_list;
	static void detach(detail::ring_node *n) noexcept
	{
		static_cast<unique_fixed_file *>(n)->r_ = nullptr;
	}
	void take(unique_fixed_file &o) noexcept
	{
		if (!o.r_)
			return;
		r_ = o.r_;
		index_ = o.index_;
		node_list::unlink(&o);
		o.r_ = nullptr;
		r_->adopt(this);
	}

	ring *r_ = nullptr;
	unsigned index_ = 0;
};

// An IPv4 or IPv6 address and port.
class endpoint {
public:
	endpoint() { std::memset(&ss_, 0, sizeof(ss_)); }

	// A numeric address ("127.0.0.1", "fd00::1"); throws on garbage.
	endpoint(const std::string &addr, std::uint16_t port) : endpoint()
	{
		auto *v4 = reinterpret_cast<sockaddr_in *>(&ss_);
		auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss_);
		if (::inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons(port);
			len_ = sizeof(*v4);
		} else if (::inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons(port);
			len_ = sizeof(*v6);
		} else {
			throw std::system_error(std::make_error_code(std::errc::invalid_argument),
			                        "not a numeric address: " + addr);
		}
	}

	// The local address of socket @fd.
	static endpoint local_of(int fd)
	{
		endpoint e;
		e.len_ = sizeof(e.ss_);
		if (::getsockname(fd, e.data(), &e.len_))
			throw std::system_error(errno_code(errno), "getsockname");
		return e;
	}

	int family() const noexcept { return ss_.ss_family; }
	std::uint16_t port() const noexcept
	{
		if (family() == AF_INET)
			return ntohs(reinterpret_cast<const sockaddr_in *>(&ss_)->sin_port);
		return ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss_)->sin6_port);
	}
	const sockaddr *data() const noexcept { return reinterpret_cast<const sockaddr *>(&ss_); }
	sockaddr *data() noexcept { return reinterpret_cast<sockaddr *>(&ss_); }
	socklen_t size() const noexcept { return len_; }

private:
	sockaddr_storage ss_;
	socklen_t len_ = 0;
};

// A TCP socket of @family, close-on-exec.
inline unique_fd tcp_socket(int family)
{
	int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw std::system_error(errno_code(errno), "socket");
	return unique_fd(fd);
}

inline void set_option(int fd, int level, int name, int value)
{
	if (::setsockopt(fd, level, name, &value, sizeof(value)))
		throw std::system_error(errno_code(errno), "setsockopt");
}

// A listening TCP socket on @at (port 0: any; see endpoint::local_of).
inline unique_fd tcp_listen(const endpoint &at, int backlog = 512)
{
	unique_fd fd = tcp_socket(at.family());
	set_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1);
	if (::bind(fd.get(), at.data(), at.size()))
		throw std::system_error(errno_code(errno), "bind");
	if (::listen(fd.get(), backlog))
		throw std::system_error(errno_code(errno), "listen");
	return fd;
}

template <file_ref F>
auto async_connect(ring &r, F f, const endpoint &to) noexcept
{
	return async_connect(r, f, to.data(), to.size());
}

// Multishot accept (IORING_ACCEPT_MULTISHOT) as a stream:
//   accept_stream conns(r, listener.get());
//   while (auto c = co_await conns.next()) r.spawn(serve(std::move(*c)));
// An error ends the request and comes back once; next() re-arms.
// next() takes .timeout() and .stop_with() (operation.hpp): they end the
// wait, not the request; a connection accepted meanwhile is the next
// call's.
//
// accept_direct_stream is the same into direct descriptors: the kernel
// installs each connection in a free slot of the ring's fixed file table
// (ring_options::fixed_files) and next() gives a unique_fixed_file. Use it
// when r.fixed_files() is not 0. With the table full the kernel closes the
// connection it took and ends the request with -ENFILE (next() re-arms):
// size the table for the connections you keep.
template <bool Direct>
class basic_accept_stream {
	using conn_type = std::conditional_t<Direct, unique_fixed_file, unique_fd>;

	struct state final : detail::multishot {
		state(ring &r, int fd) : multishot(r), lfd(fd) {}
		void prep(io_uring_sqe *s) override
		{
			if constexpr (Direct)
				io_uring_prep_multishot_accept_direct(s, lfd, nullptr, nullptr, 0);
			else
				io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_CLOEXEC);
		}
		void drop(const cqe &e, bool) noexcept override
		{
			if (e.res < 0)
				return;
			if constexpr (Direct) {
				// Free the slot; nothing to do once the ring has closed it.
				if (ring *r = owner_ring(); r && !r->closed()) {
					int none = -1;
					(void)io_uring_register_files_update(r->native(), unsigned(e.res),
									     &none, 1);
				}
			} else {
				::close(e.res);
			}
		}
		int lfd;
	};

public:
	// What next() returns: co_await gives a connection or an error.
	class [[nodiscard]] next_op : public detail::next_awaiter<next_op, state> {
	public:
		using detail::next_awaiter<next_op, state>::next_awaiter;
		result<conn_type> await_resume() noexcept
		{
			if (auto ec = this->wait_error())
				return ec;
			cqe e = this->s_->pop();
			if (e.res < 0)
				return errno_code(-e.res);
			if constexpr (Direct) {
				ring *r = this->s_->owner_ring();
				if (!r)
					return std::make_error_code(std::errc::bad_file_descriptor);
				return unique_fixed_file(*r, unsigned(e.res));
			} else {
				return unique_fd(e.res);
			}
		}

	private:
		friend class detail::next_awaiter<next_op, state>;
		bool at_end() const noexcept { return false; }
		void start() { this->s_->arm(); }
	};

	basic_accept_stream(ring &r, int listen_fd) : s_(new state(r, listen_fd)) {}

	next_op next() noexcept { return next_op(*s_); }

	// End the multishot request; pending next() calls see the result.
	void cancel() noexcept { s_->cancel(); }

private:
	detail::stream_handle<state> s_;
};

using accept_stream = basic_accept_stream<false>;
using accept_direct_stream = basic_accept_stream<true>;

} // namespace zcuring
