/*
 * identity_cli.c - hearth-identity [--audience AUD]: print a fresh identity
 * token (a JWT, hearthd.8 IDENTITY) for this VM, minted by hearthd with aud
 * AUD (default hearth). It asks the agent on /run/hearth/identity.sock
 * (identity.c; one idmsg request, one answer). Exit 0 with the token on
 * stdout; 1 with hearthd's or the agent's reason on stderr; 2 on usage.
 */
#include "agent.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol/idmsg.h"

#define IDENT_CLI_TIMEOUT_MS 15000 /* the agent answers within 10 s itself */
#define IDENT_DEFAULT_AUDIENCE "hearth"

static void ident_cli_usage(FILE *f)
{
	fprintf(f, "usage: " IDENT_CLI_NAME " [--audience AUD]\n"
		   "  print a fresh identity token (JWT) for this microVM, audience AUD\n"
		   "  (1-256 printable ASCII characters, no spaces; default "
		   IDENT_DEFAULT_AUDIENCE ")\n");
}

static int ident_cli_fail(const char *what, const char *why)
{
	fprintf(stderr, IDENT_CLI_NAME ": %s: %s\n", what, why);
	return 1;
}

static int64_t ident_cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one answer from fd into rd; 1 with *m, or -1 with why. */
static int ident_cli_answer(int fd, struct idmsg_reader *rd, struct idmsg *m, const char **why)
{
	uint8_t tmp[8192];
	int64_t end = ident_cli_now() + IDENT_CLI_TIMEOUT_MS;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - ident_cli_now();
		if (left <= 0) {
			*why = "no answer from the agent in time";
			return -1;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			*why = n < 0 ? strerror(errno) : "the agent closed the connection";
			return -1;
		}
		size_t off = 0, used;
		while (off < (size_t)n) {
			int rc = idmsg_feed(rd, tmp + off, (size_t)n - off, &used, m);
			off += used;
			if (rc < 0) {
				*why = "a malformed answer";
				return -1;
			}
			if (rc == 1)
				return 1;
		}
	}
}

int ident_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "audience", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t rbuf[IDMSG_HDR + IDMSG_MAX_BODY];
	const char *aud = IDENT_DEFAULT_AUDIENCE, *why = NULL;
	struct sockaddr_un sun;
	struct idmsg_reader rd;
	struct idmsg m;
	struct buf req;
	int c;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		if (c == 'a') {
			aud = optarg;
		} else if (c == 'h') {
			ident_cli_usage(stdout);
			return 0;
		} else {
			ident_cli_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || strlen(aud) > IDMSG_REQ_MAX) {
		ident_cli_usage(stderr);
		return 2;
	}
	/* hearthd judges the audience; the request just carries it. */
	buf_init(&req, IDMSG_HDR + IDMSG_REQ_MAX);
	if (idmsg_put(&req, 1, 0, aud, strlen(aud)) < 0)
		return ident_cli_fail("request", "out of memory");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", IDENT_SOCK);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return ident_cli_fail(IDENT_SOCK, strerror(errno));
	for (size_t off = 0; off < buf_used(&req);) {
		ssize_t n = write(fd, buf_ptr(&req) + off, buf_used(&req) - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ident_cli_fail(IDENT_SOCK, n < 0 ? strerror(errno) : "write failed");
		off += (size_t)n;
	}
	buf_free(&req);
	idmsg_reader_init(&rd, rbuf, sizeof(rbuf));
	if (ident_cli_answer(fd, &rd, &m, &why) < 0)
		return ident_cli_fail(IDENT_SOCK, why);
	close(fd);
	if (m.status != IDMSG_OK) {
		fprintf(stderr, IDENT_CLI_NAME ": %.*s\n", (int)m.len, (const char *)m.body);
		return 1;
	}
	if (fwrite(m.body, 1, m.len, stdout) != m.len || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		return ident_cli_fail("stdout", strerror(errno));
	return 0;
}
