/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tcg_insn plugin's marker (tcg_insn.c): an 8-byte NOP,
 *
 *   nopl 0x5a4349NN(%rax,%rax,1)    0f 1f 84 00 NN 49 43 5a
 *
 * that does nothing on real hardware or without the plugin. NN: 0x01
 * start, 0x02 stop (a measured section), 0x03 begin, 0x04 end (a run).
 */
#ifndef ZC_TCG_MARK_H
#define ZC_TCG_MARK_H

#define TCG_MARK_START	0x01
#define TCG_MARK_STOP	0x02
#define TCG_MARK_BEGIN	0x03
#define TCG_MARK_END	0x04

/* TCG_MARK(TCG_MARK_START): NN is expanded before it is spelled out. */
#define TCG_MARK_(nn) \
	asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, " #nn ", 0x49, 0x43, 0x5a" ::: "memory")
#define TCG_MARK(nn) TCG_MARK_(nn)

#endif
