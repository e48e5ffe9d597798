/*
 * shellhub.h - the live pty shells of every VM, each with its viewers
 * (PROTOCOL.md 2.3). A shell is one agent channel (agentlink) whose output
 * goes into a replay ring (ring.h) and is acknowledged to the agent at once,
 * so no viewer can stall it; each viewer has its own bounded queue. A shell
 * ends when its process exits, when the VM's link goes (suspend, terminate),
 * or when it has had no viewer for its grace period.
 * Everything runs on hearthd's event-loop thread.
 */
#ifndef HEARTH_SHELLHUB_H
#define HEARTH_SHELLHUB_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"
#include "session/hearthd.h"

#define SHELLHUB_RING (2u * 1024 * 1024)      /* replay bytes per shell */
#define SHELLHUB_VIEWER_MAX (4u * 1024 * 1024) /* queued bytes per viewer */
#define SHELLHUB_VIEWERS 32                   /* viewers per shell */
#define SHELLHUB_KEYS_MAX (256u * 1024)       /* keystrokes waiting for the agent */
#define SHELLHUB_WINDOW (256u * 1024)         /* output window granted to the agent */
#define SHELLHUB_GRACE_DEFAULT 300            /* seconds (--shell-grace) */

struct shellhub_shell;

/* How a shell ended, for its viewers. */
struct shellhub_end {
	int exited;         /* the agent closed the channel: the process is over */
	int have_exit;      /* the process exited: is_signal/value hold how */
	int is_signal, value;
	const char *reason; /* otherwise: why the shell ended (short text) */
};

/* Callbacks must not attach or detach viewers (they run inside the hub's loops). */
struct shellhub_viewer_ops {
	/* New bytes in q, or dropped / overflow set. */
	void (*output)(void *owner);
	/* The shell ended; the viewer is already detached (v->shell is NULL),
	 * and q keeps what was not yet taken. */
	void (*ended)(void *owner, const struct shellhub_end *e);
	/* Keystrokes fit again (after shellhub_input_room() was low). */
	void (*input_ready)(void *owner);
};

/*
 * A viewer lives in its owner's memory: set ops, owner, rw, marker and call
 * shellhub_viewer_init, then attach. The hub fills q (bounded by
 * SHELLHUB_VIEWER_MAX). Past the bound a viewer with marker set drops its
 * queue and counts the bytes in `dropped` (the owner reports them and sets
 * it back to 0); one without marker gets `overflow` set instead.
 */
struct shellhub_viewer {
	const struct shellhub_viewer_ops *ops;
	void *owner;
	int rw, marker;
	struct shellhub_shell *shell;
	struct shellhub_viewer *next;
	struct buf q;
	uint64_t dropped;
	int overflow;
	int has_size;
	uint16_t rows, cols;
};

void shellhub_viewer_init(struct shellhub_viewer *v);
/* Detach (if attached) and free the queue. */
void shellhub_viewer_fini(struct shellhub_viewer *v);

/* A random version 4 UUID (36 characters and a NUL); 0 or -1. */
int shellhub_uuid(char out[37]);

/* Default grace in seconds for shells that do not ask for one. */
void shellhub_set_default_grace(unsigned seconds);
unsigned shellhub_default_grace(void);

/*
 * A new shell on vm_id (rows/cols 0: no size until a viewer sends one),
 * with grace seconds. NULL with err.
 */
struct shellhub_shell *shellhub_open(struct hearthd *hd, const char *vm_id, uint16_t rows,
				     uint16_t cols, unsigned grace, char *err, size_t errlen);
/* How many live shells vm_id has (for the API's "hearth" fields). */
unsigned shellhub_count(const char *vm_id);
/* The live shell session_id of vm_id, or NULL. */
struct shellhub_shell *shellhub_find(const char *vm_id, const char *session_id);
const char *shellhub_session_id(const struct shellhub_shell *s);

/*
 * Attach v to s and queue the replay from `want` (has_want 0: the whole ring);
 * *from and *lost as ring_attach. -1 with err when s has SHELLHUB_VIEWERS.
 */
int shellhub_attach(struct shellhub_shell *s, struct shellhub_viewer *v, int has_want,
		    uint64_t want, uint64_t *from, uint64_t *lost, char *err, size_t errlen);
void shellhub_detach(struct shellhub_viewer *v);

/* Keystrokes of a read-write viewer; -1 when they do not fit (the caller
 * pauses its client while shellhub_input_room() is below its frame size). */
int shellhub_input(struct shellhub_viewer *v, const void *p, size_t n);
size_t shellhub_input_room(const struct shellhub_viewer *v);
/* This viewer's size; the pty gets the smallest over the read-write viewers. */
void shellhub_resize(struct shellhub_viewer *v, uint16_t rows, uint16_t cols);
int shellhub_signal(struct shellhub_viewer *v, uint8_t signo);

#endif
