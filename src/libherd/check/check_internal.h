/*
 * check_internal.h — what the check files share: the problem list being
 * filled, and the structure checks of check_files.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "check/check.h"
#include "fs/vfs.h"

struct check_ctx {
	struct strv *problems;
	size_t count;
	bool oom;
};

void check_problem(struct check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Structure checks on the root filesystem and the boot partition. */
void check_root_files(struct check_ctx *c, struct vfs *root);
void check_boot_files(struct check_ctx *c, struct vfs *boot);
