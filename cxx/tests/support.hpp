// SPDX-License-Identifier: MIT
// Test helpers: connected TCP pairs and pipes made with plain syscalls (so
// a test of an operation does not depend on the operations it tests), a
// byte pattern that tells every byte's position in a stream, and what VM
// tests need to find the e1000e pair or say they skip. recv_support.hpp
// receives and checks whole streams on a ring.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
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

struct pipe_fds {
	zcuring::unique_fd rd; // the read end
	zcuring::unique_fd wr; // the write end
};

inline pipe_fds make_pipe()
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC))
		throw std::system_error(errno, std::system_category(), "pipe2");
	return {zcuring::unique_fd(fds[0]), zcuring::unique_fd(fds[1])};
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

// Write @total bytes of stream @seed (fill()) to @fd from a thread, up to
// @block bytes a send, then close it; a send that fails ends the thread
// early.
inline std::thread writer(zcuring::unique_fd fd, std::size_t total, std::uint64_t seed,
                          std::size_t block = 65536)
{
	return std::thread([fd = std::move(fd), total, seed, block]() mutable {
		std::vector<std::byte> buf(block);
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

// The NIC holding IPv4 address @addr (the VM's e1000e pair: 10.7.0.1 and,
// in namespace zc-peer, 10.7.0.2): its index, and its name in @name; 0
// when there is none.
inline unsigned nic_with(const char *addr, std::string &name)
{
	ifaddrs *ifa = nullptr;
	unsigned idx = 0;
	if (::getifaddrs(&ifa))
		return 0;
	for (ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		char ip[INET_ADDRSTRLEN];
		::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(i->ifa_addr)->sin_addr, ip,
		            sizeof(ip));
		if (std::string(ip) == addr) {
			name = i->ifa_name;
			idx = ::if_nametoindex(i->ifa_name);
			break;
		}
	}
	::freeifaddrs(ifa);
	return idx;
}

// NIC @name has its carrier (the link is up).
inline bool carrier(const std::string &name)
{
	char c = '0';
	zcuring::unique_fd f(
	        ::open(("/sys/class/net/" + name + "/carrier").c_str(), O_RDONLY | O_CLOEXEC));
	return f && ::read(f.get(), &c, 1) == 1 && c == '1';
}

// Catch2 v2 has no skip: a case that cannot run here says why in its
// output, where catch-tap.sh finds it ("ZC_SKIP: reason"), and returns.
inline void skip(const std::string &why)
{
	std::printf("ZC_SKIP: %s\n", why.c_str());
	std::fflush(stdout);
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
