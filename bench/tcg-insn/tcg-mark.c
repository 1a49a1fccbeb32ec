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

#include "tcg_mark.h"

int main(int argc, char **argv)
{
	const char *what = argc == 2 ? argv[1] : "";

	if (!strcmp(what, "start"))
		TCG_MARK(TCG_MARK_START);
	else if (!strcmp(what, "stop"))
		TCG_MARK(TCG_MARK_STOP);
	else if (!strcmp(what, "begin"))
		TCG_MARK(TCG_MARK_BEGIN);
	else if (!strcmp(what, "end"))
		TCG_MARK(TCG_MARK_END);
	else {
		fprintf(stderr, "usage: tcg-mark start|stop|begin|end\n");
		return 2;
	}
	return 0;
}
