// SPDX-License-Identifier: MIT
// recv_errc: why a receive cannot start or go on, in this library's terms.
//
// The kernel answers zero-copy receive (and its registration) with bare
// errno values whose usual texts mislead here: "Protocol not supported"
// for a UDP socket, "Invalid argument" for a NIC that cannot split
// headers. The bindings turn them into these codes, whose messages say
// what went wrong and what would help. Each code is still equivalent to
// its errno condition, so `ec == std::errc::file_exists` keeps working:
//
//   if (in.status() == recv_errc::not_tcp) ...          // exactly this
//   if (in.status() == std::errc::protocol_not_supported) // its errno
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace zcuring {

enum class recv_errc {
	// The descriptor given to receive() ...
	not_a_socket = 1, // ... is no socket (ENOTSOCK)
	not_tcp,          // ... is no plain TCP socket: UDP, UNIX, or TCP
	                  //     taken over by kTLS or sockmap (EPROTONOSUPPORT)
	not_connected,    // ... is not connected, or listens (ENOTCONN)
	// The pool ran dry while the application held none of it: partly
	// filled chunks of the pool's other streams hold all of it
	// (ENOMEM, ENOBUFS).
	pool_too_small,
	// Device mode (zcrx_options::if_index) on a device that cannot:
	no_such_device,     // no interface with that index (ENODEV)
	device_unsupported, // its driver cannot fill a queue from a pool, or
	                    // this kernel has no device mode (EOPNOTSUPP)
	no_header_split,    // it cannot split headers from payload now (EINVAL)
	no_such_queue,      // no receive queue with that number (ERANGE)
	queue_busy,         // the queue is another instance's (EEXIST)
};

namespace detail {

class recv_category final : public std::error_category {
public:
	const char *name() const noexcept override { return "zcuring.recv"; }
	std::string message(int c) const override
	{
		switch (static_cast<recv_errc>(c)) {
		case recv_errc::not_a_socket:
			return "zero-copy receive needs a TCP socket: this descriptor is no socket";
		case recv_errc::not_tcp:
			return "zero-copy receive needs a plain TCP socket (not UDP or UNIX, "
			       "not TCP under kTLS or sockmap)";
		case recv_errc::not_connected:
			return "zero-copy receive needs a connected TCP socket (this one is "
			       "not connected, or listens)";
		case recv_errc::pool_too_small:
			return "the receive pool is too small for its streams: it ran dry "
			       "with none of it held by the application";
		case recv_errc::no_such_device:
			return "no network interface with that index";
		case recv_errc::device_unsupported:
			return "the NIC's driver cannot fill a receive queue "
			       "from a pool (lo, veth, virtio-net...), or this kernel has no "
			       "device mode for it";
		case recv_errc::no_header_split:
			return "the NIC cannot split headers from payload now "
			       "(e1000e: MTU 1500 or less, rx-checksumming off)";
		case recv_errc::no_such_queue:
			return "the NIC has no receive queue with that number";
		case recv_errc::queue_busy:
			return "the receive queue is bound to another zero-copy receive instance";
		}
		return "unknown zcuring receive error";
	}
	std::error_condition default_error_condition(int c) const noexcept override
	{
		switch (static_cast<recv_errc>(c)) {
		case recv_errc::not_a_socket:
			return std::errc::not_a_socket;
		case recv_errc::not_tcp:
			return std::errc::protocol_not_supported;
		case recv_errc::not_connected:
			return std::errc::not_connected;
		case recv_errc::pool_too_small:
			return std::errc::not_enough_memory;
		case recv_errc::no_such_device:
			return std::errc::no_such_device;
		case recv_errc::device_unsupported:
			return std::errc::operation_not_supported;
		case recv_errc::no_header_split:
			return std::errc::invalid_argument;
		case recv_errc::no_such_queue:
			return std::errc::result_out_of_range;
		case recv_errc::queue_busy:
			return std::errc::file_exists;
		}
		return {c, *this};
	}
};

} // namespace detail

inline const std::error_category &recv_category() noexcept
{
	static const detail::recv_category cat;
	return cat;
}

inline std::error_code make_error_code(recv_errc e) noexcept
{
	return {static_cast<int>(e), recv_category()};
}

namespace detail {

// A receive request's final -errno (RECV_ZC, or recv into provided
// buffers) as the code a stream reports: the socket errors in this
// library's terms, anything else as its errno.
inline std::error_code recv_error(int err) noexcept
{
	switch (err) {
	case ENOTSOCK:
		return make_error_code(recv_errc::not_a_socket);
	case EPROTONOSUPPORT:
		return make_error_code(recv_errc::not_tcp);
	case ENOTCONN:
		return make_error_code(recv_errc::not_connected);
	default:
		return {err, std::system_category()};
	}
}

// A device-mode registration's -errno, for a device that cannot have it.
inline std::error_code device_error(int err) noexcept
{
	switch (err) {
	case ENODEV:
		return make_error_code(recv_errc::no_such_device);
	case EOPNOTSUPP:
		return make_error_code(recv_errc::device_unsupported);
	case EINVAL:
		return make_error_code(recv_errc::no_header_split);
	case ERANGE:
		return make_error_code(recv_errc::no_such_queue);
	case EEXIST:
		return make_error_code(recv_errc::queue_busy);
	default:
		return {err, std::system_category()};
	}
}

} // namespace detail

} // namespace zcuring

template <>
struct std::is_error_code_enum<zcuring::recv_errc> : std::true_type {
};
