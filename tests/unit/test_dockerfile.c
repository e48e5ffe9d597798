/* test_dockerfile.c - Dockerfile plans: the reference's tricky cases as tables. */
#include <stdarg.h>
#include <stdlib.h>

#include "protocol/dockerfile.h"
#include "tests/unit/test.h"

static struct df_err e;

static int build_a(const char *df, const char *const *args, size_t nargs, struct df_plan *p)
{
	memset(&e, 0, sizeof e);
	int r = df_plan_build(df, strlen(df), args, nargs, p, &e);
	if (r < 0 && (p->nstages != 0 || p->stages != NULL))
		return 99; /* a failure must leave the plan empty */
	if (r < 0 && !e.msg[0])
		return 98;
	return r;
}

static int build(const char *df, struct df_plan *p)
{
	return build_a(df, NULL, 0, p);
}

/* v[0..n) equals the NULL-terminated list, and v[n] is NULL. */
static int vis(char **v, size_t n, ...)
{
	va_list ap;
	size_t i = 0;
	int ok = 1;
	va_start(ap, n);
	for (const char *s; (s = va_arg(ap, const char *)); i++)
		if (i >= n || strcmp(v[i], s)) {
			fprintf(stderr, "    [%zu] = %s, want %s\n", i, i < n ? v[i] : "(end)", s);
			ok = 0;
		}
	va_end(ap);
	if (i != n) {
		fprintf(stderr, "    %zu items, want %zu\n", n, i);
		ok = 0;
	}
	return ok && v && v[n] == NULL;
}

static const char *env_of(char **env, size_t n, const char *k)
{
	size_t kl = strlen(k);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(env[i], k, kl) && env[i][kl] == '=')
			return env[i] + kl + 1;
	return NULL;
}

TEST(basic_plan)
{
	struct df_plan p;
	const char *df = "FROM debian:bookworm\n"
			 "RUN apt-get update && \\\n"
			 "    apt-get install -y python3-flask\n"
			 "WORKDIR /app\n"
			 "COPY app.py .\n"
			 "EXPOSE 8080\n"
			 "CMD [\"python3\", \"app.py\"]\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK_EQ(p.nstages, 1);
	CHECK_EQ(p.escape, '\\');
	struct df_stage *s = &p.stages[0];
	CHECK_STR(s->base, "debian:bookworm");
	CHECK(s->name == NULL);
	CHECK_EQ(s->base_stage, -1);
	CHECK_EQ(s->nsteps, 3);
	CHECK_EQ(s->steps[0].kind, DF_STEP_RUN);
	CHECK_EQ(s->steps[0].line, 2);
	CHECK(vis(s->steps[0].argv, s->steps[0].argc, "/bin/sh", "-c",
		  "apt-get update &&     apt-get install -y python3-flask", NULL));
	CHECK_STR(s->steps[0].display, "RUN apt-get update &&     apt-get install -y python3-flask");
	CHECK_STR(s->steps[0].workdir, "/");
	CHECK_STR(s->steps[0].user, "");
	CHECK_EQ(s->steps[1].kind, DF_STEP_WORKDIR);
	CHECK_STR(s->steps[1].workdir, "/app");
	CHECK_EQ(s->steps[2].kind, DF_STEP_COPY);
	CHECK_EQ(s->steps[2].line, 5);
	CHECK(vis(s->steps[2].src, s->steps[2].nsrc, "app.py", NULL));
	CHECK_STR(s->steps[2].dest, "/app/");
	CHECK_EQ(s->steps[2].from_stage, -1);
	CHECK(s->steps[2].chown == NULL && s->steps[2].chmod == NULL);
	CHECK(vis(p.cfg.argv, p.cfg.argc, "python3", "app.py", NULL));
	CHECK_EQ(p.cfg.nports, 1);
	CHECK_EQ(p.cfg.ports[0], 8080);
	CHECK_STR(p.cfg.workdir, "/app");
	CHECK(env_of(p.cfg.env, p.cfg.nenv, "PATH") != NULL);
	CHECK(vis(p.cfg.shell, p.cfg.nshell, "/bin/sh", "-c", NULL));
	df_plan_free(&p);
	CHECK(p.stages == NULL);
}

