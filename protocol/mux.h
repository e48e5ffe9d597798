/*
 * mux.h - the hearth agent protocol: one byte stream per VM carrying many
 * channels (pure encode/decode, no I/O). protocol/PROTOCOL.md is the
 * byte-for-byte description; this header is its C form.
 *
 * Frame: a 12-byte header then `length` payload bytes.
 *   u8 version (MUX_VERSION) | u8 type | u16 reserved (0) | u32 channel | u32 length
 * Header layout never changes between versions, so a reader can always skip a
 * frame it refuses and stay in sync with the stream.
 *
 * Channel 0 is the control channel (HELLO, PING/PONG, CTL_REQ/CTL_RESP, ERROR).
 * Channels 1..2^32-1 are opened by the host with OPEN and carry DATA, WINDOW,
 * RESIZE, SIGNAL, EOF, EXIT, CLOSE, ERROR.
 *
 * Flow control: each side grants the other a receive window per channel (in
 * OPEN / OPEN_OK); only DATA bytes after the stream byte count against it and
 * WINDOW adds to it. Sending beyond the window is a protocol error for that
 * channel.
 */
#ifndef HEARTH_MUX_H
#define HEARTH_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MUX_VERSION 1
#define MUX_HDR_LEN 12
#define MUX_MAX_PAYLOAD 65536u                /* largest payload accepted */
#define MUX_MAX_DATA (MUX_MAX_PAYLOAD - 1u)   /* DATA bytes after the stream byte */
#define MUX_MAX_WINDOW (16u * 1024 * 1024)    /* largest window a side may grant */
#define MUX_DEFAULT_WINDOW (256u * 1024)
#define MUX_MAX_STR 4096                      /* any single string field */
#define MUX_MAX_ENV 512                       /* an image's ENV: api_image.h */
#define MUX_MAX_ARGV 256
#define MUX_MAX_TERM 64
#define MUX_MAX_USER 32
#define MUX_MAX_HOST 64
#define MUX_MAX_MSG 1024                      /* ERROR / OPEN_FAIL message */
#define MUX_MAX_SOFTWARE 256                  /* HELLO software string */
#define MUX_MAX_ENTROPY 4096                  /* CTL ENTROPY bytes */
#define MUX_MAX_LIST 1024                     /* channels in one LIST reply */

enum mux_type {
	MUX_HELLO = 0x01,
	MUX_PING = 0x02,
	MUX_PONG = 0x03,
	MUX_CTL_REQ = 0x04,
	MUX_CTL_RESP = 0x05,
	MUX_OPEN = 0x10,
	MUX_OPEN_OK = 0x11,
	MUX_OPEN_FAIL = 0x12,
	MUX_DATA = 0x13,
	MUX_WINDOW = 0x14,
	MUX_RESIZE = 0x15,
	MUX_SIGNAL = 0x16,
	MUX_EOF = 0x17,
	MUX_EXIT = 0x18,
	MUX_CLOSE = 0x19,
	MUX_ERROR = 0x1a,
};

enum mux_kind {
	MUX_KIND_SHELL = 1, /* pty shell */
	MUX_KIND_EXEC = 2,  /* argv or command line, no pty, stdout/stderr apart */
	MUX_KIND_TCP = 3,   /* relay to a TCP port inside the guest */
	MUX_KIND_DNS = 5,   /* the guest's DNS stub: framed queries and answers (PROTOCOL.md 1.10) */
	MUX_KIND_IDENTITY = 6, /* the guest's identity requests (PROTOCOL.md 1.11, idmsg.h) */
};

/* DNS channel messages (PROTOCOL.md 1.10), in DATA both ways:
 * u32 query id | u8 flags | u16 length | length bytes of DNS message. */
#define MUX_DNS_HDR 7
#define MUX_DNS_F_TCP 0x01 /* query: the client asked over TCP (no 512-byte limit) */

enum mux_stream {
	MUX_STREAM_MAIN = 0,   /* pty both ways, exec stdin, tcp both ways */
	MUX_STREAM_STDOUT = 1, /* exec only */
	MUX_STREAM_STDERR = 2, /* exec only */
};

/* HELLO flags */
#define MUX_HELLO_F_HOST 0x0001   /* sent by the host side */
#define MUX_HELLO_F_DIRECT 0x0002 /* agent: it serves a direct stream too (PROTOCOL.md 1.9) */

