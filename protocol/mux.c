/*
 * mux.c - encode/decode for the hearth agent protocol (see mux.h and
 * protocol/PROTOCOL.md). Pure code: no I/O, no allocation except inside the
 * caller's struct buf.
 */
#include "mux.h"

#include <string.h>

/* ---- names ---- */

static const struct {
	int code;
	const char *text;
} mux_errors[] = {
	{ MUX_OK, "ok" },
	{ MUX_AGAIN, "need more input" },
	{ MUX_E_PROTO, "malformed message" },
	{ MUX_E_VERSION, "unsupported protocol version" },
	{ MUX_E_TOOBIG, "frame too long" },
	{ MUX_E_TYPE, "unknown message type" },
	{ MUX_E_NOCHAN, "no such channel" },
	{ MUX_E_EXISTS, "channel id in use" },
	{ MUX_E_WINDOW, "data beyond window" },
	{ MUX_E_SPAWN, "cannot start process" },
	{ MUX_E_CONNECT, "connect failed" },
	{ MUX_E_LIMIT, "over a limit" },
	{ MUX_E_UNSUPPORTED, "not supported" },
	{ MUX_E_PERM, "not permitted" },
	{ MUX_E_KIND, "unknown channel kind or field" },
	{ MUX_E_STATE, "not valid in this state" },
};

const char *mux_strerror(int err)
{
	for (size_t i = 0; i < sizeof(mux_errors) / sizeof(mux_errors[0]); i++)
		if (mux_errors[i].code == err)
			return mux_errors[i].text;
	return "unknown error";
}

static const char *const mux_type_names[256] = {
	[MUX_HELLO] = "HELLO",	     [MUX_PING] = "PING",	   [MUX_PONG] = "PONG",
	[MUX_CTL_REQ] = "CTL_REQ",   [MUX_CTL_RESP] = "CTL_RESP", [MUX_OPEN] = "OPEN",
	[MUX_OPEN_OK] = "OPEN_OK",   [MUX_OPEN_FAIL] = "OPEN_FAIL", [MUX_DATA] = "DATA",
	[MUX_WINDOW] = "WINDOW",     [MUX_RESIZE] = "RESIZE",	   [MUX_SIGNAL] = "SIGNAL",
	[MUX_EOF] = "EOF",	     [MUX_EXIT] = "EXIT",	   [MUX_CLOSE] = "CLOSE",
	[MUX_ERROR] = "ERROR",
};

const char *mux_type_name(uint8_t type)
{
	return mux_type_names[type] ? mux_type_names[type] : NULL;
}

/*
 * Which channels a type may travel on: control-only types on channel 0,
 * channel types on 1..n, ERROR on either.
 */
enum { ON_CTL = 1, ON_CHAN = 2 };
static const uint8_t mux_type_where[256] = {
	[MUX_HELLO] = ON_CTL,	 [MUX_PING] = ON_CTL,	 [MUX_PONG] = ON_CTL,
	[MUX_CTL_REQ] = ON_CTL,	 [MUX_CTL_RESP] = ON_CTL, [MUX_OPEN] = ON_CHAN,
	[MUX_OPEN_OK] = ON_CHAN, [MUX_OPEN_FAIL] = ON_CHAN, [MUX_DATA] = ON_CHAN,
	[MUX_WINDOW] = ON_CHAN,	 [MUX_RESIZE] = ON_CHAN, [MUX_SIGNAL] = ON_CHAN,
	[MUX_EOF] = ON_CHAN,	 [MUX_EXIT] = ON_CHAN,	 [MUX_CLOSE] = ON_CHAN,
	[MUX_ERROR] = ON_CTL | ON_CHAN,
};

/* ---- header and reader ---- */

int mux_hdr_decode(const uint8_t *p, struct mux_hdr *h)
{
	h->version = p[0];
	h->type = p[1];
	h->reserved = get_be16(p + 2);
	h->channel = get_be32(p + 4);
	h->length = get_be32(p + 8);
	if (h->version != MUX_VERSION)
		return MUX_E_VERSION;
	if (h->length > MUX_MAX_PAYLOAD)
		return MUX_E_TOOBIG;
	if (mux_type_where[h->type] == 0)
		return MUX_E_TYPE;
	if (h->reserved != 0)
		return MUX_E_PROTO;
	if (!(mux_type_where[h->type] & (h->channel == 0 ? ON_CTL : ON_CHAN)))
		return MUX_E_PROTO;
	return MUX_OK;
}

