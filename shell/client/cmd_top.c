/*
 * cmd_top.c - `hearth top`: a live full-screen view of the microVMs
 * (ListMicrovms, every page, plus GetMicrovm of the selected one) with keys
 * to attach, suspend, resume and terminate. Errors go to a status line; the
 * terminal is restored on every way out (q, Ctrl-C, SIGTERM, SIGHUP).
 */
#include "shell/client/apiq.h"
#include "shell/client/client.h"
#include "shell/client/top.h"
#include "vmm/clock.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOP_MAX_PAGES 1000   /* ListMicrovms pages per refresh */

enum { O_INTERVAL = 1 };

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void top_status(struct top *t, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void top_status(struct top *t, int kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->status, sizeof(t->status), fmt, ap);
	va_end(ap);
	t->status_kind = kind;
}

/* ---- data ---- */

int64_t top_int_or(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return dflt;
	return json_object_get_int64(v);
}

int64_t top_int(json_object *o, const char *key)
{
	return top_int_or(o, key, 0);
}

static void top_fill(struct top_vm *v, json_object *item)
{
	const char *arn = api_str(item, "imageArn");
	const char *img = strrchr(arn, ':');
	snprintf(v->id, sizeof(v->id), "%s", api_str(item, "microvmId"));
	snprintf(v->state, sizeof(v->state), "%s", api_str(item, "state"));
	snprintf(v->image, sizeof(v->image), "%s", img ? img + 1 : arn);
	snprintf(v->version, sizeof(v->version), "%s", api_str(item, "imageVersion"));
	v->started = top_int(item, "startedAt");
	json_object *h = NULL;
	if (!json_object_object_get_ex(item, "hearth", &h) ||
	    !json_object_is_type(h, json_type_object))
		h = NULL;
	v->active = h ? top_int(h, "lastActivityAt") : 0;
	v->mem = h ? top_int_or(h, "memoryBytes", -1) : -1;
	v->shells = h ? top_int_or(h, "shells", -1) : -1;
}

/* Keep the selection on the same VM across refreshes when it still exists. */
static void top_reselect(struct top *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->vms[i].id, t->sel_id) == 0) {
			t->sel = i;
			return;
		}
	if (t->sel >= t->n)
		t->sel = t->n ? t->n - 1 : 0;
	snprintf(t->sel_id, sizeof(t->sel_id), "%s", t->n ? t->vms[t->sel].id : "");
}

static void top_fetch_detail(struct top *t)
{
	json_object_put(t->detail);
	t->detail = NULL;
	if (!t->n)
		return;
	char enc[256], path[384], err[512];
	if (api_escape(t->vms[t->sel].id, enc, sizeof(enc)) != 0)
		return;
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s", enc);
	if (apiq_call(&t->a, "GET", path, NULL, &t->detail, err, sizeof(err)) != 0)
		t->detail = NULL; /* the list still shows the VM; the detail line only its id */
}

