/*
 * testhelp.h: helpers shared by the tests.
 *
 * Waiting for something to happen is always a poll with a deadline
 * (TH_WAIT_UNTIL), never a fixed sleep.
 */
#ifndef PEEROP_TESTHELP_H
#define PEEROP_TESTHELP_H

#include <stddef.h>
#include <stdint.h>
#include <check.h>
#include "peerop/peerop.h"

/* A fresh directory under $TMPDIR; free with th_tmpdir_remove(). */
char *th_tmpdir(void);
void th_tmpdir_remove(char *dir);
/* Write a file (creating or truncating it); returns 0 or -1. */
int th_write_file(const char *path, const void *data, size_t len);
int th_write_str(const char *path, const char *s);
/* Path join into a malloc'd string. */
char *th_path(const char *dir, const char *name);
/* Read a whole file into a malloc'd NUL-terminated string, or NULL. */
char *th_slurp(const char *path);
uint64_t th_now_ms(void);

/* Poll cond every few milliseconds until it holds or timeout_ms passes;
 * evaluates to 1 if it held. */
#define TH_WAIT_UNTIL(cond, timeout_ms) ({ \
	uint64_t th__deadline = th_now_ms() + (uint64_t)(timeout_ms); \
	int th__ok; \
	for (;;) { \
		if ((cond)) { th__ok = 1; break; } \
		if (th_now_ms() >= th__deadline) { th__ok = !!(cond); break; } \
		th_sleep_ms(5); \
	} \
	th__ok; })
void th_sleep_ms(unsigned ms);
int th_wait_until_impl(uint64_t deadline, int (*check)(void *), void *arg);
/* The same, with a function and an argument (no GNU nested functions). */
int th_wait_until(uint64_t timeout_ms, int (*check)(void *), void *arg);

/* Capture log records in memory, for assertions on what was logged. */
void th_log_capture_start(peerop_log_level min_level);
void th_log_capture_stop(void);
/* All captured lines (text format, one per line); caller frees. */
char *th_log_captured(void);
/* Number of captured lines containing needle. */
int th_log_count(const char *needle);

/* Run a Check suite; returns the process exit status. */
int th_run_suite(Suite *s);

#endif
