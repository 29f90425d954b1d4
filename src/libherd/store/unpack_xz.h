/*
 * unpack_xz.h — block-parallel unpacking of a multi-block .xz file into a
 * sparse raw image (see unpack_xz.c for the pipeline).  Internal to
 * store/: store_unpack_fd calls it first for .xz input and falls back to
 * liblzma's stream decoder when it answers -ENOTSUP.
 */
#pragma once

#include "store/unpack.h"

/* Unpack the regular file in_fd (a .xz with at least two blocks, each
 * at most 256 MiB) into out_fd (a new empty file), with `threads`
 * decoding threads, fsync it and fill *ret.  -ENOTSUP, before anything
 * is written, when the file is not of that kind. */
int store_unpack_xz_blocks(int in_fd, int out_fd, unsigned threads, store_progress_fn progress,
			   void *userdata, struct store_unpack_result *ret, struct herd_error *err);
