// SPDX-License-Identifier: GPL-2.0
/*
 * tcg-mark: run in the guest to mark a point of a run for the tcg_insn
 * QEMU plugin (tcg_insn.c): "start" and "stop" bracket a measured section,
 * "begin" and "end" a whole run. It executes the plugin's marker, an
 * 8-byte NOP, so it does nothing at all on real hardware or without the
 * plugin.
 *
 *   tcg-mark start|stop|begin|end
 */
#include <stdio.h>
#include <string.h>

/* nopl 0x5a4349NN(%rax,%rax,1) */
#define MARK(nn) asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, " #nn ", 0x49, 0x43, 0x5a" ::: "memory")

int main(int argc, char **argv)
{
	const char *what = argc == 2 ? argv[1] : "";

	if (!strcmp(what, "start"))
		MARK(0x01);
	else if (!strcmp(what, "stop"))
		MARK(0x02);
	else if (!strcmp(what, "begin"))
		MARK(0x03);
	else if (!strcmp(what, "end"))
		MARK(0x04);
	else {
		fprintf(stderr, "usage: tcg-mark start|stop|begin|end\n");
		return 2;
	}
	return 0;
}
