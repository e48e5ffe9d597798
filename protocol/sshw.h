/*
 * sshw.h - the framed protocol between hearthd and one SSH worker process
 * (`hearthd --ssh-worker`, session/sshd_worker.c), pure encode/decode, no
 * I/O. PROTOCOL.md section 6 is the byte-for-byte description.
 *
 * The worker runs libssh for one client connection and holds no secret of
 * hearthd's: it asks hearthd to check credentials (AUTH) and to open agent
 * channels (OPEN); bytes then flow per channel with credit windows, as on
 * the agent protocol. Both sides treat any frame that does not decode as the
 * end of the connection (the peer is a program of ours: there is nothing to
 * recover).
 *
 * Frame: u8 version (1) | u8 type | u16 channel | u32 length | payload
 */
#ifndef HEARTH_SSHW_H
#define HEARTH_SSHW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SSHW_VERSION 1
#define SSHW_HDR_LEN 8
#define SSHW_MAX_PAYLOAD 40000u          /* largest payload (a DATA of SSHW_MAX_DATA fits) */
#define SSHW_MAX_DATA 32768u             /* DATA bytes after the stream byte */
#define SSHW_MAX_WINDOW (16u * 1024 * 1024)
#define SSHW_MAX_KEY 8192u               /* HOSTKEY text */
#define SSHW_MAX_USER 1024u              /* AUTH user name ("<id>#<token>") */
#define SSHW_MAX_PASS 1024u
#define SSHW_MAX_TERM 64u
#define SSHW_MAX_CMD 4096u               /* exec command line */
#define SSHW_MAX_HOST 255u               /* direct-tcpip host as the client sent it */
#define SSHW_MAX_ENV 16u
#define SSHW_MAX_ENVLEN 1024u            /* one "NAME=value" */
#define SSHW_MAX_MSG 1024u               /* OPEN_FAIL text */

enum sshw_type {
	SSHW_HOSTKEY = 0x01,   /* hearthd -> worker, channel 0: the host key (OpenSSH text) */
	SSHW_AUTH = 0x02,      /* worker -> hearthd, channel 0: str16 user, str16 password */
	SSHW_AUTH_OK = 0x03,   /* hearthd -> worker, channel 0: empty */
	SSHW_AUTH_FAIL = 0x04, /* hearthd -> worker, channel 0: empty */
	SSHW_OPEN = 0x10,      /* worker -> hearthd */
	SSHW_OPEN_OK = 0x11,   /* hearthd -> worker: u32 window */
	SSHW_OPEN_FAIL = 0x12, /* hearthd -> worker: str16 message */
	SSHW_DATA = 0x13,      /* both: u8 stream, bytes */
	SSHW_WINDOW = 0x14,    /* both: u32 increment */
	SSHW_RESIZE = 0x15,    /* worker -> hearthd: u16 rows, u16 cols */
	SSHW_SIGNAL = 0x16,    /* worker -> hearthd: u8 signal number */
	SSHW_EOF = 0x17,       /* both: u8 stream */
	SSHW_EXIT = 0x18,      /* hearthd -> worker: u8 how, i32 value */
	SSHW_CLOSE = 0x19,     /* both: empty */
};

enum sshw_kind {
	SSHW_KIND_SHELL = 1, /* pty shell */
	SSHW_KIND_EXEC = 2,  /* command line, no pty */
	SSHW_KIND_TCP = 3,   /* direct-tcpip to a port inside the guest */
	SSHW_KIND_SFTP = 4,  /* the guest's sftp-server */
};

enum { SSHW_FROM_HEARTHD = 0, SSHW_FROM_WORKER = 1 };
enum { SSHW_EXIT_CODE = 0, SSHW_EXIT_SIGNAL = 1 };

enum {
	SSHW_OK = 0,
	SSHW_E_VERSION = -1,
	SSHW_E_TOOBIG = -2,
	SSHW_E_TYPE = -3,    /* unknown type, or not allowed from that side */
	SSHW_E_CHANNEL = -4, /* channel 0 for a channel message or the reverse */
	SSHW_E_PAYLOAD = -5, /* payload not exactly what the type defines, or out of range */
};

struct sshw_str {
	const char *p; /* into the frame's payload; not NUL-terminated */
	uint16_t len;
};

struct sshw_frame {
	uint8_t type;
	uint16_t chan;
	uint32_t len;
	const uint8_t *payload;
};

struct sshw_msg {
	uint8_t type;
	uint16_t chan;
	struct sshw_str key;        /* HOSTKEY */
	struct sshw_str user, pass; /* AUTH */
	/* OPEN */
	uint8_t kind;
	uint32_t window;            /* also OPEN_OK, WINDOW (the increment) */
	uint16_t rows, cols;        /* also RESIZE */
	uint16_t port;
	struct sshw_str term, command, host;
	unsigned nenv;
	struct sshw_str env[SSHW_MAX_ENV];
	struct sshw_str msg;        /* OPEN_FAIL */
	uint8_t stream;             /* DATA, EOF */
	const uint8_t *data;        /* DATA */
	uint32_t len;
	uint8_t signo;              /* SIGNAL */
	uint8_t how;                /* EXIT */
	int32_t value;
};

/*
 * One frame from the front of p[0..n): > 0 bytes it takes (f points into p),
 * 0 when more bytes are needed, < 0 (SSHW_E_*) when the header is refused.
 */
long sshw_take(const uint8_t *p, size_t n, struct sshw_frame *f);
/*
 * Decode f as sent by `from` (SSHW_FROM_*): type allowed from that side,
 * channel rules, every length and value in range, no trailing bytes.
 */
int sshw_decode(const struct sshw_frame *f, int from, struct sshw_msg *m);
const char *sshw_strerror(int err);

/*
 * The SSH login (PROTOCOL.md 6.3): user "<id>#<token>" (the password is
 * ignored) or user "<id>" with the token as the password. Copies the id
 * (1..idmax-1 bytes of [A-Za-z0-9-]) and the token (1..tokmax-1 bytes) out
 * with NULs; -1 when the login has no such shape.
 */
int sshw_split_login(const char *user, size_t ulen, const char *pass, size_t plen, char *id,
		     size_t idmax, char *tok, size_t tokmax);

/* Encoders append one whole frame to b, or nothing (-1: too big or b full). */
int sshw_put_hostkey(struct buf *b, const char *key, size_t n);
int sshw_put_auth(struct buf *b, const char *user, size_t ulen, const char *pass, size_t plen);
int sshw_put_empty(struct buf *b, uint8_t type, uint16_t ch); /* AUTH_OK, AUTH_FAIL, CLOSE */
/* OPEN from m's OPEN fields (kind, window, rows, cols, port, term, command, host, env). */
int sshw_put_open(struct buf *b, uint16_t ch, const struct sshw_msg *m);
int sshw_put_u32(struct buf *b, uint8_t type, uint16_t ch, uint32_t v); /* OPEN_OK, WINDOW */
int sshw_put_fail(struct buf *b, uint16_t ch, const char *msg);
int sshw_put_data(struct buf *b, uint16_t ch, uint8_t stream, const void *p, size_t n);
int sshw_put_u8(struct buf *b, uint8_t type, uint16_t ch, uint8_t v); /* SIGNAL, EOF */
int sshw_put_resize(struct buf *b, uint16_t ch, uint16_t rows, uint16_t cols);
int sshw_put_exit(struct buf *b, uint16_t ch, uint8_t how, int32_t value);

#endif
