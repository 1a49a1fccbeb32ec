// SPDX-License-Identifier: MIT
// receiver: zero-copy receive where the kernel can, receive into provided
// buffers where not, picked at run time in one line:
//
//   zcuring::receiver rx(r);                    // a zcrx, or a buf_pool
//   auto in = rx.receive(fd);                   // any_rx_stream
//   while (auto c = co_await in.next())         // result<any_chunk>
//           use(c->data());
//   // rx.zero_copy(): which one; rx.fallback_reason(): why not zero copy
//
// Zero copy is taken when probe() says the kernel has the mode asked for
// (device-less, or device mode with receiver_options::zero_copy.if_index),
// the ring has 32-byte CQEs (ring_options::cqe32) and DEFER_TASKRUN, and
// the zcrx registers; anything else takes the fallback and says why. The
// streams, chunks and their lifetimes are those of recv_zc.hpp and
// recv_buf.hpp: a chunk gives its memory back when destroyed, and may
// outlive its stream and the receiver.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include <zcuring/errors.hpp>
#include <zcuring/features.hpp>
#include <zcuring/recv_buf.hpp>
#include <zcuring/recv_zc.hpp>

namespace zcuring {

struct receiver_options {
	zcrx_options zero_copy{}; // for the zcrx, when zero copy is taken
	buf_pool_options copy{};  // for the buf_pool, when not
	// false: always the fallback (to compare the two, or to test it).
	bool allow_zero_copy = true;
};

// A chunk of either kind: pool memory of a zcrx, or a provided buffer.
class any_chunk {
public:
	any_chunk(chunk c) noexcept : c_(std::in_place_index<0>, std::move(c)) {}
	any_chunk(buf_chunk c) noexcept : c_(std::in_place_index<1>, std::move(c)) {}
	any_chunk(any_chunk &&) noexcept = default;
	any_chunk &operator=(any_chunk &&) noexcept = default;

	std::span<const std::byte> data() const noexcept
	{
		if (auto *z = std::get_if<0>(&c_))
			return z->data();
		return std::get_if<1>(&c_)->data();
	}
	std::size_t size() const noexcept
	{
		if (auto *z = std::get_if<0>(&c_))
			return z->size();
		return std::get_if<1>(&c_)->size();
	}
	// Give the memory back now.
	void reset() noexcept
	{
		if (auto *z = std::get_if<0>(&c_))
			z->reset();
		else
			std::get_if<1>(&c_)->reset();
	}
	// The zero-copy chunk (for chunk::pool_offset()), or null.
	const chunk *zero_copy() const noexcept { return std::get_if<0>(&c_); }
	const buf_chunk *copied() const noexcept { return std::get_if<1>(&c_); }

private:
	std::variant<chunk, buf_chunk> c_;
};

// One socket's receive, zero copy or not, as a stream of any_chunk.
class any_rx_stream {
	template <class F>
	decltype(auto) visit(F f) const noexcept
	{
		if (auto *z = std::get_if<0>(&s_))
			return f(*z);
		return f(*std::get_if<1>(&s_));
	}

public:
	any_rx_stream(rx_stream s) noexcept : s_(std::in_place_index<0>, std::move(s)) {}
	any_rx_stream(buf_stream s) noexcept : s_(std::in_place_index<1>, std::move(s)) {}
	any_rx_stream(any_rx_stream &&) noexcept = default;
	any_rx_stream &operator=(any_rx_stream &&) noexcept = default;

	// What next() returns: co_await gives the next chunk; at the end,
	// errc::end_of_stream or the error that ended the request, as
	// rx_stream::next() and buf_stream::next(), with the same .timeout()
	// and .stop_with().
	class [[nodiscard]] next_op {
	public:
		explicit next_op(rx_stream::next_op &&a) noexcept
		    : a_(std::in_place_index<0>, std::move(a))
		{
		}
		explicit next_op(buf_stream::next_op &&a) noexcept
		    : a_(std::in_place_index<1>, std::move(a))
		{
		}
		next_op(next_op &&) noexcept = default;

		next_op &&stop_with(const std::stop_token &st) &&noexcept
		{
			if (auto *z = std::get_if<0>(&a_))
				(void)std::move(*z).stop_with(st);
			else
				(void)std::move(*std::get_if<1>(&a_)).stop_with(st);
			return std::move(*this);
		}
		template <class Rep, class Period>
		next_op &&timeout(std::chrono::duration<Rep, Period> d) &&noexcept
		{
			if (auto *z = std::get_if<0>(&a_))
				(void)std::move(*z).timeout(d);
			else
				(void)std::move(*std::get_if<1>(&a_)).timeout(d);
			return std::move(*this);
		}

