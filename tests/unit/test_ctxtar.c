/*
 * test_ctxtar.c - the tar streams of a build (session/ctxtar.c): COPY/ADD
 * selection from a real context directory, read back with libarchive and
 * extracted with the agent's multi-root put (shell/agent/tarfs.c); the step
 * cache hash; a tar repacked as a cpio initramfs.
 */
#include "protocol/dockerignore.h"
#include "session/ctxtar.h"
#include "shell/agent/tarfs.h"
#include "tests/unit/test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char tmp[64], ctx[128];
static struct dfignore *ign;

#define MAXE 64
struct rd {
	char name[256];
	unsigned type, mode;
	long uid, gid;
	char body[256];
	char link[256];
	unsigned rmaj, rmin;
};
static struct rd ents[MAXE];
static size_t nents;

/* Read every entry of an archive file (any format, any filter). */
static int read_back(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	nents = 0;
	if (archive_read_open_filename(a, path, 10240) != ARCHIVE_OK)
		return -1;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK && nents < MAXE) {
		struct rd *r = &ents[nents++];
		memset(r, 0, sizeof *r);
		snprintf(r->name, sizeof r->name, "%s", archive_entry_pathname(e));
		size_t l = strlen(r->name); /* the tar writer ends directory names with '/' */
		if (l > 1 && r->name[l - 1] == '/')
			r->name[l - 1] = '\0';
		r->type = archive_entry_filetype(e);
		r->mode = archive_entry_perm(e);
		r->uid = (long)archive_entry_uid(e);
		r->gid = (long)archive_entry_gid(e);
		if (archive_entry_symlink(e))
			snprintf(r->link, sizeof r->link, "%s", archive_entry_symlink(e));
		r->rmaj = major(archive_entry_rdev(e));
		r->rmin = minor(archive_entry_rdev(e));
		la_ssize_t n = archive_read_data(a, r->body, sizeof r->body - 1);
		r->body[n > 0 ? n : 0] = '\0';
	}
	archive_read_free(a);
	return 0;
}

static const struct rd *find(const char *name)
{
	for (size_t i = 0; i < nents; i++)
		if (!strcmp(ents[i].name, name))
			return &ents[i];
	return NULL;
}

static const struct ctxtar_opts plain = { -1, -1, -1, 0 };

/* ctxtar_copy into tmp/out.tar and read it back; the rc of the copy. */
static int copy(const char *const *srcs, size_t n, const char *dest, const struct ctxtar_opts *o,
		char *dir, char *msg)
{
	char path[256];
	snprintf(path, sizeof path, "%s/out.tar", tmp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -2;
	dir[0] = msg[0] = '\0';
	int rc = ctxtar_copy(fd, ctx, ign, srcs, n, NULL, NULL, 0, dest, o ? o : &plain, dir, 4096,
			     msg, 256);
	close(fd);
	if (rc == 0 && read_back(path) < 0)
		return -2;
	return rc;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A tar (gzip when gz) of name -> body pairs at path. */
static int make_tar(const char *path, const char *const *names, const char *const *bodies,
		    size_t n, int gz)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, names[i]);
		size_t l = strlen(names[i]);
		if (names[i][l - 1] == '/') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (!strncmp(bodies[i], "->", 2)) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, bodies[i] + 2);
		} else if (!strncmp(bodies[i], "chr", 3)) {
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0600);
			archive_entry_set_rdev(e, makedev(5, 1));
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0640);
			archive_entry_set_uid(e, 7);
			archive_entry_set_size(e, (la_int64_t)strlen(bodies[i]));
		}
		archive_write_header(a, e);
		if (archive_entry_filetype(e) == AE_IFREG)
			archive_write_data(a, bodies[i], strlen(bodies[i]));
		archive_entry_free(e);
	}
	int rc = archive_write_close(a) == ARCHIVE_OK ? 0 : -1;
	archive_write_free(a);
	return rc;
}

