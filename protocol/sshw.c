/*
 * sshw.c - hearthd <-> SSH worker frames; see sshw.h and PROTOCOL.md 6.
 */
#include "protocol/sshw.h"

#include <string.h>

/* Who may send each type, and on which kind of channel. */
struct sshw_rule {
	uint8_t type;
	uint8_t from_worker, from_hearthd;
	uint8_t on_zero; /* 1: channel 0 only; 0: channels 1.. only */
};

static const struct sshw_rule rules[] = {
	{ SSHW_HOSTKEY, 0, 1, 1 },   { SSHW_AUTH, 1, 0, 1 },      { SSHW_AUTH_OK, 0, 1, 1 },
	{ SSHW_AUTH_FAIL, 0, 1, 1 }, { SSHW_OPEN, 1, 0, 0 },      { SSHW_OPEN_OK, 0, 1, 0 },
	{ SSHW_OPEN_FAIL, 0, 1, 0 }, { SSHW_DATA, 1, 1, 0 },      { SSHW_WINDOW, 1, 1, 0 },
	{ SSHW_RESIZE, 1, 0, 0 },    { SSHW_SIGNAL, 1, 0, 0 },    { SSHW_EOF, 1, 1, 0 },
	{ SSHW_EXIT, 0, 1, 0 },      { SSHW_CLOSE, 1, 1, 0 },
};

static const struct sshw_rule *rule_of(uint8_t type)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

long sshw_take(const uint8_t *p, size_t n, struct sshw_frame *f)
{
	if (n < SSHW_HDR_LEN)
		return 0;
	if (p[0] != SSHW_VERSION)
		return SSHW_E_VERSION;
	uint32_t len = get_be32(p + 4);
	if (len > SSHW_MAX_PAYLOAD)
		return SSHW_E_TOOBIG;
	if (!rule_of(p[1]))
		return SSHW_E_TYPE;
	if (n - SSHW_HDR_LEN < len)
		return 0;
	f->type = p[1];
	f->chan = get_be16(p + 2);
	f->len = len;
	f->payload = p + SSHW_HDR_LEN;
	return (long)(SSHW_HDR_LEN + len);
}

/* A str16 of at most max bytes with no NUL in it. */
static int rd_str(struct rd *r, size_t max, struct sshw_str *s)
{
	uint16_t n;
	const uint8_t *p;
	if (rd_u16(r, &n) < 0 || n > max || rd_bytes(r, n, &p) < 0 || memchr(p, 0, n))
		return -1;
	s->p = (const char *)p;
	s->len = n;
	return 0;
}

static int printable(const struct sshw_str *s)
{
	for (uint16_t i = 0; i < s->len; i++)
		if ((unsigned char)s->p[i] < 0x21 || (unsigned char)s->p[i] > 0x7e)
			return 0;
	return 1;
}

/* "NAME=value" with a non-empty NAME of [A-Za-z0-9_]. */
static int env_ok(const struct sshw_str *s)
{
	uint16_t i = 0;
	while (i < s->len && s->p[i] != '=') {
		char c = s->p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
		i++;
	}
	return i > 0 && i < s->len;
}

static int dec_open(struct rd *r, struct sshw_msg *m)
{
	uint8_t nenv;
	if (rd_u8(r, &m->kind) < 0 || rd_u32(r, &m->window) < 0 || rd_u16(r, &m->rows) < 0 ||
	    rd_u16(r, &m->cols) < 0 || rd_u16(r, &m->port) < 0 ||
	    rd_str(r, SSHW_MAX_TERM, &m->term) < 0 || rd_str(r, SSHW_MAX_CMD, &m->command) < 0 ||
	    rd_str(r, SSHW_MAX_HOST, &m->host) < 0 || rd_u8(r, &nenv) < 0 || nenv > SSHW_MAX_ENV)
		return -1;
	m->nenv = nenv;
	for (unsigned i = 0; i < m->nenv; i++)
		if (rd_str(r, SSHW_MAX_ENVLEN, &m->env[i]) < 0 || !env_ok(&m->env[i]))
			return -1;
	if (m->window == 0 || m->window > SSHW_MAX_WINDOW || !printable(&m->term))
		return -1;
	switch (m->kind) {
	case SSHW_KIND_SHELL:
		return (m->rows == 0) != (m->cols == 0) || m->command.len || m->port ? -1 : 0;
	case SSHW_KIND_EXEC: /* with rows and cols: on a pty */
		return (m->rows == 0) != (m->cols == 0) || m->command.len == 0 || m->port ? -1 : 0;
	case SSHW_KIND_TCP:
		return m->port == 0 || m->command.len || m->nenv ? -1 : 0;
	case SSHW_KIND_SFTP:
		return m->command.len || m->port ? -1 : 0;
	default:
		return -1;
	}
}

