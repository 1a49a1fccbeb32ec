// SPDX-License-Identifier: GPL-2.0
/*
 * tcg_insn: a QEMU TCG plugin (API version 1, QEMU 7.2) that counts the
 * guest instructions executed on every vCPU, kernel and user alike, and
 * writes the counts whenever the guest executes a marker instruction, so
 * that a section of a guest run (one fio job) can be measured exactly.
 *
 *   qemu-system-x86_64 ... -plugin libtcg_insn.so,out=/path/counts.txt
 *
 * The marker is an 8-byte NOP that compilers never emit with this
 * displacement:
 *
 *   nopl 0x5a4349NN(%rax,%rax,1)    0f 1f 84 00 NN 49 43 5a
 *
 * with NN 01 "start", 02 "stop", 03 "begin", 04 "end" (tcg-mark.c, and
 * the fio engine's zc_tcg_mark option, execute them). Each marker appends
 * one line to the output file:
 *
 *   mark SEQ start|stop|begin|end TOTAL VCPU0 VCPU1 ...
 *
 * (begin and end are meant to bracket one guest run, start and stop the
 * section measured inside it, so that a run whose inner markers never ran
 * is still told apart from the next one.)
 *
 * SEQ counts markers from 0; TOTAL is the sum over the vCPUs of the
 * instructions executed so far; a section's cost is the difference of
 * TOTAL between its start and stop lines. Each mark line is followed by
 *
 *   kmark SEQ start|stop|begin|end KTOTAL KVCPU0 KVCPU1 ...
 *
 * the same counts of kernel instructions alone (blocks at addresses in
 * the upper half of the address space, where x86-64 Linux keeps its
 * text); the rest of each count is user space. "exit TOTAL ..." and
 * "kexit KTOTAL ..." end the file.
 *
 * Counting: every translation block gets an execution callback carrying
 * its number of instructions, added to the executing vCPU's own counter
 * (one writer per counter, so MTTCG needs no lock). A block left early by
 * an exception counts in full, and a REP-prefixed string instruction
 * counts once per iteration (QEMU executes each iteration as its own
 * block), so a "rep movsb" copy of N bytes counts N.
 *
 * Profile (optional): with profile=PATH and prof_vcpu=N, the instructions
 * that vCPU N executes between a start and a stop marker are also counted
 * by translation block; at each stop the blocks that ran are written to
 * PATH and the counts reset:
 *
 *   section SEQ             (SEQ: the stop marker's)
 *   VADDR INSNS             (one line a block address, hex and decimal)
 *
 * which bench/profile-symbols.py maps to the guest's symbols.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-v1.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_VCPUS	64
#define MARK_START	1
#define MARK_STOP	2
#define MARK_BEGIN	3
#define MARK_END	4

static const char *const mark_names[] = {
	[MARK_START] = "start",
	[MARK_STOP] = "stop",
	[MARK_BEGIN] = "begin",
	[MARK_END] = "end",
};

static const unsigned char mark_prefix[] = { 0x0f, 0x1f, 0x84, 0x00 };
static const unsigned char mark_magic[] = { 0x49, 0x43, 0x5a };	/* "ICZ" */

/* One pair of counters per vCPU, each in its own cache line. */
struct vcpu_count {
	uint64_t insns;
	uint64_t kinsns;	/* of which in the kernel */
	char pad[64 - 2 * sizeof(uint64_t)];
};

/* A block's callback data: its instruction count, and this bit if kernel. */
#define TB_KERNEL	(1UL << 31)
#define KERNEL_HALF	0xffff800000000000ULL

static struct vcpu_count counts[MAX_VCPUS];
static unsigned int nr_vcpus = 1;
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long mark_seq;

/* The profile: one record a translation, on a list the stop marker walks. */
struct tb_prof {
	uint64_t vaddr;
	uint64_t insns;
	unsigned int n;
	struct tb_prof *next;
};

static FILE *prof_out;
static unsigned int prof_vcpu;
static struct tb_prof *prof_list;
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static int prof_on;

static void tb_prof_exec(unsigned int vcpu, void *udata)
{
	struct tb_prof *t = udata;

	/* one vCPU writes; the stop marker reads (a race costs a block) */
	if (vcpu == prof_vcpu && __atomic_load_n(&prof_on, __ATOMIC_RELAXED))
		t->insns += t->n;
}

/* At a stop marker: write the blocks that ran, by address, and reset. */
static void prof_dump(unsigned long long seq)
{
	struct tb_prof *t;

	pthread_mutex_lock(&prof_lock);
	fprintf(prof_out, "section %llu\n", seq);
	for (t = prof_list; t; t = t->next) {
		if (!t->insns)
			continue;
		fprintf(prof_out, "%llx %llu\n", (unsigned long long)t->vaddr,
			(unsigned long long)t->insns);
		t->insns = 0;
	}
	fflush(prof_out);
	pthread_mutex_unlock(&prof_lock);
}

