/* fuzz_shellmsg.c - shellmsg_parse on arbitrary bytes: an accepted frame
 * holds what its type promises (sizes in range, exec strings within the
 * frame's own storage), a refused one has a reason, and every encoder takes
 * any text the parser produced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/shellmsg.h"

static struct shellmsg m;

static void check_str(const char *s)
{
	if (!s || s < m.strings || s >= m.strings + sizeof m.strings ||
	    s + strlen(s) >= m.strings + m.strings_used)
		abort();
}

static void check(void)
{
	char out[SHELLMSG_MAX * 2];
	switch (m.type) {
	case SHELLMSG_RESIZE:
	case SHELLMSG_OPEN:
		if (!m.cols || !m.rows || (m.has_grace && m.grace > SHELLMSG_GRACE_MAX))
			abort();
		break;
	case SHELLMSG_ATTACH:
		if (!m.session_id[0] || shellmsg_attached(out, sizeof out, m.session_id, m.offset, 0) < 0)
			abort();
		break;
	case SHELLMSG_EXEC:
		/* exactly one of argv, command, put/get (the tar builtin) */
		if ((m.nargv > 0) + (m.command != NULL) + (m.files_op != 0) != 1 ||
		    m.nargv > SHELLMSG_ARGV_MAX || m.nenv > SHELLMSG_ENV_MAX)
			abort();
		if (m.files_op && (!m.files_path || !m.files_path[0] ||
				   (m.files_op == 1 && !m.want_stdin)))
			abort();
		if (m.files_path)
			check_str(m.files_path);
		for (unsigned i = 0; i < m.nargv; i++)
			check_str(m.argv[i]);
		if (m.nargv && !m.argv[0][0])
			abort();
		for (unsigned i = 0; i < m.nenv; i++) {
			check_str(m.env[i]);
			if (!strchr(m.env[i], '=') || m.env[i][0] == '=')
				abort();
		}
		if (m.command)
			check_str(m.command);
		if (m.cwd)
			check_str(m.cwd);
		break;
	case SHELLMSG_SIGNAL:
		if (m.signo < 1 || m.signo > 64)
			abort();
		break;
	case SHELLMSG_PING:
		if (m.has_data && (strlen(m.data) > SHELLMSG_PING_MAX ||
				   shellmsg_pong(out, sizeof out, m.data) < 0))
			abort();
		break;
	case SHELLMSG_DETACH:
	case SHELLMSG_EOF:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], out[512];
	err[0] = '\0';
	if (shellmsg_parse((const char *)data, size, &m, err, sizeof err) == 0)
		check();
	else {
		if (err[0] == '\0')
			abort();
		if (shellmsg_error_code(out, sizeof out, "BadRequest", err) < 0)
			abort();
	}
	return 0;
}