TEST(test_setup)
{
	snprintf(tmp, sizeof tmp, "/tmp/test_ctxtar.XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
	snprintf(ctx, sizeof ctx, "%s/ctx", tmp);
	CHECK_EQ(sh("set -e; mkdir -p %s/app/lib %s/secret; cd %s; "
		    "printf 'FROM busybox\\n' > Dockerfile; "
		    "printf '**/*.log\\n!keep.log\\nsecret\\n**/*.tmp\\n' > .dockerignore; "
		    "printf 'main' > app/main.py; chmod 755 app/main.py; "
		    "printf 'util' > app/lib/util.py; printf 'log' > app/x.log; printf 'kept' > keep.log; "
		    "printf 'tmp' > app/lib/a.tmp; printf 'key' > secret/key; "
		    "printf 'readme' > README.md; ln -s app/main.py link; cd %s",
		    ctx, ctx, ctx, ctx), 0);
	const char *rules = "**/*.log\n!keep.log\nsecret\n**/*.tmp\n";
	char err[64];
	ign = dfignore_parse(rules, strlen(rules), err, sizeof err);
	CHECK(ign != NULL);
}

TEST(test_copy_dir)
{
	char dir[4096], msg[256];
	const char *s[] = { "app" };
	CHECK_EQ(copy(s, 1, "/srv", NULL, dir, msg), 0);
	CHECK_STR(dir, "/srv");
	CHECK_EQ(nents, 3);
	const struct rd *m = find("main.py"), *l = find("lib"), *u = find("lib/util.py");
	CHECK(m && l && u);
	CHECK(m->type == AE_IFREG && m->mode == 0755 && !strcmp(m->body, "main") && m->uid == 0);
	CHECK(l->type == AE_IFDIR);
	CHECK(!strcmp(u->body, "util"));
	CHECK(find("x.log") == NULL && find("lib/a.tmp") == NULL);
	/* a '/' at the end changes nothing for a directory */
	CHECK_EQ(copy(s, 1, "/srv/", NULL, dir, msg), 0);
	CHECK_STR(dir, "/srv");
	CHECK_EQ(nents, 3);
}

TEST(test_copy_context_ignored)
{
	char dir[4096], msg[256];
	const char *s[] = { "." };
	CHECK_EQ(copy(s, 1, "/app/", NULL, dir, msg), 0);
	CHECK_STR(dir, "/app");
	CHECK(find("Dockerfile") && find(".dockerignore") && find("README.md"));
	CHECK(find("keep.log") != NULL); /* re-included by "!" */
	CHECK(find("app/x.log") == NULL && find("secret") == NULL && find("secret/key") == NULL &&
	      find("app/lib/a.tmp") == NULL);
	const struct rd *l = find("link");
	CHECK(l && l->type == AE_IFLNK && !strcmp(l->link, "app/main.py"));
	/* naming an ignored file is an error */
	const char *s2[] = { "secret/key" };
	CHECK_EQ(copy(s2, 1, "/x", NULL, dir, msg), -1);
	CHECK(strstr(msg, "secret/key") != NULL);
}

TEST(test_file_to_file)
{
	char dir[4096], msg[256];
	const char *s[] = { "app/main.py" };
	CHECK_EQ(copy(s, 1, "/srv/run.py", NULL, dir, msg), 0);
	CHECK_STR(dir, "/srv");
	CHECK(nents == 1 && !strcmp(ents[0].name, "run.py") && !strcmp(ents[0].body, "main"));
	CHECK_EQ(copy(s, 1, "/srv/", NULL, dir, msg), 0);
	CHECK_STR(dir, "/srv");
	CHECK(nents == 1 && !strcmp(ents[0].name, "main.py"));
	CHECK_EQ(copy(s, 1, "/run.py", NULL, dir, msg), 0);
	CHECK_STR(dir, "/");
	CHECK(nents == 1 && !strcmp(ents[0].name, "run.py"));
	/* a symlink source is copied as a link */
	const char *s2[] = { "link" };
	CHECK_EQ(copy(s2, 1, "/l", NULL, dir, msg), 0);
	CHECK(nents == 1 && ents[0].type == AE_IFLNK && !strcmp(ents[0].name, "l"));
}

TEST(test_wildcard)
{
	char dir[4096], msg[256];
	const char *s[] = { "app/*.py" };
	CHECK_EQ(copy(s, 1, "/d/", NULL, dir, msg), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "main.py"));
	const char *s2[] = { "*.md", "app/lib" };
	CHECK_EQ(copy(s2, 2, "/d/", NULL, dir, msg), 0);
	CHECK(find("README.md") && find("util.py") && nents == 2);
	const char *s3[] = { "app/*.log" }; /* only ignored files match */
	CHECK_EQ(copy(s3, 1, "/d/", NULL, dir, msg), -1);
	CHECK(strstr(msg, "app/*.log") != NULL);
	const char *s5[] = { "**/util.py" }; /* deep matches */
	CHECK_EQ(copy(s5, 1, "/d/", NULL, dir, msg), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "util.py"));
	const char *s6[] = { "*/lib" }; /* a matched directory copies its contents */
	CHECK_EQ(copy(s6, 1, "/d/", NULL, dir, msg), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "util.py"));
	const char *s4[] = { "*" }; /* many matches need a '/' */
	CHECK_EQ(copy(s4, 1, "/d", NULL, dir, msg), -1);
}

