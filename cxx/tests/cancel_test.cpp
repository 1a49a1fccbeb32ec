// SPDX-License-Identifier: MIT
// .timeout() and .stop_with() on a stream's next() (accept_stream here;
// rx_stream in the VM tests), and that every awaitable resumes only
// after the CQEs of its cancel and timeout have come.
#include <catch2/catch.hpp>

#include <chrono>
#include <stop_token>

#include "support.hpp"
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

namespace {

struct listener {
	unique_fd fd = tcp_listen(endpoint("127.0.0.1", 0), 16);
	endpoint at = endpoint::local_of(fd.get());

	unique_fd connect() const
	{
		auto c = tcp_socket(at.family());
		REQUIRE(::connect(c.get(), at.data(), at.size()) == 0);
		return c;
	}
};

task<void> stop_after(ring &r, std::chrono::milliseconds d, std::stop_source &s)
{
	(void)co_await async_sleep(r, d);
	s.request_stop();
}

task<unique_fd> connect_after(ring &r, std::chrono::milliseconds d, const listener &l)
{
	(void)co_await async_sleep(r, d);
	co_return l.connect();
}

} // namespace

TEST_CASE("accept next(): a timeout ends the wait with timed_out; the stream goes on",
          "[cancel][accept]")
{
	ring r;
	listener l;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto t0 = std::chrono::steady_clock::now();
		auto before = r.stats().cqes;
		auto c = co_await conns.next().timeout(20ms);
		REQUIRE(c.error() == std::errc::timed_out);
		REQUIRE(std::chrono::steady_clock::now() - t0 >= 20ms);
		// Resumed by its timer's CQE, and by nothing else.
		REQUIRE(r.stats().cqes - before == 1);

		// The request was not ended: a connection now is the next one.
		auto client = l.connect();
		auto d = co_await conns.next().timeout(10s);
		REQUIRE(d);
		REQUIRE(d->get() >= 0);
	}());
}

TEST_CASE("accept next(): an item before the timeout resumes only after the timer is gone",
          "[cancel][accept]")
{
	ring r;
	listener l;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto h = r.spawn(connect_after(r, 5ms, l));
		auto before = r.stats().cqes;
		auto c = co_await conns.next().timeout(10s);
		REQUIRE(c);
		// the sleep's, the accept's, the timer's (-ECANCELED), its cancel's
		REQUIRE(r.stats().cqes - before == 4);
		auto client = co_await std::move(h);
	}());
}

TEST_CASE("accept next(): stop_with ends the wait with operation_canceled", "[cancel][accept]")
{
	ring r;
	listener l;
	std::stop_source stop;
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		r.spawn(stop_after(r, 5ms, stop));
		auto c = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(c.error() == std::errc::operation_canceled);
		// with a timer too: the timer is removed before it resumes
		std::stop_source stop2;
		r.spawn(stop_after(r, 5ms, stop2));
		auto before = r.stats().cqes;
		auto d = co_await conns.next().timeout(10s).stop_with(stop2.get_token());
		REQUIRE(d.error() == std::errc::operation_canceled);
		// the sleep's, the timer's, its cancel's
		REQUIRE(r.stats().cqes - before == 3);
		// stopped already: no wait at all
		auto e = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(e.error() == std::errc::operation_canceled);
		// and the stream still accepts
		auto client = l.connect();
		auto f = co_await conns.next();
		REQUIRE(f);
	}());
}

TEST_CASE("accept next(): an item queued already is given even when stopped", "[cancel][accept]")
{
	ring r;
	listener l;
	std::stop_source stop;
	stop.request_stop();
	r.run([&]() -> task<void> {
		accept_stream conns(r, l.fd.get());
		auto a = co_await conns.next().timeout(1ms); // arms it
		REQUIRE(a.error() == std::errc::timed_out);
		auto client = l.connect();
		(void)co_await async_sleep(r, 5ms); // the connection is queued
		auto c = co_await conns.next().stop_with(stop.get_token());
		REQUIRE(c);
	}());
}

TEST_CASE("a stopped operation resumes only after its cancel's CQE", "[cancel]")
{
	ring r;
	auto p = zctest::make_pair();
	std::stop_source stop;
	r.run([&]() -> task<void> {
		r.spawn(stop_after(r, 5ms, stop));
		auto before = r.stats().cqes;
		std::byte buf[8];
		auto n = co_await async_recv(r, p.a.get(), buf).stop_with(stop.get_token()).timeout(
		        10s);
		REQUIRE(n.error() == std::errc::operation_canceled);
		// the sleep's, the recv's, its linked timeout's, the cancel's
		REQUIRE(r.stats().cqes - before == 4);
	}());
}
