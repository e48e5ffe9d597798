/*
 * builder.h - image builds (CreateMicrovmImage / UpdateMicrovmImage): a
 * Dockerfile zip executed inside a builder microVM booted from a managed base
 * (untrusted RUN commands never run on the host), the result written as an
 * image version, its snapshot built, validated, then reported.
 *
 * Files:
 *   <state>/artifacts/<bucket>/<key>     s3:// artifacts (artifact.h)
 *   <state>/builds/<build_id>/           a running build's work dir (context,
 *                                        builder VM run dir); removed at its end
 *   <state>/builds/<build_id>.log        the build log (kept; the logs API reads it)
 *   <state>/images/<name>/<version>/     the result: image.json (+ disk.img or
 *                                        initrd.cpio.gz), written to a .tmp
 *                                        dir and renamed into place when complete
 *   <state>/buildcache/<key>/            step cache (snapshots after each step)
 *
 * Threads: builder_* calls are for the event-loop thread only. Builds run on
 * the builder's own worker threads (at most max_parallel; the rest wait
 * PENDING in order); each end is reported by done() on the event-loop thread,
 * exactly once per submitted build (also for a cancelled one).
 */
#ifndef HEARTH_BUILDER_H
#define HEARTH_BUILDER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/api_image.h"
#include "session/artifact.h"
#include "session/store.h"

struct hearthd;
struct builder;

#define BUILDER_ENV_JSON 16384

struct build_spec {
	char build_id[65];
	char image[129];          /* image name */
	char version[65];         /* "1.0", "2.0", ... */
	char artifact_uri[2049];  /* codeArtifact.uri */
	char env_json[BUILDER_ENV_JSON]; /* environmentVariables: a JSON object text, "" = none */
	struct api_hooks hooks;   /* the image's hooks (port 0: none) */
	int os_caps_all;          /* additionalOsCapabilities ["ALL"] */
	unsigned mem_mib;         /* resources: 0 = the base image's */
	unsigned vcpus;           /* cpuConfigurations: 0 = 1 */
	char egress[STORE_CONNECTORS]; /* egressNetworkConnectors JSON array text, "" = default */
};

struct build_result {
	enum build_reason reason; /* BR_NONE: SUCCESSFUL */
	char message[STORE_REASON];
	int64_t memory_snapshot_bytes;
	int64_t disk_snapshot_bytes;
	int64_t code_install_bytes;
};

enum build_phase { BUILD_UNKNOWN = -1, BUILD_PENDING = 0, BUILD_IN_PROGRESS = 1 };

typedef void (*builder_done_fn)(struct hearthd *hd, const struct build_spec *s,
				const struct build_result *r);

/* After the loop, store and egress exist. NULL with err. */
struct builder *builder_create(struct hearthd *hd, int max_parallel, builder_done_fn done,
			       char *err, size_t errlen);
/* Cancel every build, wait for the workers (their done() calls still come). */
void builder_destroy(struct builder *b);
/* Queue a build (the spec is copied). 0, or -1 with err (nothing queued). */
int builder_submit(struct builder *b, const struct build_spec *s, char *err, size_t errlen);
/* Ask a queued or running build to stop: it ends with done() reporting
 * INTERNAL_PLATFORM_ERROR "cancelled", having removed its VM, work dir and
 * partial image version. 0, or -1 when no such build is known. */
int builder_cancel(struct builder *b, const char *build_id);
enum build_phase builder_phase(const struct builder *b, const char *build_id);

/* Paths (see above). */
void builder_log_path(const struct hearthd *hd, const char *build_id, char *out, size_t n);
void builder_image_dir(const struct hearthd *hd, const char *image, const char *version,
		       char *out, size_t n);

#endif