static int dec_body(struct rd *r, struct sshw_msg *m)
{
	int32_t v;
	switch (m->type) {
	case SSHW_HOSTKEY:
		return rd_str(r, SSHW_MAX_KEY, &m->key) < 0 || m->key.len == 0 ? -1 : 0;
	case SSHW_AUTH:
		return rd_str(r, SSHW_MAX_USER, &m->user) < 0 || m->user.len == 0 ||
				       rd_str(r, SSHW_MAX_PASS, &m->pass) < 0
			       ? -1
			       : 0;
	case SSHW_AUTH_OK:
	case SSHW_AUTH_FAIL:
	case SSHW_CLOSE:
		return 0;
	case SSHW_OPEN:
		return dec_open(r, m);
	case SSHW_OPEN_OK:
	case SSHW_WINDOW:
		return rd_u32(r, &m->window) < 0 || m->window == 0 || m->window > SSHW_MAX_WINDOW
			       ? -1
			       : 0;
	case SSHW_OPEN_FAIL:
		return rd_str(r, SSHW_MAX_MSG, &m->msg);
	case SSHW_DATA:
		if (rd_u8(r, &m->stream) < 0 || m->stream > 2 || r->len == 0 ||
		    r->len > SSHW_MAX_DATA)
			return -1;
		m->data = r->p;
		m->len = (uint32_t)r->len;
		r->p += r->len;
		r->len = 0;
		return 0;
	case SSHW_RESIZE:
		return rd_u16(r, &m->rows) < 0 || rd_u16(r, &m->cols) < 0 || !m->rows || !m->cols
			       ? -1
			       : 0;
	case SSHW_SIGNAL:
		return rd_u8(r, &m->signo) < 0 || m->signo < 1 || m->signo > 64 ? -1 : 0;
	case SSHW_EOF:
		return rd_u8(r, &m->stream) < 0 || m->stream > 2 ? -1 : 0;
	case SSHW_EXIT:
		if (rd_u8(r, &m->how) < 0 || m->how > SSHW_EXIT_SIGNAL || rd_u32(r, (uint32_t *)&v) < 0)
			return -1;
		m->value = v;
		return m->how == SSHW_EXIT_SIGNAL && (v < 1 || v > 64) ? -1 : 0;
	default:
		return -1;
	}
}

int sshw_decode(const struct sshw_frame *f, int from, struct sshw_msg *m)
{
	const struct sshw_rule *ru = rule_of(f->type);
	memset(m, 0, sizeof *m);
	if (!ru || !(from == SSHW_FROM_WORKER ? ru->from_worker : ru->from_hearthd))
		return SSHW_E_TYPE;
	if ((f->chan == 0) != ru->on_zero)
		return SSHW_E_CHANNEL;
	if (f->len > SSHW_MAX_PAYLOAD)
		return SSHW_E_TOOBIG;
	m->type = f->type;
	m->chan = f->chan;
	struct rd r = rd_make(f->payload, f->len);
	if (dec_body(&r, m) < 0 || r.len != 0)
		return SSHW_E_PAYLOAD;
	return SSHW_OK;
}

const char *sshw_strerror(int err)
{
	switch (err) {
	case SSHW_OK:
		return "ok";
	case SSHW_E_VERSION:
		return "bad version";
	case SSHW_E_TOOBIG:
		return "frame too big";
	case SSHW_E_TYPE:
		return "unknown or misdirected type";
	case SSHW_E_CHANNEL:
		return "wrong channel";
	case SSHW_E_PAYLOAD:
		return "malformed payload";
	default:
		return "error";
	}
}

/* ---- encoders ---- */

/* Header then payload, all or nothing. */
static int put_frame(struct buf *b, uint8_t type, uint16_t ch, const struct buf *payload)
{
	uint8_t h[SSHW_HDR_LEN];
	size_t n = payload ? buf_used(payload) : 0;
	if (n > SSHW_MAX_PAYLOAD || buf_room(b) < SSHW_HDR_LEN + n)
		return -1;
	h[0] = SSHW_VERSION;
	h[1] = type;
	put_be16(h + 2, ch);
	put_be32(h + 4, (uint32_t)n);
	if (buf_put(b, h, sizeof h) < 0 || (n && buf_put(b, buf_ptr(payload), n) < 0))
		return -1;
	return 0;
}

/* Build the payload in a scratch buf bounded by the frame size. */
#define SCRATCH(name)                                                                        \
	struct buf name;                                                                     \
	buf_init(&name, SSHW_MAX_PAYLOAD)

static int finish(struct buf *b, uint8_t type, uint16_t ch, struct buf *p, int rc)
{
	if (rc == 0)
		rc = put_frame(b, type, ch, p);
	buf_free(p);
	return rc < 0 ? -1 : 0;
}

int sshw_put_hostkey(struct buf *b, const char *key, size_t n)
{
	SCRATCH(p);
	int rc = n && n <= SSHW_MAX_KEY ? buf_put_str16(&p, key, n) : -1;
	return finish(b, SSHW_HOSTKEY, 0, &p, rc);
}

