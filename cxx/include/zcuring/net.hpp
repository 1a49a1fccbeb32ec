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
class accept_stream {
	struct state final : detail::multishot {
		state(ring &r, int fd) : multishot(r), lfd(fd) {}
		void prep(io_uring_sqe *s) override
		{
			io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_CLOEXEC);
		}
		void drop(const cqe &e, bool) noexcept override
		{
			if (e.res >= 0)
				::close(e.res);
		}
		int lfd;
	};

public:
	// What next() returns: co_await gives a connection or an error.
	class [[nodiscard]] next_op : public detail::next_awaiter<next_op, state> {
	public:
		using detail::next_awaiter<next_op, state>::next_awaiter;
		result<unique_fd> await_resume() noexcept
		{
			if (auto ec = this->wait_error())
				return ec;
			cqe e = this->s_->pop();
			if (e.res < 0)
				return errno_code(-e.res);
			return unique_fd(e.res);
		}

	private:
		friend class detail::next_awaiter<next_op, state>;
		bool at_end() const noexcept { return false; }
		void start() { this->s_->arm(); }
	};

	accept_stream(ring &r, int listen_fd) : s_(new state(r, listen_fd)) {}

	next_op next() noexcept { return next_op(*s_); }

	// End the multishot request; pending next() calls see the result.
	void cancel() noexcept { s_->cancel(); }

private:
	detail::stream_handle<state> s_;
};

} // namespace zcuring