/* Refresh everything; 0, or -1 with the reason in `err` (old data kept). */
static int top_fetch(struct top *t, char *err, size_t errlen)
{
	json_object *items;
	if (apiq_list_vms(&t->a, TOP_MAX_PAGES, &items, err, errlen) != 0)
		return -1;
	size_t n = json_object_array_length(items);
	struct top_vm *vms = calloc(n ? n : 1, sizeof(*vms));
	if (!vms) {
		json_object_put(items);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		top_fill(&vms[i], json_object_array_get_idx(items, i));
	json_object_put(items);
	free(t->vms);
	t->vms = vms;
	t->n = n;
	top_reselect(t);
	top_fetch_detail(t);
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(t->refreshed, sizeof(t->refreshed), "%H:%M:%S", &tm);
	return 0;
}

static void top_refresh(struct top *t)
{
	char err[512];
	if (top_fetch(t, err, sizeof(err)) != 0)
		top_status(t, ST_REFRESH_ERROR, "refresh failed: %s", err);
	else if (t->status_kind == ST_REFRESH_ERROR)
		top_status(t, ST_NONE, "%s", "");
	t->next_refresh_ms = clock_ms() + (int64_t)t->interval_s * 1000;
}

/* ---- actions ---- */

static const struct top_vm *top_selected(struct top *t)
{
	if (!t->n) {
		top_status(t, ST_ERROR, "no microVM selected");
		return NULL;
	}
	return &t->vms[t->sel];
}

static void top_vm_op(struct top *t, const char *verb, const char *method, const char *suffix)
{
	const struct top_vm *v = top_selected(t);
	if (!v)
		return;
	char enc[256], path[384], err[512];
	json_object *doc = NULL;
	if (api_escape(v->id, enc, sizeof(enc)) != 0)
		return;
	snprintf(path, sizeof(path), API_VERSION_PREFIX "/microvms/%s%s", enc, suffix);
	if (apiq_call(&t->a, method, path, NULL, &doc, err, sizeof(err)) != 0)
		top_status(t, ST_ERROR, "%s failed: %s", verb, err);
	else
		top_status(t, ST_INFO, "%s %s: requested", verb, v->id);
	json_object_put(doc);
	t->next_refresh_ms = 0; /* show the new state now */
}

static void top_key_suspend(struct top *t)
{
	top_vm_op(t, "suspend", "POST", "/suspend");
}

static void top_key_resume(struct top *t)
{
	top_vm_op(t, "resume", "POST", "/resume");
}

static void top_key_terminate(struct top *t)
{
	const struct top_vm *v = top_selected(t);
	if (v)
		snprintf(t->confirm_id, sizeof(t->confirm_id), "%s", v->id);
}

/* After a failed `hearth shell`, wait for Enter (the terminal is in its
 * normal mode here) so its message is not wiped by the redraw. */
static void top_pause(const char *id, int st)
{
	char why[64];
	if (WIFEXITED(st))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(why, sizeof(why), "was killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	fprintf(stderr, "\n[hearth shell %s %s - press Enter]", id, why);
	fflush(stderr);
	char c = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if ((r < 0 && errno != EINTR) || r == 0 || (r == 1 && c == '\n') || top_stop)
			break;
	}
}

/* Leave the screen to `hearth shell ID` and come back when it ends. */
static void top_key_attach(struct top *t)
{
	const struct top_vm *v = top_selected(t);
	if (!v)
		return;
	char id[64];
	snprintf(id, sizeof(id), "%s", v->id);
	def_prog_mode();
	endwin();
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigemptyset(&ign.sa_mask);
	/* Ctrl-C while attached belongs to the shell, not to top */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		setenv("HEARTH_API", t->a.url, 1);
		execl("/proc/self/exe", "hearth", "shell", id, (char *)NULL);
		execlp("hearth", "hearth", "shell", id, (char *)NULL);
		perror("hearth top: cannot run 'hearth shell'");
		_exit(127);
	}
	int st = 0;
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	if (pid > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		top_pause(id, st); /* keep the shell's error on screen until it is read */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	reset_prog_mode();
	clearok(curscr, TRUE);
	if (pid < 0)
		top_status(t, ST_ERROR, "attach %s: cannot fork", id);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		top_status(t, ST_INFO, "shell on %s ended", id);
	else if (WIFEXITED(st))
		top_status(t, ST_ERROR, "hearth shell %s exited with status %d", id, WEXITSTATUS(st));
	else
		top_status(t, ST_ERROR, "hearth shell %s killed by signal %d", id,
			   WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	t->next_refresh_ms = 0;
}

static void top_move(struct top *t, long by)
{
	if (!t->n)
		return;
	long s = (long)t->sel + by;
	if (s < 0)
		s = 0;
	if (s >= (long)t->n)
		s = (long)t->n - 1;
	t->sel = (size_t)s;
	snprintf(t->sel_id, sizeof(t->sel_id), "%s", t->vms[t->sel].id);
	/* the detail line follows the selection on the next refresh; fetch it now */
	top_fetch_detail(t);
}

static void top_key_up(struct top *t) { top_move(t, -1); }
static void top_key_down(struct top *t) { top_move(t, 1); }
static void top_key_pgup(struct top *t) { top_move(t, -(LINES > 8 ? LINES - 7 : 1)); }
static void top_key_pgdn(struct top *t) { top_move(t, LINES > 8 ? LINES - 7 : 1); }
static void top_key_home(struct top *t) { top_move(t, -(long)t->n); }
static void top_key_end(struct top *t) { top_move(t, (long)t->n); }
static void top_key_quit(struct top *t) { t->quit = 1; }
static void top_key_redraw(struct top *t) { (void)t; clearok(curscr, TRUE); }

static const struct {
	int key;
	void (*fn)(struct top *t);
} top_keys[] = {
	{ KEY_UP, top_key_up },       { 'k', top_key_up },
	{ KEY_DOWN, top_key_down },   { 'j', top_key_down },
	{ KEY_PPAGE, top_key_pgup },  { KEY_NPAGE, top_key_pgdn },
	{ KEY_HOME, top_key_home },   { KEY_END, top_key_end },
	{ 'a', top_key_attach },      { 's', top_key_suspend },
	{ 'r', top_key_resume },      { 't', top_key_terminate },
	{ 'q', top_key_quit },        { 'Q', top_key_quit },
	{ 12 /* Ctrl-L */, top_key_redraw }, { KEY_RESIZE, top_key_redraw },
};

static void top_key(struct top *t, int ch)
{
	if (t->confirm_id[0] && ch != KEY_RESIZE) { /* the answer to "terminate ID? (y/n)" */
		char id[64];
		snprintf(id, sizeof(id), "%s", t->confirm_id);
		t->confirm_id[0] = 0;
		if (ch != 'y' && ch != 'Y') {
			top_status(t, ST_INFO, "terminate %s cancelled", id);
			return;
		}
		for (size_t i = 0; i < t->n; i++)
			if (strcmp(t->vms[i].id, id) == 0)
				t->sel = i; /* the VM asked about, even if a refresh moved it */
		top_vm_op(t, "terminate", "DELETE", "");
		return;
	}
	for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
		if (top_keys[i].key == ch) {
			top_keys[i].fn(t);
			return;
		}
}

/* ---- the command ---- */

static int top_opt(void *ctx, int opt, const char *arg)
{
	struct top *t = ctx;
	if (opt == O_INTERVAL) {
		long s = api_number(arg, 1, 3600);
		if (s < 0)
			return api_usage(&t->a, "--interval wants seconds (1-3600), not '%s'", arg);
		t->interval_s = (int)s;
		return 0;
	}
	return api_usage(&t->a, "unexpected option");
}

static void top_colors(struct top *t)
{
	const char *nc = getenv("NO_COLOR");
	t->colors = !(nc && *nc) && has_colors() && start_color() == OK;
	if (!t->colors)
		return;
	int bg = use_default_colors() == OK ? -1 : COLOR_BLACK;
	init_pair(C_GOOD, COLOR_GREEN, (short)bg);
	init_pair(C_WARN, COLOR_YELLOW, (short)bg);
	init_pair(C_BAD, COLOR_RED, (short)bg);
	init_pair(C_BUSY, COLOR_CYAN, (short)bg);
}

static int top_loop(struct top *t)
{
	while (!t->quit && !top_stop) {
		int64_t now = clock_ms();
		if (now >= t->next_refresh_ms) {
			top_refresh(t);
			now = clock_ms();
		}
		top_draw(t);
		int64_t wait = t->next_refresh_ms - now;
		timeout(wait > 1000 ? 1000 : wait < 0 ? 0 : (int)wait); /* the UP column ticks */
		int ch = getch();
		if (ch != ERR)
			top_key(t, ch);
	}
	return 0;
}

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, O_INTERVAL },
		API_COMMON_OPTIONS,
		{ 0 },
	};
	struct top t;
	memset(&t, 0, sizeof(t));
	api_init(&t.a, "top", "top [--interval S] [--api URL] [--timeout S]");
	t.a.timeout_s = 5; /* a live view should not hang for long on one request */
	t.interval_s = 2;
	int first, rc = api_parse(&t.a, argc, argv, longopts, top_opt, &t, &first);
	if (rc)
		return rc;
	if (first != argc)
		return api_usage(&t.a, "unexpected argument '%s'", argv[first]);
	if (t.a.json)
		return api_usage(&t.a, "--json does not apply to a live view (use 'hearth list --json')");
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "hearth top: needs a terminal on stdin and stdout "
				"(for scripts: hearth list --all)\n");
		return API_EXIT_FAIL;
	}
	/* The first fetch happens before the screen is taken, so a dead API is a
	 * plain message and a non-zero exit. */
	char err[512];
	if (top_fetch(&t, err, sizeof(err)) != 0) {
		fprintf(stderr, "hearth top: %s\n", err);
		return API_EXIT_FAIL;
	}
	t.next_refresh_ms = clock_ms() + (int64_t)t.interval_s * 1000;

	/* Our handlers first: curses then leaves SIGINT/SIGTERM to us and the
	 * loop ends normally, restoring the terminal. */
	struct sigaction sa = { .sa_handler = top_on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	setlocale(LC_ALL, "");
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "hearth top: cannot use the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		json_object_put(t.detail);
		free(t.vms);
		return API_EXIT_FAIL;
	}
	set_term(scr);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	top_colors(&t);
	rc = top_loop(&t);
	endwin();
	delscreen(scr);
	json_object_put(t.detail);
	free(t.vms);
	return rc;
}
