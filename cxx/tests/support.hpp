// SPDX-License-Identifier: MIT
// Test helpers: connected TCP pairs made with plain syscalls (so a test of
// an operation does not depend on the operations it tests), and a byte
// pattern that tells every byte's position in a stream.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>
#include <thread>
#include <algorithm>

#include <zcuring/net.hpp>

namespace zctest {

struct tcp_pair {
	zcuring::unique_fd a; // the connecting side
	zcuring::unique_fd b; // the accepted side
};

// A connected pair over @addr (loopback by default).
inline tcp_pair make_pair(const std::string &addr = "127.0.0.1")
{
	auto l = zcuring::tcp_listen(zcuring::endpoint(addr, 0), 4);
	auto at = zcuring::endpoint::local_of(l.get());
	auto a = zcuring::tcp_socket(at.family());
	if (::connect(a.get(), at.data(), at.size()))
		throw std::system_error(errno, std::system_category(), "connect");
	int b = ::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC);
	if (b < 0)
		throw std::system_error(errno, std::system_category(), "accept");
	return {std::move(a), zcuring::unique_fd(b)};
}

// Byte @pos of stream @seed.
inline std::byte pattern(std::uint64_t seed, std::uint64_t pos)
{
	std::uint64_t x = (pos / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;
	x ^= x >> 29;
	return static_cast<std::byte>(x >> (8 * (pos % 8)));
}

inline void fill(std::span<std::byte> buf, std::uint64_t seed, std::uint64_t pos)
{
	for (std::size_t i = 0; i < buf.size(); i++)
		buf[i] = pattern(seed, pos + i);
}

// Write @total bytes of stream @seed (fill()) to @fd from a thread, then
// close it; a send that fails ends the thread early.
inline std::thread writer(zcuring::unique_fd fd, std::size_t total, std::uint64_t seed)
{
	return std::thread([fd = std::move(fd), total, seed]() mutable {
		std::vector<std::byte> buf(65536);
		for (std::size_t off = 0; off < total;) {
			std::size_t len = std::min(buf.size(), total - off);
			fill(std::span(buf).first(len), seed, off);
			ssize_t n = ::send(fd.get(), buf.data(), len, MSG_NOSIGNAL);
			if (n <= 0)
				return;
			off += static_cast<std::size_t>(n);
		}
	});
}

// The offset of the first byte that is wrong, or -1.
inline long long check(std::span<const std::byte> buf, std::uint64_t seed, std::uint64_t pos)
{
	for (std::size_t i = 0; i < buf.size(); i++)
		if (buf[i] != pattern(seed, pos + i))
			return static_cast<long long>(i);
	return -1;
}

// Queue stream @seed on connected TCP socket @fd, without blocking, until
// the socket takes no more and stays so for 100 ms (the peer does not
// read: its window is closed); returns the bytes queued. Small buffers on
// both sides make that quick.
inline std::size_t fill_until_full(int fd, int peer, std::uint64_t seed)
{
	int small = 4096;
	::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	std::byte chunk[1024];
	std::size_t pos = 0;
	for (;;) {
		fill(chunk, seed, pos);
		ssize_t n = ::send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				throw std::system_error(errno, std::system_category(), "send");
			pollfd pf{fd, POLLOUT, 0};
			if (::poll(&pf, 1, 100) == 0)
				return pos;
			continue;
		}
		pos += static_cast<std::size_t>(n);
	}
}

// Open descriptors of this process, to see that nothing leaks.
inline int open_fds()
{
	int n = 0;
	DIR *d = ::opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (::readdir(d))
		n++;
	::closedir(d);
	return n;
}

} // namespace zctest