TEST(test_dest_rules)
{
	char dir[4096], msg[256];
	const char *two[] = { "README.md", "keep.log" };
	CHECK_EQ(copy(two, 2, "/d", NULL, dir, msg), -1);
	CHECK(strstr(msg, "'/'") != NULL);
	CHECK_EQ(copy(two, 2, "/d/", NULL, dir, msg), 0);
	CHECK(find("README.md") && find("keep.log") && nents == 2);
	const char *one[] = { "README.md" };
	CHECK_EQ(copy(one, 1, "relative/", NULL, dir, msg), -1);
	const char *missing[] = { "nope.txt" };
	CHECK_EQ(copy(missing, 1, "/d/", NULL, dir, msg), -1);
	CHECK(strstr(msg, "nope.txt") != NULL);
	const char *out[] = { "../etc/passwd" };
	CHECK_EQ(copy(out, 1, "/d/", NULL, dir, msg), -1);
	CHECK(strstr(msg, "outside") != NULL);
	const char *through[] = { "link/x" }; /* through a symlink */
	CHECK_EQ(copy(through, 1, "/d/", NULL, dir, msg), -1);
}

TEST(test_chown_chmod)
{
	char dir[4096], msg[256];
	struct ctxtar_opts o = { 1000, 1001, 0600, 0 };
	const char *s[] = { "app" };
	CHECK_EQ(copy(s, 1, "/srv", &o, dir, msg), 0);
	CHECK(nents == 3);
	for (size_t i = 0; i < nents; i++)
		CHECK(ents[i].uid == 1000 && ents[i].gid == 1001 && ents[i].mode == 0600);
}

TEST(test_add_unpacks)
{
	char dir[4096], msg[256], path[256];
	const char *names[] = { "pkg/", "pkg/a.txt", "./pkg/b/c.txt", "pkg/l" };
	const char *bodies[] = { "", "A", "C", "->a.txt" };
	snprintf(path, sizeof path, "%s/pkg.tar.gz", ctx);
	CHECK_EQ(make_tar(path, names, bodies, 4, 1), 0);
	const char *s[] = { "pkg.tar.gz" };
	struct ctxtar_opts add = { -1, -1, -1, 1 };
	CHECK_EQ(copy(s, 1, "/opt", &add, dir, msg), 0);
	CHECK_STR(dir, "/opt");
	const struct rd *a = find("pkg/a.txt"), *c = find("pkg/b/c.txt"), *l = find("pkg/l");
	CHECK(a && c && l && find("pkg"));
	CHECK(!strcmp(a->body, "A") && a->mode == 0640 && a->uid == 7);
	CHECK(l->type == AE_IFLNK && !strcmp(l->link, "a.txt"));
	/* COPY (no unpack) takes the archive as a file */
	CHECK_EQ(copy(s, 1, "/opt/", NULL, dir, msg), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "pkg.tar.gz"));
	/* a non-archive under ADD is a plain file */
	const char *r[] = { "README.md" };
	CHECK_EQ(copy(r, 1, "/opt/r", &add, dir, msg), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "r"));
	/* unsafe names inside the archive */
	const char *bad[] = { "../evil" }, *badb[] = { "x" };
	snprintf(path, sizeof path, "%s/bad.tar", ctx);
	CHECK_EQ(make_tar(path, bad, badb, 1, 0), 0);
	const char *s2[] = { "bad.tar" };
	CHECK_EQ(copy(s2, 1, "/opt/", &add, dir, msg), -1);
	CHECK(strstr(msg, "unsafe") != NULL);
	const char *abs[] = { "/etc/evil" };
	CHECK_EQ(make_tar(path, abs, badb, 1, 0), 0);
	CHECK_EQ(copy(s2, 1, "/opt/", &add, dir, msg), -1);
	unlink(path);
	snprintf(path, sizeof path, "%s/pkg.tar.gz", ctx);
	unlink(path);
}