/* OPEN fields: u8 tag | u16 length | value */
enum mux_tag {
	MUX_TAG_TERM = 1,    /* string, <= MUX_MAX_TERM */
	MUX_TAG_SIZE = 2,    /* u16 rows, u16 cols */
	MUX_TAG_ENV = 3,     /* "NAME=value", repeatable, <= MUX_MAX_ENV */
	MUX_TAG_CWD = 4,     /* string */
	MUX_TAG_USER = 5,    /* string, <= MUX_MAX_USER */
	MUX_TAG_LOGIN = 6,   /* empty: run the shell as a login shell */
	MUX_TAG_ARGV = 7,    /* string, repeatable, <= MUX_MAX_ARGV */
	MUX_TAG_CMDLINE = 8, /* string: exec runs /bin/sh -c it; a shell runs SHELL -c it */
	MUX_TAG_STDIN = 9,   /* empty: exec reads stdin from the channel */
	MUX_TAG_PORT = 10,   /* u16 */
	MUX_TAG_HOST = 11,   /* string, a numeric IPv4/IPv6 address */
	MUX_TAG_SHELL = 12,  /* string: program for a shell channel */
	MUX_TAG_FILES = 13,  /* u8 op, u8 flags, path: the agent's tar builtin (1.3.1) */
	MUX_TAG_DETACH = 14, /* empty: exec starts the program detached (1.3.2) */
};

/* EXIT how */
enum { MUX_EXIT_CODE = 0, MUX_EXIT_SIGNAL = 1 };

/* Control operations (CTL_REQ op byte) */
enum mux_ctl_op {
	MUX_CTL_INFO = 1,     /* -> TLV info (see PROTOCOL.md) */
	MUX_CTL_HOSTNAME = 2, /* str16 hostname */
	MUX_CTL_ENTROPY = 3,  /* raw bytes, <= MUX_MAX_ENTROPY; credited to the RNG */
	MUX_CTL_TIME = 4,     /* u64 seconds, u32 nanoseconds since the epoch */
	MUX_CTL_LIST = 5,     /* -> u32 count, then count * {u32 id, u8 kind, u8 state, u32 pid} */
	MUX_CTL_POWEROFF = 6, /* sync filesystems and power off (PID 1) or exit */
	MUX_CTL_NET_RESET = 7, /* after a restore: forget the gateway's neighbour entry and
				* abort every TCP connection not on loopback -> u32 count */
};

/* INFO reply fields: u8 tag | u16 length | value */
enum mux_info_tag {
	MUX_INFO_HOSTNAME = 1, /* string */
	MUX_INFO_KERNEL = 2,   /* string: uname release */
	MUX_INFO_UPTIME = 3,   /* u64 milliseconds */
	MUX_INFO_MEMTOTAL = 4, /* u64 bytes */
	MUX_INFO_MEMFREE = 5,  /* u64 bytes (MemAvailable) */
	MUX_INFO_CHANNELS = 6, /* u32 open channels */
	MUX_INFO_AGENT = 7,    /* string: agent software version */
	MUX_INFO_PID1 = 8,     /* u8: 1 when the agent is PID 1 */
};

/* Error codes (ERROR, OPEN_FAIL, CTL_RESP status). Values are wire values. */
enum mux_err {
	MUX_OK = 0,
	MUX_AGAIN = 1,              /* reader: needs more input (never on the wire) */
	MUX_E_PROTO = -1,           /* malformed payload */
	MUX_E_VERSION = -2,         /* unsupported protocol version */
	MUX_E_TOOBIG = -3,          /* length above MUX_MAX_PAYLOAD */
	MUX_E_TYPE = -4,            /* unknown message type */
	MUX_E_NOCHAN = -5,          /* no such channel */
	MUX_E_EXISTS = -6,          /* channel id already in use */
	MUX_E_WINDOW = -7,          /* data beyond the granted window */
	MUX_E_SPAWN = -8,           /* could not start the process */
	MUX_E_CONNECT = -9,         /* tcp connect failed */
	MUX_E_LIMIT = -10,          /* too many channels or a field over its limit */
	MUX_E_UNSUPPORTED = -11,    /* known but not supported here */
	MUX_E_PERM = -12,           /* not permitted */
	MUX_E_KIND = -13,           /* unknown channel kind or field tag */
	MUX_E_STATE = -14,          /* message not valid in the channel's state */
};

