/* qmp.c - QMP line reader and message classifier (pure, bounded). */
#include "vmm/qmp.h"

#include <json-c/json.h>
#include <string.h>

void qmp_reader_init(struct qmp_reader *r)
{
	buf_init(&r->line, QMP_MAX_LINE + 1);
	r->overflow = 0;
}

void qmp_reader_free(struct qmp_reader *r)
{
	buf_free(&r->line);
}

int qmp_reader_feed(struct qmp_reader *r, const uint8_t *in, size_t n, size_t *used,
		    const char **line, size_t *len)
{
	*used = 0;
	if (r->overflow)
		return QMP_E_TOOLONG;
	/* A previous call returned a line: drop it before collecting the next. */
	if (buf_used(&r->line) && r->line.data[r->line.len - 1] == '\n')
		buf_reset(&r->line);
	const uint8_t *nl = n ? memchr(in, '\n', n) : NULL;
	size_t take = nl ? (size_t)(nl - in) + 1 : n;
	if (buf_used(&r->line) + take > QMP_MAX_LINE) {
		r->overflow = 1;
		*used = take;
		return QMP_E_TOOLONG;
	}
	if (take && buf_put(&r->line, in, take) != BUF_OK) {
		r->overflow = 1;
		*used = take;
		return QMP_E_TOOLONG;
	}
	*used = take;
	if (!nl)
		return QMP_AGAIN;
	size_t l = buf_used(&r->line) - 1;
	const char *p = (const char *)buf_ptr(&r->line);
	if (l && p[l - 1] == '\r')
		l--;
	*line = p;
	*len = l;
	return QMP_OK;
}

static void copy_str(char *dst, size_t cap, struct json_object *o)
{
	dst[0] = 0;
	if (!o || !json_object_is_type(o, json_type_string))
		return;
	size_t n = (size_t)json_object_get_string_len(o);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, json_object_get_string(o), n);
	dst[n] = 0;
}

static int is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

int qmp_parse(const char *line, size_t len, struct qmp_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len > QMP_MAX_LINE || len > (size_t)INT32_MAX)
		return QMP_E_TOOLONG;
	struct json_tokener *tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	if (!tok)
		return QMP_E_JSON;
	struct json_object *root = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		return QMP_E_JSON;
	}
	if (off > len || !is_blank(line + off, len - off) ||
	    !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return QMP_E_JSON;
	}
	struct json_object *v;
	m->root = root;
	if (json_object_object_get_ex(root, "return", &v)) {
		m->kind = QMP_RETURN;
		m->value = v;
	} else if (json_object_object_get_ex(root, "error", &v)) {
		if (!json_object_is_type(v, json_type_object))
			goto shape;
		struct json_object *c = NULL, *d = NULL;
		json_object_object_get_ex(v, "class", &c);
		json_object_object_get_ex(v, "desc", &d);
		m->kind = QMP_ERROR;
		copy_str(m->cls, sizeof(m->cls), c);
		copy_str(m->desc, sizeof(m->desc), d);
	} else if (json_object_object_get_ex(root, "event", &v)) {
		if (!json_object_is_type(v, json_type_string))
			goto shape;
		m->kind = QMP_EVENT;
		copy_str(m->event, sizeof(m->event), v);
		if (json_object_object_get_ex(root, "data", &v))
			m->value = v;
	} else if (json_object_object_get_ex(root, "QMP", &v)) {
		m->kind = QMP_GREETING;
		m->value = v;
	} else {
		goto shape;
	}
	return QMP_OK;
shape:
	json_object_put(root);
	memset(m, 0, sizeof(*m));
	return QMP_E_SHAPE;
}

void qmp_msg_free(struct qmp_msg *m)
{
	json_object_put(m->root);
	memset(m, 0, sizeof(*m));
}

const char *qmp_strerror(int rc)
{
	switch (rc) {
	case QMP_OK: return "ok";
	case QMP_AGAIN: return "incomplete";
	case QMP_E_TOOLONG: return "QMP line too long";
	case QMP_E_JSON: return "QMP line is not one JSON object";
	case QMP_E_SHAPE: return "unexpected QMP message";
	}
	return "unknown QMP error";
}