TEST(directives_and_lines)
{
	struct df_plan p;
	/* escape=` : backslashes are plain, the backtick continues lines */
	const char *df = "# syntax=docker/dockerfile:1\n"
			 "#escape = `\n"
			 "\n"
			 "from busybox\n"
			 "run echo C:\\dir `\n"
			 "  # a comment inside the continuation\n"
			 "\n"
			 "  done\n"
			 "Run echo x\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK_EQ(p.escape, '`');
	struct df_stage *s = &p.stages[0];
	CHECK_EQ(s->nsteps, 2);
	CHECK(vis(s->steps[0].argv, s->steps[0].argc, "/bin/sh", "-c", "echo C:\\dir   done", NULL));
	CHECK_EQ(s->steps[0].line, 5);
	CHECK_EQ(s->steps[1].line, 9);
	df_plan_free(&p);

	/* A directive after a comment is a comment: escape stays '\'. */
	df = "# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK_EQ(p.escape, '\\');
	CHECK(vis(p.stages[0].steps[0].argv, 3, "/bin/sh", "-c", "a  b", NULL));
	df_plan_free(&p);

	/* CRLF and a BOM */
	df = "\xEF\xBB\xBF# escape=\\\r\nFROM busybox\r\nRUN a \\\r\n b\r\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK(vis(p.stages[0].steps[0].argv, 3, "/bin/sh", "-c", "a  b", NULL));
	df_plan_free(&p);

	CHECK_EQ(build("# escape=x\nFROM busybox\n", &p), -1);
	CHECK_EQ(e.line, 1);
	CHECK_EQ(build("# escape=`\n# escape=\\\nFROM busybox\n", &p), -1);
	CHECK_EQ(e.line, 2);
}

TEST(exec_form_and_fallback)
{
	struct df_plan p;
	const char *df = "FROM busybox\n"
			 "RUN [\"echo\", \"a b\", \"\\u00e9\\n\"]\n"
			 "RUN [\"echo\", 'single']\n"
			 "RUN [\"echo\" \"nocomma\"]\n"
			 "SHELL [\"/bin/bash\", \"-eu\", \"-c\"]\n"
			 "RUN echo $HOME\n"
			 "CMD [\"a\", 1]\n";
	CHECK_EQ(build(df, &p), 0);
	struct df_step *st = p.stages[0].steps;
	CHECK(vis(st[0].argv, st[0].argc, "echo", "a b", "\xc3\xa9\n", NULL));
	CHECK(vis(st[1].argv, st[1].argc, "/bin/sh", "-c", "[\"echo\", 'single']", NULL));
	CHECK(vis(st[2].argv, st[2].argc, "/bin/sh", "-c", "[\"echo\" \"nocomma\"]", NULL));
	CHECK(vis(st[3].argv, st[3].argc, "/bin/bash", "-eu", "-c", "echo $HOME", NULL));
	CHECK(vis(p.cfg.argv, p.cfg.argc, "/bin/bash", "-eu", "-c", "[\"a\", 1]", NULL));
	CHECK(vis(p.cfg.shell, p.cfg.nshell, "/bin/bash", "-eu", "-c", NULL));
	df_plan_free(&p);
	CHECK_EQ(build("FROM busybox\nSHELL /bin/bash -c\n", &p), -1);
	CHECK_EQ(e.line, 2);
	CHECK(strstr(e.msg, "JSON") != NULL);
}