static void add(uint64_t *c, uint64_t n)
{
	/* only this vCPU's thread writes it; markers read it */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static void tb_exec(unsigned int vcpu, void *udata)
{
	uintptr_t d = (uintptr_t)udata;

	if (vcpu >= MAX_VCPUS)
		return;
	add(&counts[vcpu].insns, d & ~TB_KERNEL);
	if (d & TB_KERNEL)
		add(&counts[vcpu].kinsns, d & ~TB_KERNEL);
}

/* TOTAL and the per-vCPU counts (@kernel: of kernel instructions), at the
 * end of a line already begun. */
static void write_counts(int kernel)
{
	uint64_t v[MAX_VCPUS], total = 0;
	unsigned int i;

	for (i = 0; i < nr_vcpus; i++) {
		v[i] = __atomic_load_n(kernel ? &counts[i].kinsns : &counts[i].insns,
				       __ATOMIC_RELAXED);
		total += v[i];
	}
	fprintf(out, " %llu", (unsigned long long)total);
	for (i = 0; i < nr_vcpus; i++)
		fprintf(out, " %llu", (unsigned long long)v[i]);
	fputc('\n', out);
	fflush(out);
}

static void mark_exec(unsigned int vcpu, void *udata)
{
	unsigned int kind = (uintptr_t)udata;

	unsigned long long seq;

	pthread_mutex_lock(&out_lock);
	seq = mark_seq++;
	fprintf(out, "mark %llu %s", seq, mark_names[kind]);
	write_counts(0);
	fprintf(out, "kmark %llu %s", seq, mark_names[kind]);
	write_counts(1);
	pthread_mutex_unlock(&out_lock);
	if (!prof_out)
		return;
	if (kind == MARK_START) {
		__atomic_store_n(&prof_on, 1, __ATOMIC_RELAXED);
	} else if (kind == MARK_STOP) {
		__atomic_store_n(&prof_on, 0, __ATOMIC_RELAXED);
		prof_dump(seq);
	}
}

static int mark_kind(struct qemu_plugin_insn *insn)
{
	const unsigned char *b;

	if (qemu_plugin_insn_size(insn) != 8)
		return 0;
	b = qemu_plugin_insn_data(insn);
	if (memcmp(b, mark_prefix, 4) || memcmp(b + 5, mark_magic, 3))
		return 0;
	return b[4] >= MARK_START && b[4] <= MARK_END ? b[4] : 0;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);
	uintptr_t d = n;

	/* a block never crosses from user to kernel text */
	if (qemu_plugin_tb_vaddr(tb) >= KERNEL_HALF)
		d |= TB_KERNEL;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
					     (void *)d);
	if (prof_out) {
		struct tb_prof *t = calloc(1, sizeof(*t));

		if (t) {
			t->vaddr = qemu_plugin_tb_vaddr(tb);
			t->n = n;
			pthread_mutex_lock(&prof_lock);
			t->next = prof_list;
			prof_list = t;
			pthread_mutex_unlock(&prof_lock);
			qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_prof_exec,
							     QEMU_PLUGIN_CB_NO_REGS, t);
		}
	}
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		int kind = mark_kind(insn);

		if (kind)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, mark_exec,
							       QEMU_PLUGIN_CB_NO_REGS,
							       (void *)(uintptr_t)kind);
	}
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	pthread_mutex_lock(&out_lock);
	fprintf(out, "exit");
	write_counts(0);
	fprintf(out, "kexit");
	write_counts(1);
	fclose(out);
	out = NULL;
	pthread_mutex_unlock(&out_lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *path = NULL, *prof_path = NULL;
	char msg[256];
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			path = argv[i] + 4;
		} else if (!strncmp(argv[i], "profile=", 8)) {
			prof_path = argv[i] + 8;
		} else if (!strncmp(argv[i], "prof_vcpu=", 10)) {
			prof_vcpu = (unsigned int)strtoul(argv[i] + 10, NULL, 10);
		} else {
			snprintf(msg, sizeof(msg), "tcg_insn: unknown argument '%s' (out=, profile=, prof_vcpu=)\n",
				 argv[i]);
			qemu_plugin_outs(msg);
			return -1;
		}
	}
	if (!path) {
		qemu_plugin_outs("tcg_insn: out=PATH is required\n");
		return -1;
	}
	if (!info->system_emulation) {
		qemu_plugin_outs("tcg_insn: for system emulation only\n");
		return -1;
	}
	nr_vcpus = info->system.max_vcpus;
	if (nr_vcpus < 1 || nr_vcpus > MAX_VCPUS) {
		snprintf(msg, sizeof(msg), "tcg_insn: %u vCPUs, at most %d\n", nr_vcpus, MAX_VCPUS);
		qemu_plugin_outs(msg);
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		snprintf(msg, sizeof(msg), "tcg_insn: %s: %s\n", path, strerror(errno));
		qemu_plugin_outs(msg);
		return -1;
	}
	if (prof_path) {
		prof_out = fopen(prof_path, "w");
		if (!prof_out) {
			snprintf(msg, sizeof(msg), "tcg_insn: %s: %s\n", prof_path,
				 strerror(errno));
			qemu_plugin_outs(msg);
			return -1;
		}
	}
	fprintf(out, "tcg_insn %s vcpus %u\n", info->target_name, nr_vcpus);
	fflush(out);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