TEST(test_inline)
{
	char dir[4096], msg[256], path[256];
	const char *names[] = { "EOF" }, *bodies[] = { "hello\n" };
	snprintf(path, sizeof path, "%s/out.tar", tmp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	int rc = ctxtar_copy(fd, ctx, ign, NULL, 0, names, bodies, 1, "/etc/motd", &plain, dir,
			     sizeof dir, msg, sizeof msg);
	close(fd);
	CHECK_EQ(rc, 0);
	CHECK_STR(dir, "/etc");
	CHECK_EQ(read_back(path), 0);
	CHECK(nents == 1 && !strcmp(ents[0].name, "motd") && !strcmp(ents[0].body, "hello\n") &&
	      ents[0].mode == 0644);
}

static int hash(const char *const *s, size_t n, const char *dest, const struct ctxtar_opts *o,
		char hex[65])
{
	char msg[256];
	return ctxtar_hash(ctx, ign, s, n, NULL, NULL, 0, dest, o ? o : &plain, hex, msg,
			   sizeof msg);
}

TEST(test_hash)
{
	char h1[65], h2[65], h3[65], h4[65], h5[65];
	const char *s[] = { "app" };
	CHECK_EQ(hash(s, 1, "/srv", NULL, h1), 0);
	CHECK_EQ(strlen(h1), 64);
	CHECK_EQ(hash(s, 1, "/srv", NULL, h2), 0);
	CHECK_STR(h1, h2);
	/* mtime alone does not change the key */
	CHECK_EQ(sh("touch -d '2001-01-01' %s/app/main.py", ctx), 0);
	CHECK_EQ(hash(s, 1, "/srv", NULL, h2), 0);
	CHECK_STR(h1, h2);
	/* content does (same size) */
	CHECK_EQ(sh("printf 'MAIN' > %s/app/main.py", ctx), 0);
	CHECK_EQ(hash(s, 1, "/srv", NULL, h3), 0);
	CHECK(strcmp(h1, h3) != 0);
	CHECK_EQ(sh("printf 'main' > %s/app/main.py", ctx), 0);
	CHECK_EQ(hash(s, 1, "/srv", NULL, h3), 0);
	CHECK_STR(h1, h3);
	/* so do opts and the destination */
	struct ctxtar_opts o = { -1, -1, 0600, 0 };
	CHECK_EQ(hash(s, 1, "/srv", &o, h4), 0);
	CHECK(strcmp(h1, h4) != 0);
	CHECK_EQ(hash(s, 1, "/srv2", NULL, h5), 0);
	CHECK(strcmp(h1, h5) != 0);
	/* an ignored file changing does not */
	CHECK_EQ(sh("printf 'other' > %s/app/x.log", ctx), 0);
	CHECK_EQ(hash(s, 1, "/srv", NULL, h2), 0);
	CHECK_STR(h1, h2);
	/* errors as the copy's */
	const char *missing[] = { "nope" };
	CHECK_EQ(hash(missing, 1, "/srv", NULL, h2), -1);
}

TEST(test_put_multi)
{
	/* the stream goes through the agent's multi-root extraction */
	char dir[4096], msg[256], path[256], err[256], dest[4200];
	const char *s[] = { "app", "README.md", "link" };
	CHECK_EQ(copy(s, 3, "/srv/", NULL, dir, msg), 0);
	snprintf(path, sizeof path, "%s/out.tar", tmp);
	snprintf(dest, sizeof dest, "%s/guest%s", tmp, dir);
	CHECK_EQ(sh("mkdir -p %s/guest/srv/lib && printf old > %s/guest/srv/README.md", tmp, tmp), 0);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	int rc = tarfs_extract_multi(fd, dest, err, sizeof err);
	close(fd);
	if (rc)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(rc, 0);
	char p[4300], buf[16] = "";
	snprintf(p, sizeof p, "%s/lib/util.py", dest);
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, buf, sizeof buf) == 4 && !memcmp(buf, "util", 4));
	close(fd);
	snprintf(p, sizeof p, "%s/README.md", dest);
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, buf, sizeof buf) == 6 && !memcmp(buf, "readme", 6));
	close(fd);
	struct stat st;
	snprintf(p, sizeof p, "%s/main.py", dest);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
	snprintf(p, sizeof p, "%s/link", dest);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
}

TEST(test_cleanup)
{
	dfignore_free(ign);
	CHECK_EQ(sh("rm -rf %s", tmp), 0);
}

TEST_MAIN(T(test_setup), T(test_copy_dir), T(test_copy_context_ignored), T(test_file_to_file),
	  T(test_wildcard), T(test_dest_rules), T(test_chown_chmod), T(test_add_unpacks),
	  T(test_inline), T(test_hash), T(test_put_multi),
	  T(test_cleanup))
