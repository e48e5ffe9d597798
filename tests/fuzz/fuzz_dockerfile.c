/* fuzz_dockerfile.c - df_plan_build on arbitrary text, with and without a
 * build arg. Checks the plan's invariants: an error leaves the plan empty
 * and carries a message; on success every stage index points backwards,
 * every step has a line inside the text, absolute workdir and dest, and
 * NULL-terminated vectors (ASan/UBSan watch every byte). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dockerfile.h"

static void check_vec(char **v, size_t n)
{
	if (!v || v[n] != NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!v[i] || strlen(v[i]) > DF_MAX_TEXT + DF_MAX_WORD * 4)
			abort();
}

static void check(const struct df_plan *p, int rc, const struct df_err *e, int lines)
{
	if (rc < 0) {
		if (p->nstages || p->stages || !e->msg[0] || e->line < 0 || e->line > lines)
			abort();
		return;
	}
	if (rc != 0 || p->nstages == 0 || p->nstages > DF_MAX_STAGES)
		abort();
	if (p->escape != '\\' && p->escape != '`')
		abort();
	for (size_t i = 0; i < p->nstages; i++) {
		const struct df_stage *s = &p->stages[i];
		if (!s->base || s->base_stage >= (int)i || s->base_stage < -1 || s->line < 1 ||
		    s->line > lines)
			abort();
		for (size_t j = 0; j < s->nsteps; j++) {
			const struct df_step *st = &s->steps[j];
			if (st->line < s->line || st->line > lines || !st->display)
				abort();
			if (!st->workdir || st->workdir[0] != '/' || !st->user)
				abort();
			check_vec(st->env, st->nenv);
			if (st->kind == DF_STEP_RUN)
				check_vec(st->argv, st->argc);
			if (st->kind == DF_STEP_COPY || st->kind == DF_STEP_ADD) {
				check_vec(st->src, st->nsrc);
				if (!st->dest || st->dest[0] != '/' || st->from_stage >= (int)i ||
				    st->from_stage < -1)
					abort();
				for (size_t k = 0; k < st->ninl; k++)
					if (!st->inl[k].name || !st->inl[k].body)
						abort();
			}
		}
	}
	const struct df_config *c = &p->cfg;
	check_vec(c->argv, c->argc);
	check_vec(c->env, c->nenv);
	check_vec(c->labels, c->nlabels);
	check_vec(c->shell, c->nshell);
	check_vec(c->volumes, c->nvolumes);
	if (!c->workdir || c->workdir[0] != '/' || !c->user)
		abort();
	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i] == 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	static const char *const args[] = { "A=x y", "TAG=12", "ARG" };
	struct df_plan p;
	struct df_err e;
	int rc = df_plan_build((const char *)data, size, NULL, 0, &p, &e);
	check(&p, rc, &e, lines);
	df_plan_free(&p);
	rc = df_plan_build((const char *)data, size, args, 3, &p, &e);
	check(&p, rc, &e, lines);
	df_plan_free(&p);
	return 0;
}