void mux_reader_init(struct mux_reader *r)
{
	r->have = 0;
	r->skip = 0;
	r->hdr_ok = 0;
	memset(&r->hdr, 0, sizeof(r->hdr));
}

int mux_reader_feed(struct mux_reader *r, const uint8_t *in, size_t len, size_t *used,
		    struct mux_frame *f)
{
	size_t pos = 0, n;
	int rc;

	/* Discard the rest of a refused frame without buffering it. */
	if (r->skip > 0) {
		n = len < r->skip ? len : (size_t)r->skip;
		r->skip -= n;
		pos += n;
		if (r->skip > 0) {
			*used = pos;
			return MUX_AGAIN;
		}
	}
	if (r->have < MUX_HDR_LEN) {
		n = MUX_HDR_LEN - r->have;
		if (n > len - pos)
			n = len - pos;
		memcpy(r->buf + r->have, in + pos, n);
		r->have += n;
		pos += n;
		if (r->have < MUX_HDR_LEN) {
			*used = pos;
			return MUX_AGAIN;
		}
		rc = mux_hdr_decode(r->buf, &r->hdr);
		if (rc != MUX_OK) {
			/* Refused: report it, skip its payload, keep the stream in sync. */
			f->hdr = r->hdr;
			f->payload = NULL;
			r->skip = r->hdr.length;
			r->have = 0;
			n = len - pos < r->skip ? len - pos : (size_t)r->skip;
			r->skip -= n;
			pos += n;
			*used = pos;
			return rc;
		}
	}
	n = MUX_HDR_LEN + r->hdr.length - r->have;
	if (n > len - pos)
		n = len - pos;
	memcpy(r->buf + r->have, in + pos, n);
	r->have += n;
	pos += n;
	*used = pos;
	if (r->have < MUX_HDR_LEN + r->hdr.length)
		return MUX_AGAIN;
	f->hdr = r->hdr;
	f->payload = r->buf + MUX_HDR_LEN;
	r->have = 0;
	return MUX_OK;
}

/* ---- decoding helpers ---- */

static struct rd frame_rd(const struct mux_frame *f)
{
	return rd_make(f->payload, f->hdr.length);
}

static int want(const struct mux_frame *f, uint8_t type)
{
	return f->hdr.type == type ? MUX_OK : MUX_E_PROTO;
}

/* A string field with a u16 length prefix, at most max bytes, no NUL. */
static int rd_str16(struct rd *r, size_t max, struct mux_str *s)
{
	uint16_t n;
	const uint8_t *p;

	if (rd_u16(r, &n) != BUF_OK || rd_bytes(r, n, &p) != BUF_OK)
		return MUX_E_PROTO;
	if (n > max)
		return MUX_E_LIMIT;
	if (memchr(p, 0, n) != NULL)
		return MUX_E_PROTO;
	s->p = (const char *)p;
	s->len = n;
	return MUX_OK;
}

static int check_str(const uint8_t *p, size_t n, size_t max, struct mux_str *s)
{
	if (n > max)
		return MUX_E_LIMIT;
	if (memchr(p, 0, n) != NULL)
		return MUX_E_PROTO;
	s->p = (const char *)p;
	s->len = (uint16_t)n;
	return MUX_OK;
}

static int at_end(const struct rd *r)
{
	return r->len == 0 ? MUX_OK : MUX_E_PROTO;
}

struct mux_str mux_cstr(const char *s)
{
	struct mux_str m = { s, 0 };
	size_t n = s ? strlen(s) : 0;

	m.len = n > 0xffff ? 0xffff : (uint16_t)n;
	return m;
}

/* ---- decoders ---- */

