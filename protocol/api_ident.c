/*
 * api_ident.c - identifier syntax. Only a small safe alphabet is accepted
 * so that an identifier can never name a path outside its directory.
 */
#include "api_ident.h"

#include <stdio.h>
#include <string.h>

#define ARN_MAX 2048

static int name_ok(const char *s, size_t n, size_t max)
{
	if (n < 1 || n > max)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * Split "arn:partition:service:region:account:type:name" into its fields.
 * Returns 0 on success with the account, type and name spans set.
 */
static int arn_split(const char *s, const char **acct, size_t *acctn, const char **type,
		     size_t *typen, const char **name, size_t *namen)
{
	const char *f[7];
	size_t fl[7];
	const char *p = s;
	if (strncmp(s, "arn:", 4) != 0)
		return -1;
	for (int i = 0; i < 7; i++) {
		const char *end = i < 6 ? strchr(p, ':') : p + strlen(p);
		if (!end)
			return -1;
		f[i] = p;
		fl[i] = (size_t)(end - p);
		p = end + (i < 6);
	}
	if (fl[2] != 6 || strncmp(f[2], "lambda", 6) != 0 || fl[1] == 0 || fl[3] == 0 ||
	    fl[4] == 0)
		return -1;
	*acct = f[4];
	*acctn = fl[4];
	*type = f[5];
	*typen = fl[5];
	*name = f[6];
	*namen = fl[6];
	return 0;
}

static int ident_parse(const char *s, int want, struct api_ident *out, struct api_err *e)
{
	size_t len = strlen(s);
	const char *what = want == API_RES_MICROVM ? "microvmIdentifier"
			 : want == API_RES_IMAGE   ? "imageIdentifier"
						   : "Resource";
	memset(out, 0, sizeof *out);
	if (len < 1 || len > ARN_MAX)
		return api_fail(e, API_E_VALIDATION, "%s must be 1 to %d characters long", what,
				ARN_MAX);
	const char *name = s;
	size_t namen = len;
	int kind = want;
	if (strncmp(s, "arn:", 4) == 0) {
		const char *acct, *type;
		size_t acctn, typen;
		if (arn_split(s, &acct, &acctn, &type, &typen, &name, &namen) < 0)
			return api_fail(e, API_E_VALIDATION, "%s is not a valid ARN", what);
		if (typen == 7 && strncmp(type, "microvm", 7) == 0)
			kind = API_RES_MICROVM;
		else if (typen == 13 && strncmp(type, "microvm-image", 13) == 0)
			kind = API_RES_IMAGE;
		else
			return api_fail(e, API_E_VALIDATION, "%s has an unknown resource type", what);
		if (want && kind != want)
			return api_fail(e, API_E_VALIDATION, "%s names the wrong resource type", what);
		out->managed = acctn == 3 && strncmp(acct, API_MANAGED_ACCOUNT, 3) == 0;
		out->is_arn = 1;
	} else if (!want) {
		return api_fail(e, API_E_VALIDATION, "%s must be an ARN", what);
	}
	size_t max = kind == API_RES_MICROVM ? API_ID_MAX : API_NAME_MAX;
	if (!name_ok(name, namen, max))
		return api_fail(e, API_E_VALIDATION, "%s contains an invalid name or id", what);
	out->kind = kind;
	memcpy(out->name, name, namen);
	out->name[namen] = '\0';
	return 0;
}

int api_ident_microvm(const char *s, struct api_ident *out, struct api_err *e)
{
	return ident_parse(s, API_RES_MICROVM, out, e);
}

int api_ident_image(const char *s, struct api_ident *out, struct api_err *e)
{
	return ident_parse(s, API_RES_IMAGE, out, e);
}

int api_ident_resource(const char *s, struct api_ident *out, struct api_err *e)
{
	return ident_parse(s, 0, out, e);
}

int api_ident_version(const char *s, struct api_err *e)
{
	if (!name_ok(s, strlen(s), 64))
		return api_fail(e, API_E_VALIDATION, "imageVersion is not a valid version");
	return 0;
}

int api_ident_microvm_arn(const char *id, char *out, size_t n)
{
	int r = snprintf(out, n, API_ARN_PREFIX API_ACCOUNT ":microvm:%s", id);
	return r < 0 || (size_t)r >= n ? -1 : r;
}

int api_ident_image_arn(const char *name, int managed, char *out, size_t n)
{
	int r = snprintf(out, n, API_ARN_PREFIX "%s:microvm-image:%s",
			 managed ? API_MANAGED_ACCOUNT : API_ACCOUNT, name);
	return r < 0 || (size_t)r >= n ? -1 : r;
}
