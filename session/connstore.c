/*
 * connstore.c - allowlist connectors on disk (connstore.h).
 */
#include "session/connstore.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/api_ident.h"
#include "session/fsutil.h"

#define CONN_FILE_MAX (64 * 1024)

void connstore_arn(const char *name, char *out, size_t n)
{
	snprintf(out, n, API_ARN_PREFIX API_MANAGED_ACCOUNT ":network-connector:" CONNSTORE_ARN_KIND
		 "%s", name);
}

static void conn_path(const char *state_dir, const char *name, char *out, size_t n)
{
	fsutil_pathf(out, n, "%s/connectors/%s%s", state_dir, name, name[0] ? ".json" : "");
}

int connstore_load(const char *state_dir, const char *name, struct api_connector *out)
{
	char path[4200], buf[CONN_FILE_MAX];
	if (!api_connector_name_ok(name))
		return 0;
	conn_path(state_dir, name, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0 || (size_t)n >= sizeof buf)
		return -1;
	struct api_err e = { 0 };
	struct json_object *o = api_json_parse(buf, (size_t)n, &e);
	int rc = o && api_connector_parse(o, out, &e) == 0 && !strcmp(out->name, name) ? 1 : -1;
	json_object_put(o);
	return rc;
}

static struct json_object *to_json(const struct api_connector *c)
{
	struct json_object *o = json_object_new_object(), *h = json_object_new_array(),
			   *r = json_object_new_array();
	json_object_object_add(o, "name", json_object_new_string(c->name));
	for (unsigned i = 0; i < c->n_hosts; i++)
		json_object_array_add(h, json_object_new_string(c->hosts[i]));
	for (unsigned i = 0; i < c->n_cidrs; i++) {
		char ip[INET_ADDRSTRLEN], s[64];
		struct in_addr a = { htonl(c->cidrs[i].addr) };
		inet_ntop(AF_INET, &a, ip, sizeof ip);
		if (c->cidrs[i].port)
			snprintf(s, sizeof s, "%s/%u:%u", ip, c->cidrs[i].prefix, c->cidrs[i].port);
		else
			snprintf(s, sizeof s, "%s/%u", ip, c->cidrs[i].prefix);
		json_object_array_add(r, json_object_new_string(s));
	}
	json_object_object_add(o, "hosts", h);
	json_object_object_add(o, "cidrs", r);
	return o;
}

int connstore_create(const char *state_dir, const struct api_connector *c)
{
	char dir[4200], path[4200], tmp[4300];
	conn_path(state_dir, "", dir, sizeof dir);
	if (fsutil_mkdir_p(dir, 0700) < 0)
		return -1;
	conn_path(state_dir, c->name, path, sizeof path);
	fsutil_pathf(tmp, sizeof tmp, "%s.tmp", path);
	struct json_object *o = to_json(c);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(s);
	int ok = fd >= 0 && write(fd, s, len) == (ssize_t)len && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	/* link(2) fails on an existing name: two creates never both win. */
	if (!ok || link(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	unlink(tmp);
	return fsutil_sync_dir(dir);
}

int connstore_delete(const char *state_dir, const char *name)
{
	char path[4200], dir[4200];
	if (!api_connector_name_ok(name)) {
		errno = ENOENT;
		return -1;
	}
	conn_path(state_dir, name, path, sizeof path);
	conn_path(state_dir, "", dir, sizeof dir);
	if (unlink(path) < 0)
		return -1;
	return fsutil_sync_dir(dir);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int connstore_each(const char *state_dir, int (*cb)(const struct api_connector *c, void *ctx),
		   void *ctx)
{
	char dir[4200];
	struct dirent **ents;
	conn_path(state_dir, "", dir, sizeof dir);
	int n = scandir(dir, &ents, NULL, by_name);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	struct api_connector *c = malloc(sizeof *c);
	int stop = !c;
	for (int i = 0; i < n; i++) {
		char name[256];
		size_t l = strlen(ents[i]->d_name);
		if (!stop && l > 5 && l - 5 < sizeof name && !strcmp(ents[i]->d_name + l - 5, ".json")) {
			memcpy(name, ents[i]->d_name, l - 5);
			name[l - 5] = '\0';
			if (connstore_load(state_dir, name, c) == 1)
				stop = cb(c, ctx);
		}
		free(ents[i]);
	}
	free(ents);
	int rc = c ? 0 : -1;
	free(c);
	return rc;
}