int mux_decode_hello(const struct mux_frame *f, struct mux_hello *out)
{
	struct rd r = frame_rd(f);
	int rc;

	if (want(f, MUX_HELLO) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u16(&r, &out->version) || rd_u16(&r, &out->flags) || rd_u32(&r, &out->features))
		return MUX_E_PROTO;
	if ((rc = rd_str16(&r, MUX_MAX_SOFTWARE, &out->software)) != MUX_OK)
		return rc;
	if (out->version == 0)
		return MUX_E_VERSION;
	return at_end(&r);
}

int mux_decode_ping(const struct mux_frame *f, uint64_t *cookie)
{
	struct rd r = frame_rd(f);

	if (f->hdr.type != MUX_PING && f->hdr.type != MUX_PONG)
		return MUX_E_PROTO;
	if (rd_u64(&r, cookie))
		return MUX_E_PROTO;
	return at_end(&r);
}

/* Channel kinds this version defines (4 is kept for file channels). */
static int kind_known(uint8_t kind)
{
	return (kind >= MUX_KIND_SHELL && kind <= MUX_KIND_TCP) || kind == MUX_KIND_DNS ||
	       kind == MUX_KIND_IDENTITY;
}

/* One OPEN field: the table says which kinds may carry it and how to store it. */
typedef int (*open_field_fn)(struct mux_open *o, const uint8_t *p, uint16_t n);

static int field_term(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_TERM, &o->term);
}

static int field_size(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n != 4)
		return MUX_E_PROTO;
	o->rows = get_be16(p);
	o->cols = get_be16(p + 2);
	o->has_size = 1;
	return MUX_OK;
}

static int field_env(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	int rc;

	if (o->nenv >= MUX_MAX_ENV)
		return MUX_E_LIMIT;
	if ((rc = check_str(p, n, MUX_MAX_STR, &o->env[o->nenv])) != MUX_OK)
		return rc;
	/* "NAME=value" with a non-empty name */
	if (n == 0 || p[0] == '=' || memchr(p, '=', n) == NULL)
		return MUX_E_PROTO;
	o->nenv++;
	return MUX_OK;
}

static int field_cwd(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_STR, &o->cwd);
}

static int field_user(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_USER, &o->user);
}

static int field_login(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n != 0)
		return MUX_E_PROTO;
	o->login = 1;
	return MUX_OK;
}

static int field_argv(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (o->nargv >= MUX_MAX_ARGV)
		return MUX_E_LIMIT;
	return check_str(p, n, MUX_MAX_STR, &o->argv[o->nargv++]);
}

static int field_cmdline(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_STR, &o->cmdline);
}

static int field_stdin(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n != 0)
		return MUX_E_PROTO;
	o->want_stdin = 1;
	return MUX_OK;
}

static int field_port(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n != 2)
		return MUX_E_PROTO;
	o->port = get_be16(p);
	o->has_port = 1;
	return o->port ? MUX_OK : MUX_E_PROTO;
}

static int field_host(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_HOST, &o->host);
}

static int field_shell(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	return check_str(p, n, MUX_MAX_STR, &o->shell);
}

static int field_files(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n < 3)
		return MUX_E_PROTO;
	if (p[0] != MUX_FILES_PUT && p[0] != MUX_FILES_GET)
		return MUX_E_PROTO;
	if (p[1] & ~(MUX_FILES_RECURSIVE | MUX_FILES_MULTI))
		return MUX_E_PROTO;
	if ((p[1] & MUX_FILES_MULTI) && p[0] != MUX_FILES_PUT)
		return MUX_E_PROTO; /* MULTI is a PUT's */
	o->files_op = p[0];
	o->files_flags = p[1];
	return check_str(p + 2, (uint16_t)(n - 2), MUX_MAX_STR, &o->files_path);
}

static int field_detach(struct mux_open *o, const uint8_t *p, uint16_t n)
{
	if (n != 0)
		return MUX_E_PROTO;
	o->detach = 1;
	return MUX_OK;
}

#define K_SHELL (1u << MUX_KIND_SHELL)
#define K_EXEC (1u << MUX_KIND_EXEC)
#define K_TCP (1u << MUX_KIND_TCP)
/* repeatable fields may appear more than once */
#define F_REPEAT 0x100u

