/*
 * ext4_private.h — what ext4.c and ext4_io.c share, and nothing else.
 *
 * This header includes libext2fs and is therefore only for the ext4*.c
 * files: the rest of herd sees ext2/3/4 through `vfs_ext4_ops` (vfs.h)
 * and never a libext2fs type.
 */
#pragma once

#include <ext2fs/ext2fs.h>

#include "base/error.h"
#include "blk/blockdev.h"

/* The io_manager that reads and writes a struct blockdev.  libext2fs opens
 * channels by name only, so the blockdev travels in the name:
 * ext4_io_channel_name() encodes it and the manager's open() decodes it.
 * The channel takes its own reference on the blockdev. */
extern const struct struct_io_manager ext4_io_manager;

/* "herd-blockdev:<hex pointer>"; len must be at least EXT4_IO_NAME_MAX. */
#define EXT4_IO_NAME_MAX 48
void ext4_io_channel_name(struct blockdev *bd, char *buf, size_t len);

/* The message of the last blockdev failure seen by this channel ("" when
 * none since the last clear), so "read past end of overlay" survives the
 * trip through errcode_t. */
const char *ext4_io_last_error(io_channel channel);
void ext4_io_clear_error(io_channel channel);

/* libext2fs error code → text, without registering com_err tables
 * globally (we look the ext2 table up directly). */
const char *ext4_strerror(errcode_t code);
/* libext2fs error code → negative errno. */
int ext4_errno(errcode_t code);