const char *mux_strerror(int err);
const char *mux_type_name(uint8_t type);

/* A string or byte field pointing into the decoded payload (not NUL-terminated). */
struct mux_str {
	const char *p;
	uint16_t len;
};

struct mux_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t reserved;
	uint32_t channel;
	uint32_t length;
};

struct mux_frame {
	struct mux_hdr hdr;
	const uint8_t *payload; /* valid until the next mux_reader_feed */
};

/*
 * Incremental frame reader with a fixed internal buffer. Feed it bytes as
 * they arrive; it returns one frame at a time.
 *  MUX_OK     *f holds a complete, well-formed header and its payload
 *  MUX_AGAIN  all input consumed, no complete frame yet
 *  < 0        the frame in *f->hdr was refused (bad version, unknown type,
 *             non-zero reserved, too long); its payload is skipped without
 *             being buffered, so the stream stays in sync.
 * *used is always set to the number of input bytes consumed.
 */
struct mux_reader {
	uint8_t buf[MUX_HDR_LEN + MUX_MAX_PAYLOAD];
	size_t have;
	uint64_t skip; /* payload bytes of a refused frame still to discard */
	struct mux_hdr hdr;
	int hdr_ok;
};

void mux_reader_init(struct mux_reader *r);
int mux_reader_feed(struct mux_reader *r, const uint8_t *in, size_t len, size_t *used,
		    struct mux_frame *f);
/* Decode just a header (exactly MUX_HDR_LEN bytes); same refusals as the reader. */
int mux_hdr_decode(const uint8_t *p, struct mux_hdr *h);

/* ---- message bodies ---- */

struct mux_hello {
	uint16_t version;
	uint16_t flags;
	uint32_t features;
	struct mux_str software;
};

struct mux_open {
	uint8_t kind;
	uint32_t window;
	struct mux_str term, cwd, user, cmdline, host, shell;
	uint16_t rows, cols;
	int has_size, login, want_stdin, has_port;
	uint16_t port;
	struct mux_str env[MUX_MAX_ENV];
	unsigned nenv;
	struct mux_str argv[MUX_MAX_ARGV];
	unsigned nargv;
	uint8_t files_op;    /* MUX_FILES_PUT/GET, 0: no FILES field */
	uint8_t files_flags; /* MUX_FILES_RECURSIVE, MUX_FILES_MULTI */
	struct mux_str files_path;
	int detach; /* MUX_TAG_DETACH */
};

/* HELLO features bit: the agent serves the FILES builtin (PROTOCOL.md 1.3.1). */
#define MUX_FEATURE_FILES 0x00000001u

/* FILES (PROTOCOL.md 1.3.1): an exec whose program is the agent's tar builtin. */
enum mux_files_op {
	MUX_FILES_PUT = 1, /* stdin is a tar stream, extracted at the path */
	MUX_FILES_GET = 2, /* stdout is a tar stream of the path */
};
#define MUX_FILES_RECURSIVE 0x01 /* GET: a directory with its contents */
/* PUT: path is a directory (made like mkdir -p, 0755, when missing) and the
 * stream's entries, any number of roots, are extracted inside it, merging
 * into existing directories (a build's COPY/ADD). */
#define MUX_FILES_MULTI 0x02

struct mux_open_ok {
	uint32_t window;
	uint32_t pid;
};

struct mux_fail { /* OPEN_FAIL and ERROR */
	int32_t code;
	struct mux_str msg;
};

struct mux_data {
	uint8_t stream;
	const uint8_t *p;
	uint32_t len;
};

struct mux_resize {
	uint16_t rows, cols, xpixel, ypixel;
};

struct mux_exit {
	uint8_t how; /* MUX_EXIT_CODE or MUX_EXIT_SIGNAL */
	uint8_t core;
	int32_t value;
};

struct mux_ctl_req {
	uint32_t id;
	uint8_t op;
	const uint8_t *arg; /* op-specific argument bytes */
	uint32_t arglen;
};

struct mux_ctl_resp {
	uint32_t id;
	int32_t status;
	const uint8_t *body;
	uint32_t bodylen;
};