		bool await_ready()
		{
			if (auto *z = std::get_if<0>(&a_))
				return z->await_ready();
			return std::get_if<1>(&a_)->await_ready();
		}
		void await_suspend(std::coroutine_handle<> h)
		{
			if (auto *z = std::get_if<0>(&a_))
				z->await_suspend(h);
			else
				std::get_if<1>(&a_)->await_suspend(h);
		}
		result<any_chunk> await_resume() noexcept
		{
			if (auto *z = std::get_if<0>(&a_))
				return convert(z->await_resume());
			return convert(std::get_if<1>(&a_)->await_resume());
		}

	private:
		template <class C>
		static result<any_chunk> convert(result<C> &&r) noexcept
		{
			if (!r)
				return r.error();
			return any_chunk(std::move(*r));
		}

		std::variant<rx_stream::next_op, buf_stream::next_op> a_;
	};

	next_op next() noexcept
	{
		if (auto *z = std::get_if<0>(&s_))
			return next_op(z->next());
		return next_op(std::get_if<1>(&s_)->next());
	}

	// Why the stream ended: errc::end_of_stream, or an error.
	std::error_code status() const noexcept
	{
		return visit([](auto &s) { return s.status(); });
	}
	bool eof() const noexcept
	{
		return visit([](auto &s) { return s.eof(); });
	}
	std::size_t bytes() const noexcept
	{
		return visit([](auto &s) { return s.bytes(); });
	}
	// Times the request was started again.
	std::uint64_t rearms() const noexcept
	{
		return visit([](auto &s) { return s.rearms(); });
	}
	// End the request early; next() then returns its final result.
	void cancel() noexcept
	{
		if (auto *z = std::get_if<0>(&s_))
			z->cancel();
		else
			std::get_if<1>(&s_)->cancel();
	}

	bool zero_copy() const noexcept { return s_.index() == 0; }

private:
	std::variant<rx_stream, buf_stream> s_;
};

// Zero-copy receive if it can be had here, else receive into provided
// buffers. Throws only what buf_pool's constructor throws (the fallback
// itself failing); zero copy that cannot be had is fallback_reason().
class receiver {
public:
	explicit receiver(ring &r, const receiver_options &o = {})
	{
		if (!o.allow_zero_copy) {
			why_ = "zero copy not allowed (receiver_options::allow_zero_copy)";
			why_code_ = make_error_code(std::errc::operation_not_permitted);
		} else if (!r.cqe32()) {
			why_ = "zero-copy receive needs a ring with 32-byte CQEs (ring_options::cqe32)";
			why_code_ = make_error_code(std::errc::invalid_argument);
		} else {
			features f = probe(r);
			bool can = o.zero_copy.if_index ? f.zcrx != zcrx_support::none
			                                : f.zcrx == zcrx_support::device_and_copy;
			if (!can) {
				why_ = f.recv_zc_why;
				why_code_ = make_error_code(errc::unsupported);
			} else if (!f.zcrx_permitted) {
				why_ = f.recv_zc_why;
				why_code_ = make_error_code(std::errc::operation_not_permitted);
			} else {
				try {
					zc_.emplace(r, o.zero_copy);
					return;
				} catch (const std::system_error &e) {
					why_ = e.what();
					why_code_ = e.code();
				}
			}
		}
		bufs_.emplace(r, o.copy);
	}
	receiver(const receiver &) = delete;
	receiver &operator=(const receiver &) = delete;

	// Receive from TCP socket @fd (zcrx::receive() may throw
	// recv_errc::pool_too_small).
	any_rx_stream receive(int fd)
	{
		if (zc_)
			return zc_->receive(fd);
		return bufs_->receive(fd);
	}

	// Zero copy (a zcrx), or the fallback (a buf_pool).
	bool zero_copy() const noexcept { return zc_.has_value(); }
	// Why not zero copy (empty when it is), and as a code:
	// errc::unsupported for a kernel without the mode, else the error of
	// the zcrx that could not be had.
	const std::string &fallback_reason() const noexcept { return why_; }
	std::error_code fallback_error() const noexcept { return why_code_; }
	// The one in use; the other is null.
	zcrx *zcrx_pool() noexcept { return zc_ ? &*zc_ : nullptr; }
	buf_pool *buffers() noexcept { return bufs_ ? &*bufs_ : nullptr; }
	// Memory received and not given back (chunks alive, CQEs queued).
	std::uint64_t outstanding() const noexcept
	{
		return zc_ ? zc_->outstanding() : bufs_->outstanding();
	}

private:
	std::optional<zcrx> zc_;
	std::optional<buf_pool> bufs_;
	std::string why_;
	std::error_code why_code_;
};

} // namespace zcuring
