// SPDX-License-Identifier: MIT
// result<T>: the value of an I/O operation or the std::error_code that says
// why there is none. No exceptions on the I/O path: value() throws only if
// the caller asks for a value that is not there.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace zcuring {

// Conditions of this library that errno does not name.
enum class errc {
	end_of_stream = 1, // a stream ended cleanly (EOF, or its byte limit)
	unsupported,       // the running kernel lacks the feature
};

namespace detail {
class errc_category final : public std::error_category {
public:
	const char *name() const noexcept override { return "zcuring"; }
	std::string message(int c) const override
	{
		switch (static_cast<errc>(c)) {
		case errc::end_of_stream:
			return "end of stream";
		case errc::unsupported:
			return "not supported by the running kernel";
		}
		return "unknown zcuring error";
	}
	std::error_condition default_error_condition(int c) const noexcept override
	{
		if (static_cast<errc>(c) == errc::unsupported)
			return std::errc::operation_not_supported;
		return {c, *this};
	}
};
} // namespace detail

inline const std::error_category &zcuring_category() noexcept
{
	static const detail::errc_category cat;
	return cat;
}

inline std::error_code make_error_code(errc e) noexcept
{
	return {static_cast<int>(e), zcuring_category()};
}

// An errno value (positive) as an error_code.
inline std::error_code errno_code(int err) noexcept
{
	return {err, std::system_category()};
}

template <class T>
class [[nodiscard]] result {
	static_assert(!std::is_reference_v<T>, "result holds values");

public:
	using value_type = T;

	result(T v) noexcept(std::is_nothrow_move_constructible_v<T>)
	    : v_(std::in_place_index<0>, std::move(v))
	{
	}
	result(std::error_code ec) noexcept : v_(std::in_place_index<1>, ec) {}
	result(errc e) noexcept : result(make_error_code(e)) {}

	bool has_value() const noexcept { return v_.index() == 0; }
	explicit operator bool() const noexcept { return has_value(); }

	// The error; a default (false) error_code when there is a value.
	std::error_code error() const noexcept
	{
		return has_value() ? std::error_code{} : std::get<1>(v_);
	}

	T &value() &
	{
		check();
		return std::get<0>(v_);
	}
	const T &value() const &
	{
		check();
		return std::get<0>(v_);
	}
	T &&value() &&
	{
		check();
		return std::get<0>(std::move(v_));
	}
	T &operator*() &noexcept { return *std::get_if<0>(&v_); }
	const T &operator*() const &noexcept { return *std::get_if<0>(&v_); }
	T &&operator*() &&noexcept { return std::move(*std::get_if<0>(&v_)); }
	T *operator->() noexcept { return std::get_if<0>(&v_); }
	const T *operator->() const noexcept { return std::get_if<0>(&v_); }

	template <class U>
	T value_or(U &&alt) const &
	{
		return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(alt));
	}

private:
	void check() const
	{
		if (!has_value())
			throw std::system_error(std::get<1>(v_));
	}

	std::variant<T, std::error_code> v_;
};

template <>
class [[nodiscard]] result<void> {
public:
	using value_type = void;

	result() noexcept = default;
	result(std::error_code ec) noexcept : ec_(ec) {}
	result(errc e) noexcept : ec_(make_error_code(e)) {}

	bool has_value() const noexcept { return !ec_; }
	explicit operator bool() const noexcept { return has_value(); }
	std::error_code error() const noexcept { return ec_; }
	void value() const
	{
		if (ec_)
			throw std::system_error(ec_);
	}

private:
	std::error_code ec_;
};

// A kernel result (>= 0 or -errno) as a result<T>.
template <class T>
result<T> from_res(int res) noexcept
{
	if (res < 0)
		return errno_code(-res);
	return static_cast<T>(res);
}

template <>
inline result<void> from_res<void>(int res) noexcept
{
	if (res < 0)
		return errno_code(-res);
	return {};
}

} // namespace zcuring

template <>
struct std::is_error_code_enum<zcuring::errc> : std::true_type {
};