struct mux_chan_info {
	uint32_t id;
	uint8_t kind;
	uint8_t state; /* 0 running, 1 exited (output pending), 2 closing */
	uint32_t pid;
};

/*
 * Decoders: check type and channel rules, every length against its maximum,
 * and that the payload holds exactly what the message defines (no trailing
 * bytes). Return MUX_OK or a negative mux_err; on error *out is unspecified.
 */
int mux_decode_hello(const struct mux_frame *f, struct mux_hello *out);
int mux_decode_ping(const struct mux_frame *f, uint64_t *cookie); /* PING and PONG */
int mux_decode_open(const struct mux_frame *f, struct mux_open *out);
int mux_decode_open_ok(const struct mux_frame *f, struct mux_open_ok *out);
int mux_decode_fail(const struct mux_frame *f, struct mux_fail *out); /* OPEN_FAIL, ERROR */
int mux_decode_data(const struct mux_frame *f, struct mux_data *out);
int mux_decode_window(const struct mux_frame *f, uint32_t *incr);
int mux_decode_resize(const struct mux_frame *f, struct mux_resize *out);
int mux_decode_signal(const struct mux_frame *f, uint8_t *signo);
int mux_decode_eof(const struct mux_frame *f, uint8_t *stream);
int mux_decode_exit(const struct mux_frame *f, struct mux_exit *out);
int mux_decode_close(const struct mux_frame *f);
int mux_decode_ctl_req(const struct mux_frame *f, struct mux_ctl_req *out);
int mux_decode_ctl_resp(const struct mux_frame *f, struct mux_ctl_resp *out);
/* CTL argument/reply bodies */
int mux_decode_ctl_time(const uint8_t *p, uint32_t len, uint64_t *sec, uint32_t *nsec);
int mux_decode_ctl_hostname(const uint8_t *p, uint32_t len, struct mux_str *name);
/* LIST reply: call with idx 0..count-1 after reading the count. */
int mux_decode_list(const uint8_t *p, uint32_t len, uint32_t *count);
int mux_decode_list_entry(const uint8_t *p, uint32_t len, uint32_t idx, struct mux_chan_info *out);
/* INFO reply: iterate TLVs; returns MUX_OK and advances *r, MUX_AGAIN at end. */
int mux_info_next(struct rd *r, uint8_t *tag, struct mux_str *val);

/*
 * Encoders append one whole frame to `b` or nothing (BUF_E_FULL mapped to
 * MUX_E_LIMIT). Inputs over their maximum are refused with MUX_E_LIMIT.
 */
int mux_put_hello(struct buf *b, uint16_t flags, uint32_t features, const char *software);
int mux_put_ping(struct buf *b, uint8_t type, uint64_t cookie); /* MUX_PING or MUX_PONG */
int mux_put_open(struct buf *b, uint32_t ch, const struct mux_open *o);
int mux_put_open_ok(struct buf *b, uint32_t ch, uint32_t window, uint32_t pid);
int mux_put_fail(struct buf *b, uint8_t type, uint32_t ch, int32_t code, const char *msg);
int mux_put_data(struct buf *b, uint32_t ch, uint8_t stream, const void *p, size_t n);
int mux_put_window(struct buf *b, uint32_t ch, uint32_t incr);
int mux_put_resize(struct buf *b, uint32_t ch, const struct mux_resize *r);
int mux_put_signal(struct buf *b, uint32_t ch, uint8_t signo);
int mux_put_eof(struct buf *b, uint32_t ch, uint8_t stream);
int mux_put_exit(struct buf *b, uint32_t ch, const struct mux_exit *e);
int mux_put_close(struct buf *b, uint32_t ch);
int mux_put_ctl_req(struct buf *b, uint32_t id, uint8_t op, const void *arg, size_t arglen);
int mux_put_ctl_resp(struct buf *b, uint32_t id, int32_t status, const void *body, size_t len);
/* Helpers to build CTL argument bodies and INFO/LIST replies into a scratch buf. */
int mux_put_tlv(struct buf *b, uint8_t tag, const void *p, size_t n);
int mux_put_tlv_u64(struct buf *b, uint8_t tag, uint64_t v);

/* Convenience for building a struct mux_str from a C string. */
struct mux_str mux_cstr(const char *s);

#endif
