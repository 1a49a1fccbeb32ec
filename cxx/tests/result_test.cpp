// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <memory>

#include <zcuring/result.hpp>

using zcuring::errc;
using zcuring::result;

TEST_CASE("result holds a value or an error_code", "[result]")
{
	result<int> ok = 5;
	REQUIRE(ok);
	REQUIRE(*ok == 5);
	REQUIRE(ok.value() == 5);
	REQUIRE(!ok.error());

	result<int> bad = zcuring::errno_code(EBADF);
	REQUIRE(!bad);
	REQUIRE(bad.error() == std::errc::bad_file_descriptor);
	REQUIRE(bad.value_or(7) == 7);
	REQUIRE_THROWS_AS(bad.value(), std::system_error);
}

TEST_CASE("result carries move-only values", "[result]")
{
	result<std::unique_ptr<int>> r = std::make_unique<int>(3);
	REQUIRE(r);
	auto p = std::move(r).value();
	REQUIRE(*p == 3);
}

TEST_CASE("kernel results map to errno codes", "[result]")
{
	REQUIRE(*zcuring::from_res<std::size_t>(42) == 42);
	REQUIRE(zcuring::from_res<std::size_t>(-ECONNRESET).error() == std::errc::connection_reset);
	REQUIRE(zcuring::from_res<void>(0));
	REQUIRE(zcuring::from_res<void>(-EINVAL).error() == std::errc::invalid_argument);
}

TEST_CASE("zcuring conditions have their own category", "[result]")
{
	result<void> eos = errc::end_of_stream;
	REQUIRE(eos.error() == errc::end_of_stream);
	REQUIRE(eos.error().message() == "end of stream");
	std::error_code unsup = errc::unsupported;
	// An application may test for the portable condition.
	REQUIRE(unsup == std::errc::operation_not_supported);
}
