// SPDX-License-Identifier: MIT
// Registered resources of a ring: fixed buffers (IORING_REGISTER_BUFFERS)
// and fixed files (IORING_REGISTER_FILES). Each is registered by its
// constructor and unregistered by its destructor; a ring has at most one
// of each at a time.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <system_error>
#include <vector>

#include <zcuring/ops.hpp>

namespace zcuring {

class fixed_buffers {
public:
	// Register @bufs; buffer i is then index i of the *_fixed operations.
	fixed_buffers(ring &r, std::span<const std::span<std::byte>> bufs) : r_(r)
	{
		std::vector<iovec> iov;
		iov.reserve(bufs.size());
		for (auto b : bufs)
			iov.push_back({b.data(), b.size()});
		int ret = io_uring_register_buffers(r.native(), iov.data(),
		                                    static_cast<unsigned>(iov.size()));
		if (ret < 0)
			throw std::system_error(errno_code(-ret), "IORING_REGISTER_BUFFERS");
	}
	fixed_buffers(const fixed_buffers &) = delete;
	fixed_buffers &operator=(const fixed_buffers &) = delete;
	~fixed_buffers() { io_uring_unregister_buffers(r_.native()); }

private:
	ring &r_;
};

class fixed_files {
public:
	// A table of @n empty slots (-1 each).
	fixed_files(ring &r, unsigned n) : r_(r)
	{
		std::vector<int> fds(n, -1);
		reg(fds);
	}
	// A table holding @fds (the ring takes its own reference to each).
	fixed_files(ring &r, std::span<const int> fds) : r_(r) { reg(fds); }
	fixed_files(const fixed_files &) = delete;
	fixed_files &operator=(const fixed_files &) = delete;
	~fixed_files() { io_uring_unregister_files(r_.native()); }

	// Put @fd in slot @index (-1 empties it).
	result<void> set(unsigned index, int fd) noexcept
	{
		int ret = io_uring_register_files_update(r_.native(), index, &fd, 1);
		return from_res<void>(ret < 0 ? ret : 0);
	}

private:
	void reg(std::span<const int> fds)
	{
		int ret = io_uring_register_files(r_.native(), fds.data(),
		                                  static_cast<unsigned>(fds.size()));
		if (ret < 0)
			throw std::system_error(errno_code(-ret), "IORING_REGISTER_FILES");
	}

	ring &r_;
};

} // namespace zcuring