static const struct {
	open_field_fn fn;
	unsigned kinds; /* K_* bits plus F_REPEAT */
} open_fields[] = {
	[MUX_TAG_TERM] = { field_term, K_SHELL },
	[MUX_TAG_SIZE] = { field_size, K_SHELL },
	[MUX_TAG_ENV] = { field_env, K_SHELL | K_EXEC | F_REPEAT },
	[MUX_TAG_CWD] = { field_cwd, K_SHELL | K_EXEC },
	[MUX_TAG_USER] = { field_user, K_SHELL | K_EXEC },
	[MUX_TAG_LOGIN] = { field_login, K_SHELL },
	[MUX_TAG_ARGV] = { field_argv, K_EXEC | F_REPEAT },
	[MUX_TAG_CMDLINE] = { field_cmdline, K_SHELL | K_EXEC },
	[MUX_TAG_STDIN] = { field_stdin, K_EXEC },
	[MUX_TAG_PORT] = { field_port, K_TCP },
	[MUX_TAG_HOST] = { field_host, K_TCP },
	[MUX_TAG_SHELL] = { field_shell, K_SHELL },
	[MUX_TAG_FILES] = { field_files, K_EXEC },
	[MUX_TAG_DETACH] = { field_detach, K_EXEC },
};
#define OPEN_NFIELDS (sizeof(open_fields) / sizeof(open_fields[0]))

int mux_decode_open(const struct mux_frame *f, struct mux_open *out)
{
	struct rd r = frame_rd(f);
	uint8_t reserved8, tag;
	uint16_t reserved16, n;
	const uint8_t *p;
	uint32_t seen = 0;
	int rc;

	if (want(f, MUX_OPEN) != MUX_OK)
		return MUX_E_PROTO;
	memset(out, 0, sizeof(*out));
	if (rd_u8(&r, &out->kind) || rd_u8(&r, &reserved8) || rd_u16(&r, &reserved16) ||
	    rd_u32(&r, &out->window))
		return MUX_E_PROTO;
	if (!kind_known(out->kind))
		return MUX_E_KIND;
	if (reserved8 || reserved16)
		return MUX_E_PROTO;
	if (out->window == 0 || out->window > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	while (r.len > 0) {
		if (rd_u8(&r, &tag) || rd_u16(&r, &n) || rd_bytes(&r, n, &p))
			return MUX_E_PROTO;
		if (tag == 0 || tag >= OPEN_NFIELDS || open_fields[tag].fn == NULL)
			return MUX_E_KIND;
		if (!(open_fields[tag].kinds & (1u << out->kind)))
			return MUX_E_KIND;
		if ((seen & (1u << tag)) && !(open_fields[tag].kinds & F_REPEAT))
			return MUX_E_PROTO;
		seen |= 1u << tag;
		if ((rc = open_fields[tag].fn(out, p, n)) != MUX_OK)
			return rc;
	}
	/* Kind-level rules: exec needs exactly one of argv / cmdline / files, tcp a port. */
	if (out->kind == MUX_KIND_EXEC &&
	    (out->nargv > 0) + (out->cmdline.p != NULL) + (out->files_op != 0) != 1)
		return MUX_E_PROTO;
	/* PUT reads its tar stream from the channel */
	if (out->files_op == MUX_FILES_PUT && !out->want_stdin)
		return MUX_E_PROTO;
	/* a detached program has no stdin from the channel and is no builtin */
	if (out->detach && (out->want_stdin || out->files_op))
		return MUX_E_PROTO;
	if (out->kind == MUX_KIND_EXEC && out->nargv > 0 && out->argv[0].len == 0)
		return MUX_E_PROTO;
	if (out->kind == MUX_KIND_TCP && !out->has_port)
		return MUX_E_PROTO;
	return MUX_OK;
}

int mux_decode_open_ok(const struct mux_frame *f, struct mux_open_ok *out)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_OPEN_OK) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u32(&r, &out->window) || rd_u32(&r, &out->pid))
		return MUX_E_PROTO;
	if (out->window == 0 || out->window > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_fail(const struct mux_frame *f, struct mux_fail *out)
{
	struct rd r = frame_rd(f);
	uint32_t code;
	int rc;

	if (f->hdr.type != MUX_OPEN_FAIL && f->hdr.type != MUX_ERROR)
		return MUX_E_PROTO;
	if (rd_u32(&r, &code))
		return MUX_E_PROTO;
	out->code = (int32_t)code;
	if ((rc = rd_str16(&r, MUX_MAX_MSG, &out->msg)) != MUX_OK)
		return rc;
	return at_end(&r);
}

int mux_decode_data(const struct mux_frame *f, struct mux_data *out)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_DATA) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u8(&r, &out->stream) || out->stream > MUX_STREAM_STDERR)
		return MUX_E_PROTO;
	out->p = r.p;
	out->len = (uint32_t)r.len;
	return MUX_OK;
}

