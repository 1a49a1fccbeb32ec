// SPDX-License-Identifier: MIT
// The lifetime rules of ring.hpp, enforced: misuse that would be a use
// after free terminates with a message (tested in a forked child), the
// ring takes over what run() gives up on, handles outlive the ring, and
// a stop callback with a full SQ neither throws nor loses its cancel.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "recv_support.hpp"
#include "support.hpp"
#include <zcuring/compose.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>

using namespace zcuring;
using namespace std::chrono_literals;

namespace {

struct death {
	bool aborted = false; // killed by SIGABRT
	std::string err;      // what it wrote on stderr
};

// Run @fn in a child process with stderr captured; how did it end?
death run_child(const std::function<void()> &fn)
{
	int pfd[2];
	REQUIRE(::pipe(pfd) == 0);
	std::fflush(nullptr);
	pid_t pid = ::fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		// Catch2's handler of fatal signals is not the child's.
		::signal(SIGABRT, SIG_DFL);
		int null = ::open("/dev/null", O_WRONLY);
		::dup2(null, STDOUT_FILENO);
		::dup2(pfd[1], STDERR_FILENO);
		::close(pfd[0]);
		::close(pfd[1]);
		try {
			fn();
		} catch (...) {
			::_exit(3);
		}
		::_exit(0);
	}
	::close(pfd[1]);
	death d;
	char buf[512];
	ssize_t n;
	while ((n = ::read(pfd[0], buf, sizeof(buf))) > 0)
		d.err.append(buf, static_cast<std::size_t>(n));
	::close(pfd[0]);
	int st = 0;
	REQUIRE(::waitpid(pid, &st, 0) == pid);
	d.aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
	return d;
}

task<void> throw_after_nop(ring &r, const char *what)
{
	(void)co_await async_nop(r);
	throw std::runtime_error(what);
}

task<int> read_one(ring &r, int fd)
{
	std::byte b[1];
	(void)co_await async_read(r, fd, b, 0);
	co_return 1;
}

task<void> read_pipe(ring &r, int fd, bool &done)
{
	std::byte b[8];
	(void)co_await async_read(r, fd, b, 0);
	done = true;
}

} // namespace

TEST_CASE("destroying a started task whose read is in the kernel aborts with a message",
          "[lifetime][death]")
{
	auto d = run_child([] {
		auto p = zctest::make_pipe();
		ring r;
		bool done = false;
		auto t = read_pipe(r, p.rd.get(), done);
		r.post(t.handle());
		r.step(); // t starts: its read is in the kernel
		if (!t.started() || t.done())
			return;
		t = task<void>(); // destroys it: must abort
	});
	INFO(d.err);
	REQUIRE(d.aborted);
	REQUIRE(d.err.find("zcuring: a started task was destroyed before it finished") !=
	        std::string::npos);
}

TEST_CASE("a task never started, or finished, is destroyed quietly", "[lifetime]")
{
	auto p = zctest::make_pipe();
	ring r;
	bool done = false;
	{
		auto t = read_pipe(r, p.rd.get(), done); // never started
		REQUIRE(!t.started());
	}
	REQUIRE(::write(p.wr.get(), "x", 1) == 1);
	r.run(read_pipe(r, p.rd.get(), done));
	REQUIRE(done);
}

TEST_CASE("run() leaves its suspended task to the ring when a spawned task fails",
          "[lifetime][spawn]")
{
	// Before: run()'s task was destroyed while its read was in the
	// kernel. Now the ring keeps it, and it finishes on a later run().
	auto p = zctest::make_pipe();
	ring r;
	bool done = false;
	r.spawn(throw_after_nop(r, "spawned failure"));
	REQUIRE_THROWS_WITH(r.run(read_pipe(r, p.rd.get(), done)), "spawned failure");
	REQUIRE(!done);
	REQUIRE(r.live() == 1); // the task run() gave up on
	REQUIRE(::write(p.wr.get(), "x", 1) == 1);
	r.run();
	REQUIRE(done);
}

TEST_CASE("a task that run() gave up on is freed by the ring", "[lifetime][spawn]")
{
	// Under ASan a frame left behind is a leak, one freed early a use
	// after free when the ring closes.
	auto p = zctest::make_pipe();
	{
		ring r;
		bool done = false;
		r.spawn(throw_after_nop(r, "boom"));
		REQUIRE_THROWS(r.run(read_pipe(r, p.rd.get(), done)));
	}
}

TEST_CASE("destroying a task_scope whose tasks run aborts with a message", "[lifetime][death]")
{
	auto d = run_child([] {
		auto p = zctest::make_pipe();
		ring r;
		bool done = false;
		auto s = std::make_unique<task_scope>(r);
		s->spawn(read_pipe(r, p.rd.get(), done));
		r.step();
		s.reset(); // must abort
	});
	INFO(d.err);
	REQUIRE(d.aborted);
	REQUIRE(d.err.find("zcuring: a task_scope was destroyed while its tasks still run") !=
	        std::string::npos);
}

