/* fuzz_sshw.c - the hearthd <-> SSH worker frames (protocol/sshw.c) on
 * arbitrary bytes, read as hearthd and as the worker read them: a decoded
 * message holds what its type promises, and re-encoding it gives the frame
 * back byte for byte. The first byte picks the side and a login split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sshw.h"

static void reencode(const struct sshw_msg *m, const struct sshw_frame *f)
{
	struct buf b;
	int rc = -1;
	char msg[SSHW_MAX_MSG + 1];
	buf_init(&b, 1 << 17);
	switch (m->type) {
	case SSHW_AUTH:
		rc = sshw_put_auth(&b, m->user.p, m->user.len, m->pass.p, m->pass.len);
		break;
	case SSHW_OPEN:
		if (m->window == 0 || m->kind < 1 || m->kind > 4)
			abort();
		rc = sshw_put_open(&b, m->chan, m);
		break;
	case SSHW_DATA:
		if (m->len == 0 || m->len > SSHW_MAX_DATA || m->stream > 2)
			abort();
		rc = sshw_put_data(&b, m->chan, m->stream, m->data, m->len);
		break;
	case SSHW_OPEN_FAIL:
		memcpy(msg, m->msg.p, m->msg.len);
		msg[m->msg.len] = '\0';
		rc = sshw_put_fail(&b, m->chan, msg);
		break;
	case SSHW_EXIT:
		rc = sshw_put_exit(&b, m->chan, m->how, m->value);
		break;
	default:
		buf_free(&b);
		return;
	}
	if (rc != 0 || buf_used(&b) != SSHW_HDR_LEN + f->len ||
	    memcmp(buf_ptr(&b) + SSHW_HDR_LEN, f->payload, f->len))
		abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshw_frame f;
	struct sshw_msg m;
	char id[65], tok[513];
	if (size < 1)
		return 0;
	int from = data[0] & 1;
	if (data[0] & 2) {
		size_t half = (size - 1) / 2;
		const char *u = (const char *)data + 1;
		if (sshw_split_login(u, half, u + half, size - 1 - half, id, sizeof id, tok,
				     sizeof tok) == 0 &&
		    (!id[0] || !tok[0] || strlen(id) >= sizeof id))
			abort();
		return 0;
	}
	data++;
	size--;
	while (size) {
		long k = sshw_take(data, size, &f);
		if (k <= 0)
			break;
		if ((size_t)k > size)
			abort();
		if (sshw_decode(&f, from, &m) == SSHW_OK)
			reencode(&m, &f);
		data += k;
		size -= (size_t)k;
	}
	return 0;
}