int mux_decode_window(const struct mux_frame *f, uint32_t *incr)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_WINDOW) != MUX_OK || rd_u32(&r, incr))
		return MUX_E_PROTO;
	if (*incr == 0 || *incr > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_resize(const struct mux_frame *f, struct mux_resize *out)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_RESIZE) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u16(&r, &out->rows) || rd_u16(&r, &out->cols) || rd_u16(&r, &out->xpixel) ||
	    rd_u16(&r, &out->ypixel))
		return MUX_E_PROTO;
	if (out->rows == 0 || out->cols == 0)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_signal(const struct mux_frame *f, uint8_t *signo)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_SIGNAL) != MUX_OK || rd_u8(&r, signo))
		return MUX_E_PROTO;
	if (*signo == 0 || *signo > 64)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_eof(const struct mux_frame *f, uint8_t *stream)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_EOF) != MUX_OK || rd_u8(&r, stream) || *stream > MUX_STREAM_STDERR)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_exit(const struct mux_frame *f, struct mux_exit *out)
{
	struct rd r = frame_rd(f);
	uint16_t reserved;
	uint32_t v;

	if (want(f, MUX_EXIT) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u8(&r, &out->how) || rd_u8(&r, &out->core) || rd_u16(&r, &reserved) ||
	    rd_u32(&r, &v))
		return MUX_E_PROTO;
	out->value = (int32_t)v;
	if (out->how > MUX_EXIT_SIGNAL || out->core > 1 || reserved)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_close(const struct mux_frame *f)
{
	if (want(f, MUX_CLOSE) != MUX_OK || f->hdr.length != 0)
		return MUX_E_PROTO;
	return MUX_OK;
}

int mux_decode_ctl_req(const struct mux_frame *f, struct mux_ctl_req *out)
{
	struct rd r = frame_rd(f);

	if (want(f, MUX_CTL_REQ) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u32(&r, &out->id) || rd_u8(&r, &out->op))
		return MUX_E_PROTO;
	if (out->op < MUX_CTL_INFO || out->op > MUX_CTL_NET_RESET)
		return MUX_E_KIND;
	out->arg = r.p;
	out->arglen = (uint32_t)r.len;
	return MUX_OK;
}

int mux_decode_ctl_resp(const struct mux_frame *f, struct mux_ctl_resp *out)
{
	struct rd r = frame_rd(f);
	uint32_t st;

	if (want(f, MUX_CTL_RESP) != MUX_OK)
		return MUX_E_PROTO;
	if (rd_u32(&r, &out->id) || rd_u32(&r, &st))
		return MUX_E_PROTO;
	out->status = (int32_t)st;
	out->body = r.p;
	out->bodylen = (uint32_t)r.len;
	return MUX_OK;
}

int mux_decode_ctl_time(const uint8_t *p, uint32_t len, uint64_t *sec, uint32_t *nsec)
{
	struct rd r = rd_make(p, len);

	if (rd_u64(&r, sec) || rd_u32(&r, nsec) || *nsec >= 1000000000u)
		return MUX_E_PROTO;
	return at_end(&r);
}

int mux_decode_ctl_hostname(const uint8_t *p, uint32_t len, struct mux_str *name)
{
	struct rd r = rd_make(p, len);
	int rc;

	if ((rc = rd_str16(&r, 64, name)) != MUX_OK)
		return rc;
	if (name->len == 0)
		return MUX_E_PROTO;
	for (uint16_t i = 0; i < name->len; i++) {
		char c = name->p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return MUX_E_PROTO;
	}
	return at_end(&r);
}

#define LIST_ENTRY_LEN 10u

int mux_decode_list(const uint8_t *p, uint32_t len, uint32_t *count)
{
	struct rd r = rd_make(p, len);

	if (rd_u32(&r, count) || *count > MUX_MAX_LIST)
		return MUX_E_PROTO;
	if (r.len != (size_t)*count * LIST_ENTRY_LEN)
		return MUX_E_PROTO;
	return MUX_OK;
}

int mux_decode_list_entry(const uint8_t *p, uint32_t len, uint32_t idx, struct mux_chan_info *out)
{
	uint32_t count;
	struct rd r;

	if (mux_decode_list(p, len, &count) != MUX_OK || idx >= count)
		return MUX_E_PROTO;
	r = rd_make(p + 4 + (size_t)idx * LIST_ENTRY_LEN, LIST_ENTRY_LEN);
	if (rd_u32(&r, &out->id) || rd_u8(&r, &out->kind) || rd_u8(&r, &out->state) ||
	    rd_u32(&r, &out->pid))
		return MUX_E_PROTO;
	return MUX_OK;
}

int mux_info_next(struct rd *r, uint8_t *tag, struct mux_str *val)
{
	uint16_t n;
	const uint8_t *p;

	if (r->len == 0)
		return MUX_AGAIN;
	if (rd_u8(r, tag) || rd_u16(r, &n) || rd_bytes(r, n, &p))
		return MUX_E_PROTO;
	val->p = (const char *)p;
	val->len = n;
	return MUX_OK;
}

/* ---- encoders ---- */

/*
 * Frames are built in place: reserve the header, append the payload, then
 * patch the length. On any failure the buffer is rolled back to where it was.
 */
struct frame_mark {
	size_t start; /* relative to b->off: buf_reserve may compact or move the data */
};

static int frame_begin(struct buf *b, uint8_t type, uint32_t ch, struct frame_mark *m)
{
	uint8_t h[MUX_HDR_LEN];

	h[0] = MUX_VERSION;
	h[1] = type;
	put_be16(h + 2, 0);
	put_be32(h + 4, ch);
	put_be32(h + 8, 0);
	m->start = buf_used(b);
	return buf_put(b, h, sizeof(h)) == BUF_OK ? MUX_OK : MUX_E_LIMIT;
}

static int frame_end(struct buf *b, const struct frame_mark *m, int ok)
{
	size_t plen;

	size_t start = b->off + m->start;

	if (!ok) {
		b->len = start;
		return MUX_E_LIMIT;
	}
	plen = b->len - start - MUX_HDR_LEN;
	if (plen > MUX_MAX_PAYLOAD) {
		b->len = start;
		return MUX_E_LIMIT;
	}
	put_be32(b->data + start + 8, (uint32_t)plen);
	return MUX_OK;
}

int mux_put_tlv(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	if (n > 0xffff)
		return MUX_E_LIMIT;
	if (buf_room(b) < 3 + n)
		return MUX_E_LIMIT;
	if (buf_put_u8(b, tag) || buf_put_u16(b, (uint16_t)n) || buf_put(b, p, n))
		return MUX_E_LIMIT;
	return MUX_OK;
}

int mux_put_tlv_u64(struct buf *b, uint8_t tag, uint64_t v)
{
	uint8_t t[8];

	put_be64(t, v);
	return mux_put_tlv(b, tag, t, sizeof(t));
}

int mux_put_hello(struct buf *b, uint16_t flags, uint32_t features, const char *software)
{
	struct frame_mark m;
	size_t n = software ? strlen(software) : 0;

	if (n > MUX_MAX_SOFTWARE)
		return MUX_E_LIMIT;
	if (frame_begin(b, MUX_HELLO, 0, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m,
			 !buf_put_u16(b, MUX_VERSION) && !buf_put_u16(b, flags) &&
				 !buf_put_u32(b, features) && !buf_put_str16(b, software, n));
}

int mux_put_ping(struct buf *b, uint8_t type, uint64_t cookie)
{
	struct frame_mark m;

	if (type != MUX_PING && type != MUX_PONG)
		return MUX_E_PROTO;
	if (frame_begin(b, type, 0, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u64(b, cookie));
}

static int put_str_field(struct buf *b, uint8_t tag, struct mux_str s, size_t max)
{
	if (s.p == NULL)
		return MUX_OK;
	if (s.len > max || memchr(s.p, 0, s.len))
		return MUX_E_LIMIT;
	return mux_put_tlv(b, tag, s.p, s.len);
}

static int put_open_fields(struct buf *b, const struct mux_open *o)
{
	uint8_t t[4];

	if (put_str_field(b, MUX_TAG_TERM, o->term, MUX_MAX_TERM) ||
	    put_str_field(b, MUX_TAG_CWD, o->cwd, MUX_MAX_STR) ||
	    put_str_field(b, MUX_TAG_USER, o->user, MUX_MAX_USER) ||
	    put_str_field(b, MUX_TAG_CMDLINE, o->cmdline, MUX_MAX_STR) ||
	    put_str_field(b, MUX_TAG_HOST, o->host, MUX_MAX_HOST) ||
	    put_str_field(b, MUX_TAG_SHELL, o->shell, MUX_MAX_STR))
		return MUX_E_LIMIT;
	if (o->has_size) {
		put_be16(t, o->rows);
		put_be16(t + 2, o->cols);
		if (mux_put_tlv(b, MUX_TAG_SIZE, t, 4))
			return MUX_E_LIMIT;
	}
	if (o->login && mux_put_tlv(b, MUX_TAG_LOGIN, NULL, 0))
		return MUX_E_LIMIT;
	if (o->want_stdin && mux_put_tlv(b, MUX_TAG_STDIN, NULL, 0))
		return MUX_E_LIMIT;
	if (o->detach && mux_put_tlv(b, MUX_TAG_DETACH, NULL, 0))
		return MUX_E_LIMIT;
	if (o->has_port) {
		put_be16(t, o->port);
		if (mux_put_tlv(b, MUX_TAG_PORT, t, 2))
			return MUX_E_LIMIT;
	}
	if (o->nenv > MUX_MAX_ENV || o->nargv > MUX_MAX_ARGV)
		return MUX_E_LIMIT;
	for (unsigned i = 0; i < o->nenv; i++)
		if (put_str_field(b, MUX_TAG_ENV, o->env[i], MUX_MAX_STR))
			return MUX_E_LIMIT;
	for (unsigned i = 0; i < o->nargv; i++)
		if (put_str_field(b, MUX_TAG_ARGV, o->argv[i], MUX_MAX_STR))
			return MUX_E_LIMIT;
	if (o->files_op) {
		uint8_t v[2 + MUX_MAX_STR];
		if (o->files_path.len == 0 || o->files_path.len > MUX_MAX_STR ||
		    memchr(o->files_path.p, 0, o->files_path.len))
			return MUX_E_LIMIT;
		v[0] = o->files_op;
		v[1] = o->files_flags;
		memcpy(v + 2, o->files_path.p, o->files_path.len);
		if (mux_put_tlv(b, MUX_TAG_FILES, v, 2 + o->files_path.len))
			return MUX_E_LIMIT;
	}
	return MUX_OK;
}

int mux_put_open(struct buf *b, uint32_t ch, const struct mux_open *o)
{
	struct frame_mark m;

	if (ch == 0 || !kind_known(o->kind))
		return MUX_E_PROTO;
	if (o->window == 0 || o->window > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_OPEN, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m,
			 !buf_put_u8(b, o->kind) && !buf_put_u8(b, 0) && !buf_put_u16(b, 0) &&
				 !buf_put_u32(b, o->window) && !put_open_fields(b, o));
}

int mux_put_open_ok(struct buf *b, uint32_t ch, uint32_t window, uint32_t pid)
{
	struct frame_mark m;

	if (ch == 0 || window == 0 || window > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_OPEN_OK, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u32(b, window) && !buf_put_u32(b, pid));
}

int mux_put_fail(struct buf *b, uint8_t type, uint32_t ch, int32_t code, const char *msg)
{
	struct frame_mark m;
	size_t n = msg ? strlen(msg) : 0;

	if (type != MUX_OPEN_FAIL && type != MUX_ERROR)
		return MUX_E_PROTO;
	if (type == MUX_OPEN_FAIL && ch == 0)
		return MUX_E_PROTO;
	if (n > MUX_MAX_MSG)
		n = MUX_MAX_MSG; /* messages are advisory: truncate rather than fail */
	if (frame_begin(b, type, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u32(b, (uint32_t)code) && !buf_put_str16(b, msg, n));
}

int mux_put_data(struct buf *b, uint32_t ch, uint8_t stream, const void *p, size_t n)
{
	struct frame_mark m;

	if (ch == 0 || stream > MUX_STREAM_STDERR)
		return MUX_E_PROTO;
	if (n > MUX_MAX_DATA)
		return MUX_E_LIMIT;
	if (buf_room(b) < MUX_HDR_LEN + 1 + n)
		return MUX_E_LIMIT;
	if (frame_begin(b, MUX_DATA, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u8(b, stream) && !buf_put(b, p, n));
}

int mux_put_window(struct buf *b, uint32_t ch, uint32_t incr)
{
	struct frame_mark m;

	if (ch == 0 || incr == 0 || incr > MUX_MAX_WINDOW)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_WINDOW, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u32(b, incr));
}

int mux_put_resize(struct buf *b, uint32_t ch, const struct mux_resize *r)
{
	struct frame_mark m;

	if (ch == 0 || r->rows == 0 || r->cols == 0)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_RESIZE, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m,
			 !buf_put_u16(b, r->rows) && !buf_put_u16(b, r->cols) &&
				 !buf_put_u16(b, r->xpixel) && !buf_put_u16(b, r->ypixel));
}

int mux_put_signal(struct buf *b, uint32_t ch, uint8_t signo)
{
	struct frame_mark m;

	if (ch == 0 || signo == 0 || signo > 64)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_SIGNAL, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u8(b, signo));
}

int mux_put_eof(struct buf *b, uint32_t ch, uint8_t stream)
{
	struct frame_mark m;

	if (ch == 0 || stream > MUX_STREAM_STDERR)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_EOF, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u8(b, stream));
}

int mux_put_exit(struct buf *b, uint32_t ch, const struct mux_exit *e)
{
	struct frame_mark m;

	if (ch == 0 || e->how > MUX_EXIT_SIGNAL || e->core > 1)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_EXIT, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m,
			 !buf_put_u8(b, e->how) && !buf_put_u8(b, e->core) && !buf_put_u16(b, 0) &&
				 !buf_put_u32(b, (uint32_t)e->value));
}