TEST(heredocs)
{
	struct df_plan p;
	const char *df = "FROM busybox\n"
			 "ENV NAME=world\n"
			 "RUN <<EOF\n"
			 "echo hello $NAME\n"
			 "EOF\n"
			 "RUN <<-EOT\n"
			 "\t\techo tabs\n"
			 "\tEOT\n"
			 "RUN <<-EOT sh -x\n"
			 "\techo x\n"
			 "\tEOT\n"
			 "RUN python3 <<PY > /out\n"
			 "print(1)\n"
			 "PY\n"
			 "RUN <<A cat - /dev/null && cat <<'B'\n"
			 "a\n"
			 "A\n"
			 "b $x\n"
			 "B\n"
			 "COPY <<f1 <<\"f2\" /etc/\n"
			 "x=$NAME \"q\" \\$NAME\n"
			 "f1\n"
			 "y=$NAME\n"
			 "f2\n"
			 "COPY <<-cfg /etc/app.conf\n"
			 "\tkey=${NAME}\n"
			 "cfg\n"
			 "RUN <<SH\n"
			 "#!/usr/bin/env python3\n"
			 "print(2)\n"
			 "SH\n"
			 "RUN [\"echo\", \"<<NOT\"]\n"
			 "RUN echo \"<<NOTEITHER\"\n";
	CHECK_EQ(build(df, &p), 0);
	struct df_stage *s = &p.stages[0];
	struct df_step *st = s->steps;
	CHECK(vis(st[0].argv, st[0].argc, "/bin/sh", "-c", "echo hello $NAME\n", NULL));
	CHECK_EQ(st[0].line, 3);
	CHECK(vis(st[1].argv, st[1].argc, "/bin/sh", "-c", "echo tabs\n", NULL));
	CHECK_EQ(s->nsteps, 10);
	CHECK(vis(st[2].argv, st[2].argc, "/bin/sh", "-c", "<<-EOT sh -x\n\techo x\nEOT", NULL));
	st++; /* the rest as before that RUN was added */
	CHECK(vis(st[2].argv, st[2].argc, "/bin/sh", "-c", "python3 <<PY > /out\nprint(1)\nPY", NULL));
	CHECK(vis(st[3].argv, st[3].argc, "/bin/sh", "-c",
		  "<<A cat - /dev/null && cat <<'B'\na\nA\nb $x\nB", NULL));
	CHECK_EQ(st[4].kind, DF_STEP_COPY);
	CHECK_EQ(st[4].line, 20);
	CHECK_EQ(st[4].nsrc, 0);
	CHECK_EQ(st[4].ninl, 2);
	CHECK_STR(st[4].inl[0].name, "f1");
	CHECK_STR(st[4].inl[0].body, "x=world \"q\" $NAME\n");
	CHECK_STR(st[4].inl[1].name, "f2");
	CHECK_STR(st[4].inl[1].body, "y=$NAME\n");
	CHECK_STR(st[4].dest, "/etc/");
	CHECK_STR(st[5].inl[0].body, "key=world\n");
	CHECK_STR(st[5].dest, "/etc/app.conf");
	CHECK_EQ(st[6].argc, 5);
	CHECK_STR(st[6].argv[0], "/bin/sh");
	CHECK_STR(st[6].argv[4], "#!/usr/bin/env python3\nprint(2)\n");
	CHECK(vis(st[7].argv, st[7].argc, "echo", "<<NOT", NULL));
	CHECK(vis(st[8].argv, st[8].argc, "/bin/sh", "-c", "echo \"<<NOTEITHER\"", NULL));
	CHECK_EQ(st[7].line, 32);
	CHECK_EQ(st[8].line, 33);
	df_plan_free(&p);

	CHECK_EQ(build("FROM busybox\nRUN true\nRUN <<EOF\necho\nEOFX\n", &p), -1);
	CHECK_EQ(e.line, 3);
	CHECK(strstr(e.msg, "unterminated heredoc") != NULL);
	CHECK_EQ(build("FROM busybox\nCOPY a <<EOF\nx\nEOF\n", &p), -1);
	CHECK_EQ(e.line, 2);
}

