// SPDX-License-Identifier: MIT
// What the examples share and that is not part of the bindings: the byte
// pattern a sender writes and a receiver checks, a small command line
// reader, and a monotonic clock.
#pragma once

#include <net/if.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include <zcuring/recv_zc.hpp>

namespace zcex {

// The stream every example sender writes: byte @pos is byte pos % 8 of a
// 64-bit word that depends on pos / 8 (a bijective mixer of it), so no
// short period hides a lost, repeated or reordered piece, and checking
// goes a word at a time.
inline std::uint64_t pattern_word(std::uint64_t index) noexcept
{
	std::uint64_t x = index + 0x5a17c0deull;
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

inline std::byte pattern_byte(std::uint64_t pos) noexcept
{
	return static_cast<std::byte>(pattern_word(pos / 8) >> (8 * (pos % 8)));
}

// Fill @buf with the stream's bytes from @pos on.
inline void pattern_fill(std::span<std::byte> buf, std::uint64_t pos) noexcept
{
	std::size_t i = 0;
	for (; i < buf.size() && (pos + i) % 8; i++)
		buf[i] = pattern_byte(pos + i);
	for (; i + 8 <= buf.size(); i += 8) {
		std::uint64_t w = pattern_word((pos + i) / 8);
		std::memcpy(&buf[i], &w, 8); // little-endian: byte k is bits 8k..8k+7
	}
	for (; i < buf.size(); i++)
		buf[i] = pattern_byte(pos + i);
}

// The index of the first byte of @buf that is not the stream's byte at
// @pos + index, or -1 when every byte is right.
inline long long pattern_check(std::span<const std::byte> buf, std::uint64_t pos) noexcept
{
	std::size_t i = 0;
	for (; i < buf.size() && (pos + i) % 8; i++)
		if (buf[i] != pattern_byte(pos + i))
			return static_cast<long long>(i);
	for (; i + 8 <= buf.size(); i += 8) {
		std::uint64_t w = pattern_word((pos + i) / 8), got;
		std::memcpy(&got, &buf[i], 8);
		if (got != w)
			break; // the byte loop below finds which one
	}
	for (; i < buf.size(); i++)
		if (buf[i] != pattern_byte(pos + i))
			return static_cast<long long>(i);
	return -1;
}

inline double now_seconds() noexcept
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// "4096", "64k", "32M", "1G": bytes; 0 and garbage: false.
inline bool parse_size(const char *s, std::uint64_t &out) noexcept
{
	char *end = nullptr;
	unsigned long long v = std::strtoull(s, &end, 10);
	if (end == s)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10, end++;
		break;
	case 'm':
	case 'M':
		v <<= 20, end++;
		break;
	case 'g':
	case 'G':
		v <<= 30, end++;
		break;
	default:
		break;
	}
	if (*end || !v)
		return false;
	out = v;
	return true;
}

inline bool parse_uint(const char *s, unsigned long max, unsigned long &out) noexcept
{
	char *end = nullptr;
	unsigned long v = std::strtoul(s, &end, 10);
	if (end == s || *end || v > max)
		return false;
	out = v;
	return true;
}

// "32 MiB", "512 KiB", "100 B".
inline std::string human_bytes(std::uint64_t b)
{
	char buf[48];
	if (b >= (10ull << 20) || (b >= (1ull << 20) && b % (1ull << 20) == 0))
		std::snprintf(buf, sizeof(buf), "%.4g MiB", static_cast<double>(b) / (1 << 20));
	else if (b >= (10ull << 10))
		std::snprintf(buf, sizeof(buf), "%.4g KiB", static_cast<double>(b) / (1 << 10));
	else
		std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
	return buf;
}

// The receive options the zero-copy examples share:
//   --dev IFNAME [--rxq N] [--fallback]   device mode on IFNAME's queue N
//   (default 0); --fallback: device-less if the device cannot.
struct device_opts {
	std::string dev;
	unsigned long rxq = 0;
	bool fallback = false;

	// Takes argv[i] (and its value) if it is one of the options above:
	// true, with i moved past it; ok false on a bad value.
	bool parse(int argc, char **argv, int &i, bool &ok)
	{
		std::string a = argv[i];
		if (a == "--fallback") {
			fallback = true;
			return true;
		}
		if (a != "--dev" && a != "--rxq")
			return false;
		if (i + 1 >= argc) {
			ok = false;
			return true;
		}
		const char *v = argv[++i];
		if (a == "--dev")
			dev = v;
		else
			ok = parse_uint(v, 65535, rxq);
		return true;
	}

	// The zcrx options for a pool of @pool bytes; throws for an unknown
	// interface name.
	zcuring::zcrx_options zcrx(std::uint64_t pool, unsigned rq_entries) const
	{
		zcuring::zcrx_options o{.pool_bytes = pool, .rq_entries = rq_entries};
		if (dev.empty())
			return o;
		unsigned idx = ::if_nametoindex(dev.c_str());
		if (!idx)
			throw std::system_error(errno, std::system_category(),
			                        "--dev " + dev);
		o.if_index = idx;
		o.rx_queue = static_cast<unsigned>(rxq);
		o.fallback = fallback ? zcuring::zcrx_fallback::device_less
		                      : zcuring::zcrx_fallback::none;
		return o;
	}
};

// What the kernel says of this instance's bytes, for the examples' lines:
// "not copied: 32 MiB (100.0%, device mode, eth1 rxq 0), copied by the
// kernel: 0 B", or the device-less form, or why there are no counters.
inline std::string zc_summary(const zcuring::zcrx &rx, const device_opts &d)
{
	auto c = rx.counters();
	std::string where;
	if (rx.mode() == zcuring::zcrx_mode::device)
		where = "device mode, " + d.dev + " rxq " + std::to_string(d.rxq);
	else if (!d.dev.empty())
		where = "device-less: " + rx.device_error().message();
	else
		where = "device-less";
	if (!c)
		return "kernel counters: " + c.error().message() + " (" + where + ")";
	std::uint64_t all = c->bytes_zc + c->bytes_copied;
	char pct[32];
	std::snprintf(pct, sizeof(pct), "%.1f%%",
	              all ? 100.0 * static_cast<double>(c->bytes_zc) / static_cast<double>(all)
	                  : 0.0);
	return "not copied: " + human_bytes(c->bytes_zc) + " (" + pct + ", " + where +
	       "), copied by the kernel: " + human_bytes(c->bytes_copied);
}

// The share of received bytes not copied, in percent (0 without counters).
inline double zc_percent(const zcuring::zcrx &rx)
{
	auto c = rx.counters();
	if (!c || !(c->bytes_zc + c->bytes_copied))
		return 0;
	return 100.0 * static_cast<double>(c->bytes_zc) /
	       static_cast<double>(c->bytes_zc + c->bytes_copied);
}

} // namespace zcex