int sshw_put_auth(struct buf *b, const char *user, size_t ulen, const char *pass, size_t plen)
{
	SCRATCH(p);
	int rc = ulen && ulen <= SSHW_MAX_USER && plen <= SSHW_MAX_PASS &&
				 buf_put_str16(&p, user, ulen) == 0 &&
				 buf_put_str16(&p, pass, plen) == 0
			 ? 0
			 : -1;
	return finish(b, SSHW_AUTH, 0, &p, rc);
}

int sshw_put_empty(struct buf *b, uint8_t type, uint16_t ch)
{
	return put_frame(b, type, ch, NULL);
}

int sshw_put_open(struct buf *b, uint16_t ch, const struct sshw_msg *m)
{
	SCRATCH(p);
	int rc = m->nenv <= SSHW_MAX_ENV && m->term.len <= SSHW_MAX_TERM &&
				 m->command.len <= SSHW_MAX_CMD && m->host.len <= SSHW_MAX_HOST &&
				 buf_put_u8(&p, m->kind) == 0 && buf_put_u32(&p, m->window) == 0 &&
				 buf_put_u16(&p, m->rows) == 0 && buf_put_u16(&p, m->cols) == 0 &&
				 buf_put_u16(&p, m->port) == 0 &&
				 buf_put_str16(&p, m->term.p, m->term.len) == 0 &&
				 buf_put_str16(&p, m->command.p, m->command.len) == 0 &&
				 buf_put_str16(&p, m->host.p, m->host.len) == 0 &&
				 buf_put_u8(&p, (uint8_t)m->nenv) == 0
			 ? 0
			 : -1;
	for (unsigned i = 0; rc == 0 && i < m->nenv; i++)
		if (m->env[i].len > SSHW_MAX_ENVLEN ||
		    buf_put_str16(&p, m->env[i].p, m->env[i].len) < 0)
			rc = -1;
	return finish(b, SSHW_OPEN, ch, &p, rc);
}

int sshw_put_u32(struct buf *b, uint8_t type, uint16_t ch, uint32_t v)
{
	SCRATCH(p);
	return finish(b, type, ch, &p, buf_put_u32(&p, v));
}

int sshw_put_fail(struct buf *b, uint16_t ch, const char *msg)
{
	SCRATCH(p);
	size_t n = strlen(msg);
	if (n > SSHW_MAX_MSG)
		n = SSHW_MAX_MSG;
	return finish(b, SSHW_OPEN_FAIL, ch, &p, buf_put_str16(&p, msg, n));
}

int sshw_put_data(struct buf *b, uint16_t ch, uint8_t stream, const void *data, size_t n)
{
	uint8_t h[SSHW_HDR_LEN + 1];
	if (n == 0 || n > SSHW_MAX_DATA || buf_room(b) < sizeof h + n)
		return -1;
	h[0] = SSHW_VERSION;
	h[1] = SSHW_DATA;
	put_be16(h + 2, ch);
	put_be32(h + 4, (uint32_t)(n + 1));
	h[8] = stream;
	if (buf_put(b, h, sizeof h) < 0 || buf_put(b, data, n) < 0)
		return -1;
	return 0;
}

int sshw_put_u8(struct buf *b, uint8_t type, uint16_t ch, uint8_t v)
{
	SCRATCH(p);
	return finish(b, type, ch, &p, buf_put_u8(&p, v));
}

int sshw_put_resize(struct buf *b, uint16_t ch, uint16_t rows, uint16_t cols)
{
	SCRATCH(p);
	int rc = buf_put_u16(&p, rows) == 0 && buf_put_u16(&p, cols) == 0 ? 0 : -1;
	return finish(b, SSHW_RESIZE, ch, &p, rc);
}

int sshw_put_exit(struct buf *b, uint16_t ch, uint8_t how, int32_t value)
{
	SCRATCH(p);
	int rc = buf_put_u8(&p, how) == 0 && buf_put_u32(&p, (uint32_t)value) == 0 ? 0 : -1;
	return finish(b, SSHW_EXIT, ch, &p, rc);
}

/* ---- logins ---- */

int sshw_split_login(const char *user, size_t ulen, const char *pass, size_t plen, char *id,
		     size_t idmax, char *tok, size_t tokmax)
{
	const char *hash = memchr(user, '#', ulen);
	size_t idlen = hash ? (size_t)(hash - user) : ulen;
	const char *t = hash ? hash + 1 : pass;
	size_t tlen = hash ? ulen - idlen - 1 : plen;
	if (idlen == 0 || idlen >= idmax || tlen == 0 || tlen >= tokmax)
		return -1;
	for (size_t i = 0; i < idlen; i++) {
		char c = user[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return -1;
	}
	if (memchr(t, 0, tlen))
		return -1;
	memcpy(id, user, idlen);
	id[idlen] = '\0';
	memcpy(tok, t, tlen);
	tok[tlen] = '\0';
	return 0;
}