TEST(args_and_env)
{
	struct df_plan p;
	const char *df = "ARG TAG=bookworm\n"
			 "ARG BASE=debian:${TAG}\n"
			 "ARG GLOBAL=g\n"
			 "FROM $BASE AS Build\n"
			 "RUN echo $TAG\n"          /* steps[0]: TAG not in scope */
			 "ARG TAG\n"
			 "ARG V=1 W=${V:-none}\n"
			 "RUN echo\n"               /* steps[1] */
			 "ENV abc=hello\n"
			 "ENV abc=bye def=$abc\n"
			 "ENV ghi=$abc\n"
			 "ENV legacy some value \"q\"\n"
			 "ENV V=env-wins\n"
			 "ENV spaced=\"two words\" esc=a\\ b\n"
			 "ARG OVER=default\n"
			 "WORKDIR /w/$TAG\n"
			 "RUN true\n";              /* steps[3] */
	const char *const bargs[] = { "OVER=from-cli", "UNDECLARED=x" };
	CHECK_EQ(build_a(df, bargs, 2, &p), 0);
	struct df_stage *s = &p.stages[0];
	CHECK_STR(s->base, "debian:bookworm");
	CHECK_STR(s->name, "build");
	struct df_step *st = s->steps;
	CHECK(env_of(st[0].env, st[0].nenv, "TAG") == NULL);
	CHECK(env_of(st[0].env, st[0].nenv, "GLOBAL") == NULL);
	CHECK_STR(env_of(st[1].env, st[1].nenv, "TAG"), "bookworm");
	CHECK_STR(env_of(st[1].env, st[1].nenv, "V"), "1");
	CHECK_STR(env_of(st[1].env, st[1].nenv, "W"), "none"); /* V not yet set */
	CHECK_EQ(st[3].kind, DF_STEP_RUN);
	CHECK_STR(st[3].workdir, "/w/bookworm");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "abc"), "bye");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "def"), "hello");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "ghi"), "bye");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "legacy"), "some value q");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "V"), "env-wins");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "spaced"), "two words");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "esc"), "a b");
	CHECK_STR(env_of(st[3].env, st[3].nenv, "OVER"), "from-cli");
	CHECK(env_of(st[3].env, st[3].nenv, "UNDECLARED") == NULL);
	/* V appears once: ENV wins over the ARG of the same name. */
	size_t nv = 0;
	for (size_t i = 0; i < st[3].nenv; i++)
		nv += !strncmp(st[3].env[i], "V=", 2);
	CHECK_EQ(nv, 1);
	/* ARG values never reach the image config. */
	CHECK(env_of(p.cfg.env, p.cfg.nenv, "OVER") == NULL);
	CHECK(env_of(p.cfg.env, p.cfg.nenv, "TAG") == NULL);
	CHECK_STR(env_of(p.cfg.env, p.cfg.nenv, "abc"), "bye");
	df_plan_free(&p);

	/* The platform args are predefined before FROM, and need ARG in a stage. */
	CHECK_EQ(build("FROM --platform=$BUILDPLATFORM busybox\n", &p), 0);
	df_plan_free(&p);
	CHECK_EQ(build("FROM busybox-$TARGETOS\nRUN a\nARG TARGETOS\nRUN b\n", &p), 0);
	CHECK_STR(p.stages[0].base, "busybox-linux");
	CHECK(env_of(p.stages[0].steps[0].env, p.stages[0].steps[0].nenv, "TARGETOS") == NULL);
	CHECK_STR(env_of(p.stages[0].steps[1].env, p.stages[0].steps[1].nenv, "TARGETOS"), "linux");
	df_plan_free(&p);

	/* PATH from the base can be extended. */
	CHECK_EQ(build("FROM busybox\nENV PATH=/app/bin:$PATH\n", &p), 0);
	CHECK_STR(env_of(p.cfg.env, p.cfg.nenv, "PATH"),
		  "/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	df_plan_free(&p);

	CHECK_EQ(build("FROM busybox\nENV a=1 b\n", &p), -1);
	CHECK_EQ(e.line, 2);
	CHECK_EQ(build("FROM busybox\nENV onlykey\n", &p), -1);
	CHECK_EQ(build("FROM busybox\n\nENV a=\"unterminated\n", &p), -1);
	CHECK_EQ(e.line, 3);
	CHECK(strstr(e.msg, "double-quote") != NULL);
}