int mux_put_close(struct buf *b, uint32_t ch)
{
	struct frame_mark m;

	if (ch == 0)
		return MUX_E_PROTO;
	if (frame_begin(b, MUX_CLOSE, ch, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, 1);
}

int mux_put_ctl_req(struct buf *b, uint32_t id, uint8_t op, const void *arg, size_t arglen)
{
	struct frame_mark m;

	if (op < MUX_CTL_INFO || op > MUX_CTL_NET_RESET)
		return MUX_E_PROTO;
	if (arglen > MUX_MAX_PAYLOAD - 5)
		return MUX_E_LIMIT;
	if (frame_begin(b, MUX_CTL_REQ, 0, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m, !buf_put_u32(b, id) && !buf_put_u8(b, op) && !buf_put(b, arg, arglen));
}

int mux_put_ctl_resp(struct buf *b, uint32_t id, int32_t status, const void *body, size_t len)
{
	struct frame_mark m;

	if (len > MUX_MAX_PAYLOAD - 8)
		return MUX_E_LIMIT;
	if (frame_begin(b, MUX_CTL_RESP, 0, &m))
		return MUX_E_LIMIT;
	return frame_end(b, &m,
			 !buf_put_u32(b, id) && !buf_put_u32(b, (uint32_t)status) &&
				 !buf_put(b, body, len));
}
