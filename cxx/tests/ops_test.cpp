// SPDX-License-Identifier: MIT
// File operations, registered buffers and files, error results.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "support.hpp"
#include <zcuring/buffers.hpp>
#include <zcuring/ops.hpp>

using namespace zcuring;

namespace {
unique_fd temp_file()
{
	char name[] = "/tmp/zcuring-cxx-XXXXXX";
	int fd = ::mkstemp(name);
	REQUIRE(fd >= 0);
	::unlink(name);
	return unique_fd(fd);
}
} // namespace

TEST_CASE("write then read a file at offsets", "[ops][file]")
{
	ring r;
	auto f = temp_file();
	std::vector<std::byte> out(10000), in(10000);
	zctest::fill(out, 1, 0);
	r.run([&]() -> task<void> {
		auto w = co_await async_write(r, f.get(), out, 4096);
		REQUIRE(w);
		REQUIRE(*w == out.size());
		auto rd = co_await async_read(r, f.get(), in, 4096);
		REQUIRE(rd);
		REQUIRE(*rd == in.size());
		// Past the end: 0 bytes.
		auto eof = co_await async_read(r, f.get(), in, 1 << 20);
		REQUIRE(*eof == 0);
	}());
	REQUIRE(zctest::check(in, 1, 0) == -1);
}

TEST_CASE("registered buffers and registered files", "[ops][fixed]")
{
	ring r;
	auto f = temp_file();
	std::vector<std::byte> a(8192), b(8192);
	zctest::fill(a, 2, 0);
	std::array<std::span<std::byte>, 2> bufs{std::span(a), std::span(b)};
	fixed_buffers reg(r, bufs);
	int raw = f.get();
	fixed_files files(r, std::span<const int>(&raw, 1));
	r.run([&]() -> task<void> {
		auto w = co_await async_write_fixed(r, fixed_file{0}, std::span(a), 0, 0);
		REQUIRE(*w == a.size());
		auto rd = co_await async_read_fixed(r, fixed_file{0}, std::span(b), 0, 1);
		REQUIRE(*rd == b.size());
		// A buffer outside the registered one is refused.
		std::byte other[64];
		auto bad = co_await async_read_fixed(r, fixed_file{0}, std::span(other), 0, 0);
		REQUIRE(bad.error() == std::errc::bad_address);
	}());
	REQUIRE(zctest::check(b, 2, 0) == -1);
}

TEST_CASE("a fixed file slot can be changed and closed", "[ops][fixed]")
{
	ring r;
	auto p = zctest::make_pair();
	fixed_files files(r, 4);
	REQUIRE(files.set(2, p.a.get()));
	REQUIRE(!files.set(9, p.a.get()));
	r.run([&]() -> task<void> {
		const char msg[] = "fixed";
		auto s = co_await async_send(r, fixed_file{2}, std::as_bytes(std::span(msg)));
		REQUIRE(*s == sizeof(msg));
		auto closed = co_await async_close(r, fixed_file{2});
		INFO(closed.error().message());
		REQUIRE(closed);
		auto gone = co_await async_send(r, fixed_file{2}, std::as_bytes(std::span(msg)));
		REQUIRE(gone.error() == std::errc::bad_file_descriptor);
	}());
	char in[16] = {};
	REQUIRE(::recv(p.b.get(), in, sizeof(in), 0) == 6);
}

TEST_CASE("bad descriptors give errors and no exceptions", "[ops][errors]")
{
	ring r;
	r.run([&]() -> task<void> {
		std::byte buf[8];
		auto a = co_await async_recv(r, 1000000, buf);
		REQUIRE(a.error() == std::errc::bad_file_descriptor);
		auto b = co_await async_read(r, -1, buf, 0);
		REQUIRE(b.error() == std::errc::bad_file_descriptor);
		auto c = co_await async_close(r, 1000000);
		REQUIRE(c.error() == std::errc::bad_file_descriptor);
	}());
}