TEST(workdir_copy_paths)
{
	struct df_plan p;
	const char *df = "FROM busybox\n"
			 "WORKDIR a\n"
			 "WORKDIR b/../c/./\n"
			 "COPY --chown=app:app --chmod=0640 x y/ ./sub/\n"
			 "COPY [\"a b.txt\", \"rel\"]\n"
			 "COPY --link f* /abs//dir/.\n"
			 "COPY --parents a/*.txt /\n"
			 "ADD local.tar.gz /opt\n"
			 "USER 1000:1000\n"
			 "WORKDIR /x\n";
	CHECK_EQ(build(df, &p), 0);
	struct df_step *st = p.stages[0].steps;
	CHECK_EQ(p.stages[0].nsteps, 8);
	CHECK_STR(st[0].workdir, "/a");
	CHECK_STR(st[1].workdir, "/a/c");
	CHECK_STR(st[2].dest, "/a/c/sub/");
	CHECK(vis(st[2].src, st[2].nsrc, "x", "y/", NULL));
	CHECK_STR(st[2].chown, "app:app");
	CHECK_STR(st[2].chmod, "0640");
	CHECK(vis(st[3].src, st[3].nsrc, "a b.txt", NULL));
	CHECK_STR(st[3].dest, "/a/c/rel");
	CHECK_STR(st[4].dest, "/abs/dir/");
	CHECK_EQ(st[4].parents, 0);
	CHECK_EQ(st[5].parents, 1);
	CHECK_STR(st[5].dest, "/");
	CHECK_EQ(st[6].kind, DF_STEP_ADD);
	CHECK_STR(st[6].dest, "/opt");
	CHECK_EQ(st[7].kind, DF_STEP_WORKDIR);
	CHECK_STR(st[7].user, "1000:1000");
	CHECK_STR(p.cfg.user, "1000:1000");
	df_plan_free(&p);
}

struct errcase {
	const char *df;
	int line;
	const char *msg;
};

static const struct errcase errcases[] = {
	{ "", 0, "empty" },
	{ "# only a comment\n\n", 0, "FROM" },
	{ "ARG A=1\n", 0, "FROM" },
	{ "RUN echo\nFROM busybox\n", 1, "before the first FROM" },
	{ "FROM busybox\n\nFOO bar\n", 3, "unknown instruction FOO" },
	{ "FROM busybox\nRUN a \\\n b\nfrobnicate\n", 4, "unknown instruction FROBNICATE" },
	{ "FROM busybox\nONBUILD RUN x\n", 2, "ONBUILD is not supported" },
	{ "FROM busybox\nADD https://x.example/a.tgz /\n", 2, "ADD from a URL is not supported" },
	{ "FROM busybox\nADD git@github.com:a/b.git /\n", 2, "ADD from a URL is not supported" },
	{ "FROM busybox\nRUN --mount=type=cache,target=/c true\n", 2, "RUN --mount is not supported" },
	{ "FROM busybox\nRUN --network=none true\n", 2, "RUN --network is not supported" },
	{ "FROM busybox\nCOPY --frob a b\n", 2, "unknown flag --frob" },
	{ "FROM busybox\nADD --from=x a b\n", 2, "unknown flag --from" },
	{ "FROM busybox\nCOPY --chmod=u+x a b\n", 2, "octal" },
	{ "FROM busybox\nCOPY --from=nginx:latest /a /b\n", 2, "image is not supported" },
	{ "FROM busybox\nCOPY --from=0 /a /b\n", 2, "no earlier stage" },
	{ "FROM busybox AS a\nCOPY --from=a /a /b\n", 2, "itself" },
	{ "FROM busybox\nCOPY onlyone\n", 2, "at least two" },
	{ "FROM busybox AS a\nFROM busybox AS A\n", 2, "duplicate stage name" },
	{ "FROM busybox AS 1bad\n", 1, "invalid name" },
	{ "FROM busybox AS\n", 1, "one or three" },
	{ "FROM $NOPE\n", 1, "blank" },
	{ "FROM --platform=linux/s390x busybox\n", 1, "only linux/" },
	{ "FROM busybox\nEXPOSE 70000\n", 2, "invalid port" },
	{ "FROM busybox\nEXPOSE 80/http\n", 2, "invalid protocol" },
	{ "FROM busybox\nEXPOSE 90-80\n", 2, "range" },
	{ "FROM busybox\nEXPOSE 1-2000\n", 2, "more than" },
	{ "FROM busybox\nWORKDIR\n", 2, "WORKDIR" },
	{ "FROM busybox\nUSER\n", 2, "USER" },
	{ "FROM busybox\nRUN\n", 2, "RUN requires" },
	{ "FROM busybox\nCMD\n", 2, "CMD requires" },
	{ "FROM busybox\nHEALTHCHECK --interval=5s NONE\n", 2, "NONE" },
	{ "FROM busybox\nHEALTHCHECK --bogus=1 CMD true\n", 2, "unknown flag" },
	{ "FROM busybox\nHEALTHCHECK WHAT\n", 2, "unknown type" },
	{ "FROM busybox\nLABEL a=1 b\n", 2, "can't find =" },
	{ "FROM busybox\nVOLUME \"\"\n", 2, "empty" },
	{ "FROM busybox\nENV A=${B:?needed}\n", 2, "needed" },
	{ "FROM busybox\nCOPY a\\ <<EOF /d\nEOF\n", 2, "heredoc" },
	{ "FROM busybox\nENV A=${B/x/y}\n", 2, "unsupported modifier" },
	{ "FROM busybox\nRUN ok\n\0RUN x\n", 3, "NUL" },
};

