/* tlshello.c - SNI and ALPN from a TLS ClientHello; see tlshello.h. */
#include "protocol/tlshello.h"

#include <string.h>

#define REC_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define EXT_SNI 0
#define EXT_ALPN 16
#define REC_MAX 16384 /* a TLSPlaintext fragment (RFC 8446 5.1) */

/* A bounds-checked reader over one region. */
struct rd {
	const uint8_t *p;
	size_t n, off;
	int bad;
};

static unsigned rd_u(struct rd *r, size_t w)
{
	unsigned v = 0;
	if (r->bad || r->n - r->off < w) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < w; i++)
		v = (v << 8) | r->p[r->off + i];
	r->off += w;
	return v;
}

/* A sub-reader of len bytes (skipped in r). */
static struct rd rd_sub(struct rd *r, size_t len)
{
	struct rd s = { NULL, 0, 0, 1 };
	if (r->bad || r->n - r->off < len) {
		r->bad = 1;
		return s;
	}
	s.p = r->p + r->off;
	s.n = len;
	s.bad = 0;
	r->off += len;
	return s;
}

static int ext_sni(struct rd *e, struct tlshello *h)
{
	struct rd list = rd_sub(e, rd_u(e, 2));
	while (!list.bad && list.off < list.n) {
		unsigned type = rd_u(&list, 1);
		struct rd name = rd_sub(&list, rd_u(&list, 2));
		if (list.bad)
			break;
		if (type != 0 || h->sni[0])
			continue;
		if (name.n == 0 || name.n > TLSHELLO_SNI_MAX)
			return TLSHELLO_E_BAD;
		for (size_t i = 0; i < name.n; i++)
			if (name.p[i] <= 0x20 || name.p[i] >= 0x7f)
				return TLSHELLO_E_BAD; /* a DNS name: no controls, no NUL */
		memcpy(h->sni, name.p, name.n);
		h->sni[name.n] = '\0';
	}
	return list.bad || e->off != e->n ? TLSHELLO_E_BAD : TLSHELLO_OK;
}

static int ext_alpn(struct rd *e, struct tlshello *h)
{
	struct rd list = rd_sub(e, rd_u(e, 2));
	if (list.n == 0)
		return TLSHELLO_E_BAD;
	while (!list.bad && list.off < list.n) {
		struct rd name = rd_sub(&list, rd_u(&list, 1));
		if (list.bad || name.n == 0)
			return TLSHELLO_E_BAD; /* RFC 7301 3.1: empty names are not allowed */
		if (h->nalpn < TLSHELLO_ALPN_MAX) {
			h->alpn[h->nalpn].len = (uint8_t)name.n;
			memcpy(h->alpn[h->nalpn].name, name.p, name.n);
			h->alpn[h->nalpn].name[name.n] = '\0';
		}
		h->nalpn++;
	}
	return list.bad || e->off != e->n ? TLSHELLO_E_BAD : TLSHELLO_OK;
}

/* Extensions by type; the others are skipped. */
static const struct {
	unsigned type;
	int (*parse)(struct rd *e, struct tlshello *h);
} ext_table[] = {
	{ EXT_SNI, ext_sni },
	{ EXT_ALPN, ext_alpn },
};

static int parse_body(struct tlshello *h)
{
	struct rd r = { h->msg + 4, h->msglen - 4, 0, 0 };
	rd_u(&r, 2);             /* legacy_version */
	rd_sub(&r, 32);          /* random */
	unsigned sid = rd_u(&r, 1);
	if (sid > 32)
		return TLSHELLO_E_BAD;
	rd_sub(&r, sid);
	unsigned cs = rd_u(&r, 2);
	if (cs < 2 || cs % 2)
		return TLSHELLO_E_BAD;
	rd_sub(&r, cs);
	unsigned comp = rd_u(&r, 1);
	if (comp < 1)
		return TLSHELLO_E_BAD;
	rd_sub(&r, comp);
	if (r.bad)
		return TLSHELLO_E_BAD;
	if (r.off == r.n)
		return TLSHELLO_OK; /* no extensions at all */
	struct rd exts = rd_sub(&r, rd_u(&r, 2));
	if (r.bad || r.off != r.n)
		return TLSHELLO_E_BAD;
	unsigned seen = 0;
	while (exts.off < exts.n) {
		unsigned type = rd_u(&exts, 2);
		struct rd e = rd_sub(&exts, rd_u(&exts, 2));
		if (exts.bad)
			return TLSHELLO_E_BAD;
		for (size_t i = 0; i < sizeof ext_table / sizeof ext_table[0]; i++) {
			if (ext_table[i].type != type)
				continue;
			if (seen & (1u << i))
				return TLSHELLO_E_BAD; /* RFC 8446 4.2: at most one of each */
			seen |= 1u << i;
			int rc = ext_table[i].parse(&e, h);
			if (rc != TLSHELLO_OK)
				return rc;
		}
	}
	return TLSHELLO_OK;
}

int tlshello_parse(const uint8_t *p, size_t n, struct tlshello *h)
{
	h->sni[0] = '\0';
	h->nalpn = 0;
	h->msglen = 0;
	size_t off = 0, need = 0; /* need: the whole message's length once known */
	for (;;) {
		if (n - off < 5) {
			/* Judge the bytes we have: a record header's first bytes. */
			if (n > off && p[off] != REC_HANDSHAKE)
				return TLSHELLO_E_NOTTLS;
			if (n - off > 1 && p[off + 1] != 3)
				return TLSHELLO_E_NOTTLS;
			return TLSHELLO_MORE;
		}
		if (p[off] != REC_HANDSHAKE || p[off + 1] != 3)
			return off ? TLSHELLO_E_BAD : TLSHELLO_E_NOTTLS;
		size_t rl = (size_t)p[off + 3] << 8 | p[off + 4];
		if (rl == 0 || rl > REC_MAX)
			return TLSHELLO_E_BAD;
		if (n - off - 5 < rl)
			return TLSHELLO_MORE; /* records are taken whole */
		size_t take = rl;
		if (h->msglen + take > TLSHELLO_MAX)
			take = TLSHELLO_MAX - h->msglen;
		memcpy(h->msg + h->msglen, p + off + 5, take);
		h->msglen += take;
		off += 5 + rl;
		if (!need && h->msglen >= 4) {
			if (h->msg[0] != HS_CLIENT_HELLO)
				return TLSHELLO_E_BAD;
			need = 4 + ((size_t)h->msg[1] << 16 | (size_t)h->msg[2] << 8 | h->msg[3]);
			if (need > TLSHELLO_MAX)
				return TLSHELLO_E_TOOBIG;
		}
		if (need && h->msglen >= need) {
			/* Bytes past the ClientHello in its last record: a
			 * second message in the same flight, not ours to read. */
			h->msglen = need;
			return parse_body(h);
		}
		if (h->msglen >= TLSHELLO_MAX)
			return TLSHELLO_E_TOOBIG;
	}
}

int tlshello_offers(const struct tlshello *h, const char *name)
{
	size_t len = strlen(name);
	unsigned n = h->nalpn < TLSHELLO_ALPN_MAX ? h->nalpn : TLSHELLO_ALPN_MAX;
	for (unsigned i = 0; i < n; i++)
		if (h->alpn[i].len == len && memcmp(h->alpn[i].name, name, len) == 0)
			return 1;
	return 0;
}
