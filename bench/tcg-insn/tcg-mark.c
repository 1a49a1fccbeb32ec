// SPDX-License-Identifier: GPL-2.0
/*
 * tcg-mark: run in the guest to mark the start or the end of a measured
 * section for the tcg_insn QEMU plugin. It executes the plugin's marker,
 * an 8-byte NOP, so it does nothing at all on real hardware or without
 * the plugin.
 *
 *   tcg-mark start|stop
 */
#include <stdio.h>
#include <string.h>

static void mark_start(void)
{
	/* nopl 0x5a434901(%rax,%rax,1) */
	asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, 0x01, 0x49, 0x43, 0x5a" ::: "memory");
}

static void mark_stop(void)
{
	/* nopl 0x5a434902(%rax,%rax,1) */
	asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, 0x02, 0x49, 0x43, 0x5a" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "start")) {
		mark_start();
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "stop")) {
		mark_stop();
		return 0;
	}
	fprintf(stderr, "usage: tcg-mark start|stop\n");
	return 2;
}