TEST(errors_with_lines)
{
	for (size_t i = 0; i < sizeof errcases / sizeof errcases[0]; i++) {
		const struct errcase *c = &errcases[i];
		struct df_plan p;
		size_t len = strlen(c->df);
		if (strstr(c->msg, "NUL"))
			len += 1 + strlen(c->df + len + 1);
		memset(&e, 0, sizeof e);
		int r = df_plan_build(c->df, len, NULL, 0, &p, &e);
		int ok = r == -1 && e.line == c->line && strstr(e.msg, c->msg) && p.nstages == 0;
		if (!ok) {
			fprintf(stderr, "  case %zu: r=%d line %d (want %d) msg '%s' (want '%s')\n", i, r,
				e.line, c->line, e.msg, c->msg);
			if (r == 0)
				df_plan_free(&p);
		}
		CHECK(ok);
	}
}

TEST(multi_stage_pruning)
{
	struct df_plan p;
	const char *df = "FROM busybox AS tools\n"       /* 0: needed by COPY --from=tools */
			 "RUN echo tools\n"
			 "FROM debian:12 AS unused\n"    /* 1: pruned */
			 "RUN echo unused\n"
			 "FROM busybox AS base\n"        /* 2: FROM base */
			 "ENV FROM_BASE=1\n"
			 "WORKDIR /srv\n"
			 "CMD [\"base-cmd\"]\n"
			 "FROM base AS final\n"          /* 3 */
			 "COPY --from=tools /bin/x /x\n"
			 "COPY --from=0 /bin/y y\n"
			 "RUN true\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK_EQ(p.nstages, 3);
	CHECK_STR(p.stages[0].name, "tools");
	CHECK_STR(p.stages[1].name, "base");
	CHECK_STR(p.stages[2].name, "final");
	CHECK_EQ(p.stages[2].base_stage, 1);
	CHECK_STR(p.stages[2].base, "base");
	CHECK_EQ(p.stages[2].line, 9);
	struct df_step *st = p.stages[2].steps;
	CHECK_EQ(st[0].from_stage, 0);
	CHECK_EQ(st[1].from_stage, 0);
	CHECK_STR(st[1].dest, "/srv/y");
	CHECK_STR(env_of(st[2].env, st[2].nenv, "FROM_BASE"), "1");
	CHECK(vis(p.cfg.argv, p.cfg.argc, "base-cmd", NULL));
	CHECK_STR(p.cfg.workdir, "/srv");
	df_plan_free(&p);

	/* Stage names are case-insensitive, and the unused stage is dropped even when first. */
	CHECK_EQ(build("FROM busybox AS x\nFROM busybox AS Y\nFROM y\n", &p), 0);
	CHECK_EQ(p.nstages, 2);
	CHECK_STR(p.stages[0].name, "y");
	CHECK_EQ(p.stages[1].base_stage, 0);
	df_plan_free(&p);
}

