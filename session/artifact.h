/*
 * artifact.h - a build's code artifact: codeArtifact.uri to a local zip,
 * checked and unpacked into the build context with libarchive.
 *
 * URIs: file:///abs/x.zip, /abs/x.zip, or s3://bucket/key read from
 * <state>/artifacts/bucket/key (missing bucket / key: S3_NO_SUCH_BUCKET /
 * S3_NO_SUCH_KEY; a key that is not a regular file: S3_INVALID_OBJECT).
 *
 * The zip is defended before anything is written: only regular files,
 * directories and symlinks that stay inside the context; no absolute names,
 * no "..", no duplicate names (after cleaning), caps on entries, per-file and
 * total uncompressed size and on the compression ratio; anything else (or
 * input that is not a zip) is ARCHIVE_INVALID with the reason. No
 * "Dockerfile" at the root: ARCHIVE_DOCKERFILE_NOT_FOUND. Extraction writes
 * files 0644/0755 (the executable bit kept), owned by the caller, no special
 * files, and never follows a symlink. A full disk: DISK_STORAGE_FULL.
 */
#ifndef HEARTH_ARTIFACT_H
#define HEARTH_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

/* The stateReason codes of the service a build can end with (spec/images.md). */
enum build_reason {
	BR_NONE = 0,
	BR_S3_ACCESS_DENIED,
	BR_S3_NO_SUCH_KEY,
	BR_S3_NO_SUCH_BUCKET,
	BR_S3_INVALID_OBJECT,
	BR_ARCHIVE_DOCKERFILE_NOT_FOUND,
	BR_ARCHIVE_INVALID,
	BR_CONTAINER_BUILD_FAILED,
	BR_DISK_STORAGE_FULL,
	BR_INTERNAL_PLATFORM_ERROR,
	BR_COUNT
};
/* "ARCHIVE_INVALID", ...; "" for BR_NONE. */
const char *build_reason_name(enum build_reason r);

struct artifact_limits {
	uint64_t max_zip;      /* bytes of the zip file (default 512 MiB) */
	uint64_t max_entries;  /* default 20000 */
	uint64_t max_file;     /* uncompressed bytes of one file (default 1 GiB) */
	uint64_t max_total;    /* uncompressed bytes of all files (default 2 GiB) */
	uint64_t max_ratio;    /* uncompressed/compressed of the whole zip (default 200),
				* judged once 16 MiB are unpacked: small text zips compress
				* better than that */
};
void artifact_limits_default(struct artifact_limits *l);

/* An archive entry's name cleaned: "." segments and extra slashes dropped;
 * absolute names, "..", and names over ARTIFACT_NAME_MAX refused (-1). out
 * holds ARTIFACT_NAME_MAX + 1 bytes. Shared by the zip intake and ADD's tars. */
#define ARTIFACT_NAME_MAX 4096
int artifact_clean_name(const char *in, char *out);

/* codeArtifact.uri to a local path. 0, or -1 with *r and msg. */
int artifact_resolve(const char *state_dir, const char *uri, char *path, size_t n,
		     enum build_reason *r, char *msg, size_t msglen);
/* Check a zip held in memory without writing anything (the fuzz target's
 * entry point; artifact_extract runs the same checks first). 0 or -1. */
int artifact_check_mem(const void *zip, size_t len, const struct artifact_limits *l,
		       enum build_reason *r, char *msg, size_t msglen);
/* Check, then unpack zip_path into dir (created 0700, must not exist).
 * *code_bytes gets the unpacked size (snapshotBuild.codeInstallSizeInBytes).
 * 0, or -1 with *r and msg (dir removed again). */
int artifact_extract(const char *zip_path, const char *dir, const struct artifact_limits *l,
		     uint64_t *code_bytes, enum build_reason *r, char *msg, size_t msglen);

#endif