TEST_CASE("an awaitable given .stop_with() that outlives its ring aborts with a message",
          "[lifetime][death][stop_hub]")
{
	// It pins its token's entry in the ring's table; destroyed after the
	// ring, it would write into freed memory.
	auto d = run_child([] {
		auto p = zctest::make_pipe();
		std::stop_source s;
		std::byte b[1];
		auto r = std::make_unique<ring>();
		auto op = async_read(*r, p.rd.get(), b, 0).stop_with(s.get_token());
		r.reset(); // must abort
	});
	INFO(d.err);
	REQUIRE(d.aborted);
	REQUIRE(d.err.find("zcuring: an awaitable given .stop_with() outlived its ring") !=
	        std::string::npos);
}

TEST_CASE("an awaitable with no stop token may outlive its ring", "[lifetime]")
{
	auto p = zctest::make_pipe();
	std::byte b[1];
	auto r = std::make_unique<ring>();
	std::stop_token none;
	auto op = async_read(*r, p.rd.get(), b, 0).stop_with(none);
	r.reset();
}

TEST_CASE("a stop with the SQ full leaves the cancel to the loop, which issues it",
          "[lifetime][cancel]")
{
	ring r({.entries = 4});
	auto p = zctest::make_pair();
	std::stop_source stop;
	zctest::stoppable_recv reader;
	auto stopper = [&]() -> task<void> {
		(void)co_await async_sleep(r, 5ms);
		// Fill the SQ: the canceller finds no SQE and must not submit
		// (nor throw) from inside request_stop().
		while (io_uring_sqe *s = r.try_get_sqe())
			io_uring_prep_nop(s);
		REQUIRE(io_uring_sq_space_left(r.native()) == 0);
		auto enters = r.stats().enters;
		stop.request_stop();
		REQUIRE(r.stats().enters == enters);
		REQUIRE(r.stats().deferred == 1);
		REQUIRE(!reader.finished);
	};
	r.spawn(reader.run(r, p.a.get(), stop.get_token()));
	r.spawn(stopper());
	r.run();
	REQUIRE(reader.finished);
	REQUIRE(reader.got.error() == std::errc::operation_canceled);
}

TEST_CASE("a stop with the SQ full, on an operation that completes first, still resumes it",
          "[lifetime][cancel]")
{
	// Two nops in one submission complete in order: the first resumes
	// the stopper, whose stop finds the SQ full; the second completes
	// the stopped operation before the loop's next turn.
	ring r({.entries = 4});
	std::stop_source stop;
	result<void> got = errno_code(EINVAL);
	bool finished = false;
	auto stopper = [&]() -> task<void> {
		(void)co_await async_nop(r);
		while (io_uring_sqe *s = r.try_get_sqe())
			io_uring_prep_nop(s);
		stop.request_stop();
	};
	auto victim = [&]() -> task<void> {
		got = co_await async_nop(r).stop_with(stop.get_token());
		finished = true;
	};
	r.spawn(stopper());
	r.spawn(victim());
	r.run();
	REQUIRE(finished);
	REQUIRE(r.stats().deferred == 1);
	REQUIRE(got); // it had completed: the cancel was not needed
}

TEST_CASE("dropping a stream with the SQ full defers its cancel; nothing leaks",
          "[lifetime][accept]")
{
	int before = zctest::open_fds();
	{
		ring r({.entries = 4});
		auto l = tcp_listen(endpoint("127.0.0.1", 0), 4);
		r.run([&]() -> task<void> {
			std::optional<accept_stream> s(std::in_place, r, l.get());
			auto c = co_await s->next().timeout(1ms); // arms the request
			REQUIRE(c.error() == std::errc::timed_out);
			while (io_uring_sqe *q = r.try_get_sqe())
				io_uring_prep_nop(q);
			s.reset(); // release(): cancel deferred
			REQUIRE(r.stats().deferred == 1);
			(void)co_await async_sleep(r, 5ms);
			// The cancel went in: a connection now waits in the
			// backlog instead of being taken by the request.
			auto at = endpoint::local_of(l.get());
			auto c2 = tcp_socket(at.family());
			REQUIRE(::connect(c2.get(), at.data(), at.size()) == 0);
			(void)co_await async_sleep(r, 5ms);
			int fd = ::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
			REQUIRE(fd >= 0);
			::close(fd);
		}());
	}
	REQUIRE(zctest::open_fds() == before);
}

TEST_CASE("an accept stream and a join_handle may outlive their ring", "[lifetime]")
{
	auto l = tcp_listen(endpoint("127.0.0.1", 0), 4);
	std::optional<accept_stream> s;
	join_handle<int> h;
	auto p = zctest::make_pipe();
	{
		ring r;
		s.emplace(r, l.get());
		r.run([&]() -> task<void> {
			auto c = co_await s->next().timeout(1ms);
			REQUIRE(c.error() == std::errc::timed_out);
		}());
		h = r.spawn(read_one(r, p.rd.get()));
		r.step();
		REQUIRE(h.valid());
		REQUIRE(!h.done());
	}
	// The ring detached the stream's state and emptied the handle.
	REQUIRE(!h.valid());
	s->cancel(); // nothing to do
	s.reset();
}