struct cmdcase {
	const char *lines;
	const char *argv[8];
};

/* The reference's "Understand how CMD and ENTRYPOINT interact" table. */
static const struct cmdcase cmdcases[] = {
	{ "", { NULL } },
	{ "CMD [\"c\", \"p\"]\n", { "c", "p" } },
	{ "CMD c p\n", { "/bin/sh", "-c", "c p" } },
	{ "ENTRYPOINT [\"e\", \"p\"]\n", { "e", "p" } },
	{ "ENTRYPOINT [\"e\"]\nCMD [\"c\", \"p\"]\n", { "e", "c", "p" } },
	{ "ENTRYPOINT [\"e\"]\nCMD c p\n", { "e", "/bin/sh", "-c", "c p" } },
	{ "ENTRYPOINT e p\n", { "/bin/sh", "-c", "e p" } },
	{ "ENTRYPOINT e p\nCMD [\"c\"]\n", { "/bin/sh", "-c", "e p" } },
	{ "ENTRYPOINT e p\nCMD c\n", { "/bin/sh", "-c", "e p" } },
	{ "CMD [\"c\"]\nENTRYPOINT [\"e\"]\n", { "e", "c" } }, /* CMD of this stage kept */
	{ "CMD [\"old\"]\nCMD [\"new\"]\n", { "new" } },
	{ "SHELL [\"/bin/ash\", \"-c\"]\nCMD c\n", { "/bin/ash", "-c", "c" } },
	{ "ENTRYPOINT [\"e\"]\nENTRYPOINT []\nCMD [\"c\"]\n", { "c" } },
};

TEST(cmd_entrypoint_table)
{
	for (size_t i = 0; i < sizeof cmdcases / sizeof cmdcases[0]; i++) {
		char df[512];
		struct df_plan p;
		snprintf(df, sizeof df, "FROM busybox\n%s", cmdcases[i].lines);
		CHECK_EQ(build(df, &p), 0);
		size_t n = 0;
		while (n < 8 && cmdcases[i].argv[n])
			n++;
		int ok = p.cfg.argc == n && p.cfg.argv[n] == NULL;
		for (size_t k = 0; ok && k < n; k++)
			ok = !strcmp(p.cfg.argv[k], cmdcases[i].argv[k]);
		if (!ok)
			fprintf(stderr, "  case %zu: argc %zu (want %zu) argv[0] %s\n", i, p.cfg.argc, n,
				p.cfg.argc ? p.cfg.argv[0] : "-");
		df_plan_free(&p);
		CHECK(ok);
	}
	/* ENTRYPOINT in a stage drops the CMD inherited from its base stage. */
	struct df_plan p;
	CHECK_EQ(build("FROM busybox AS b\nCMD [\"c\"]\nFROM b\nENTRYPOINT [\"e\"]\n", &p), 0);
	CHECK(vis(p.cfg.argv, p.cfg.argc, "e", NULL));
	CHECK_EQ(p.cfg.cmd_set, 0);
	CHECK_EQ(p.cfg.entrypoint_set, 1);
	df_plan_free(&p);
	CHECK_EQ(build("FROM busybox AS b\nCMD [\"c\"]\nFROM b\n", &p), 0);
	CHECK(vis(p.cfg.argv, p.cfg.argc, "c", NULL));
	CHECK(vis(p.cfg.cmd, p.cfg.ncmd, "c", NULL));
	df_plan_free(&p);
}

TEST(config_instructions)
{
	struct df_plan p;
	const char *df = "FROM busybox\n"
			 "ARG PORT=8080\n"
			 "EXPOSE $PORT 8081/tcp 53/udp 8080/TCP 9000-9002\n"
			 "LABEL a=1 \"b c\"=\"d e\"\n"
			 "LABEL a=2\n"
			 "LABEL legacy the value\n"
			 "MAINTAINER Jane <j@example.com>\n"
			 "VOLUME [\"/data\", \"/logs\"]\n"
			 "VOLUME /data /cache\n"
			 "STOPSIGNAL SIGTERM\n"
			 "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/\n"
			 "user app:grp\n";
	CHECK_EQ(build(df, &p), 0);
	CHECK_EQ(p.cfg.nports, 5);
	CHECK_EQ(p.cfg.ports[0], 8080);
	CHECK_EQ(p.cfg.ports[1], 8081);
	CHECK_EQ(p.cfg.ports[2], 9000);
	CHECK_EQ(p.cfg.ports[4], 9002);
	CHECK(vis(p.cfg.labels, p.cfg.nlabels, "a=2", "b c=d e", "legacy=the value", NULL));
	CHECK_STR(p.cfg.maintainer, "Jane <j@example.com>");
	CHECK(vis(p.cfg.volumes, p.cfg.nvolumes, "/data", "/logs", "/cache", NULL));
	CHECK_STR(p.cfg.stopsignal, "SIGTERM");
	CHECK(vis(p.cfg.healthcheck, p.cfg.nhealthcheck, "CMD-SHELL", "curl -f http://localhost/",
		  NULL));
	CHECK(vis(p.cfg.healthcheck_opts, p.cfg.nhealthcheck_opts, "interval=5s", "retries=3", NULL));
	CHECK_STR(p.cfg.user, "app:grp");
	CHECK_EQ(p.stages[0].nsteps, 0);
	df_plan_free(&p);
	CHECK_EQ(build("FROM busybox\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK none\n", &p), 0);
	CHECK(vis(p.cfg.healthcheck, p.cfg.nhealthcheck, "NONE", NULL));
	df_plan_free(&p);
}

TEST(bounds)
{
	struct df_plan p;
	/* More instructions than DF_MAX_LINES */
	size_t n = 14 + (DF_MAX_LINES + 1) * 9;
	char *df = malloc(n), *o = df;
	o += sprintf(o, "FROM busybox\n");
	for (int i = 0; i < DF_MAX_LINES; i++)
		o += sprintf(o, "RUN true\n");
	CHECK_EQ(df_plan_build(df, (size_t)(o - df), NULL, 0, &p, &e), -1);
	CHECK(strstr(e.msg, "instructions") != NULL);
	CHECK_EQ(e.line, DF_MAX_LINES + 1);
	free(df);
	/* Words that double each line stop at DF_MAX_WORD. */
	char big[4096];
	o = big;
	o += sprintf(o, "FROM busybox\nENV a=xxxxxxxxxxxxxxxx\n");
	for (int i = 0; i < 20; i++)
		o += sprintf(o, "ENV a=$a$a\n");
	CHECK_EQ(build(big, &p), -1);
	CHECK(strstr(e.msg, "longer") != NULL);
	CHECK_EQ(e.line, 15);
	/* Too many stages */
	o = big;
	for (int i = 0; i <= DF_MAX_STAGES; i++)
		o += sprintf(o, "FROM busybox\n");
	CHECK_EQ(build(big, &p), -1);
	CHECK_EQ(e.line, DF_MAX_STAGES + 1);
}

TEST_MAIN(T(basic_plan), T(directives_and_lines), T(exec_form_and_fallback), T(heredocs),
	  T(args_and_env), T(workdir_copy_paths), T(errors_with_lines), T(multi_stage_pruning),
	  T(cmd_entrypoint_table), T(config_instructions), T(bounds))
