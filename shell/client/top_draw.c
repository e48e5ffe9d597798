/* top_draw.c - painting `hearth top`: header, summary, table, detail, status, keys. */
#include "shell/client/top.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void top_duration(int64_t s, char *buf, size_t cap)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, cap, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, cap, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, cap, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static int top_state_color(const char *st)
{
	if (strcmp(st, "RUNNING") == 0)
		return C_GOOD;
	if (strcmp(st, "SUSPENDED") == 0)
		return C_WARN;
	if (strcmp(st, "TERMINATED") == 0)
		return C_BAD;
	return C_BUSY; /* PENDING, SUSPENDING, TERMINATING, anything new */
}

/* One line at row y, cut to the screen width, padded when `fill`. */
static void top_line(int y, attr_t attr, int fill, const char *s)
{
	int w = COLS < TOP_LINE ? COLS : TOP_LINE - 1;
	if (y < 0 || y >= LINES || w <= 0)
		return;
	char buf[TOP_LINE];
	if (fill)
		snprintf(buf, sizeof(buf), "%-*.*s", w, w, s);
	else
		snprintf(buf, sizeof(buf), "%.*s", w, s);
	attron(attr);
	mvaddnstr(y, 0, buf, w);
	attroff(attr);
}

static void top_draw_summary(struct top *t, int y)
{
	static const char *const order[] = { "PENDING", "RUNNING", "SUSPENDING", "SUSPENDED",
					     "TERMINATING", "TERMINATED" };
	char line[TOP_LINE];
	int o = snprintf(line, sizeof(line), "%zu microVM%s", t->n, t->n == 1 ? "" : "s");
	const char *sep = ":";
	size_t other = t->n;
	for (size_t k = 0; k <= sizeof(order) / sizeof(order[0]); k++) {
		size_t c = 0;
		if (k < sizeof(order) / sizeof(order[0])) {
			for (size_t i = 0; i < t->n; i++)
				c += strcmp(t->vms[i].state, order[k]) == 0;
			other -= c;
		} else {
			c = other; /* a state this client does not know yet */
		}
		if (!c || o < 0 || (size_t)o >= sizeof(line))
			continue;
		o += snprintf(line + o, sizeof(line) - (size_t)o, "%s %zu %s", sep, c,
			      k < sizeof(order) / sizeof(order[0]) ? order[k] : "other");
		sep = ",";
	}
	top_line(y, A_NORMAL, 0, line);
}

static void top_draw_row(struct top *t, int y, size_t i, time_t now)
{
	const struct top_vm *v = &t->vms[i];
	char up[32] = "-", started[32] = "-", image[96], line[TOP_LINE];
	if (v->started > 0 && strcmp(v->state, "TERMINATED") != 0)
		top_duration((int64_t)now - v->started, up, sizeof(up));
	if (v->started > 0) {
		time_t s = (time_t)v->started;
		struct tm tm;
		if (gmtime_r(&s, &tm))
			strftime(started, sizeof(started), "%m-%d %H:%M", &tm);
	}
	char idle[32] = "-", mem[32] = "-", shells[24] = "-";
	/* Idle counts while the VM runs; a suspended VM's idleness is its state. */
	if (v->active > 0 && strcmp(v->state, "RUNNING") == 0)
		top_duration((int64_t)now - v->active, idle, sizeof(idle));
	if (v->mem >= 0)
		snprintf(mem, sizeof(mem), "%lldM", (long long)((v->mem + (1 << 19)) >> 20));
	if (v->shells >= 0)
		snprintf(shells, sizeof(shells), "%lld", (long long)v->shells);
	snprintf(image, sizeof(image), "%s:%s", v->image, v->version);
	snprintf(line, sizeof(line), "%-20.20s %-11.11s %-14.14s %-8.8s %-8.8s %6.6s %6.6s  %s",
		 v->id, "", image, up, idle, mem, shells, started);
	int sel = i == t->sel;
	top_line(y, sel ? A_REVERSE : A_NORMAL, sel, line);
	/* the state column, colored when colors are on */
	attr_t attr = sel ? A_REVERSE : A_NORMAL;
	if (t->colors)
		attr |= COLOR_PAIR(top_state_color(v->state));
	else if (strcmp(v->state, "RUNNING") != 0)
		attr |= A_BOLD;
	if (COLS > 21) {
		attron(attr);
		mvaddnstr(y, 21, v->state, COLS - 21 < 11 ? COLS - 21 : 11);
		attroff(attr);
	}
}

/* The selected VM's GetMicrovm fields the list does not carry. */
static void top_draw_detail(struct top *t, int y, time_t now)
{
	if (!t->n) {
		top_line(y, A_NORMAL, 0, "no microVMs (hearth run IMAGE starts one)");
		return;
	}
	const struct top_vm *v = &t->vms[t->sel];
	char line[TOP_LINE], tail[512] = "";
	json_object *d = t->detail, *ip;
	if (!d || strcmp(api_str(d, "microvmId"), v->id) != 0) {
		snprintf(line, sizeof(line), "%s", v->id);
		top_line(y, A_NORMAL, 0, line);
		return;
	}
	size_t o = 0;
	int64_t max = top_int(d, "maximumDurationInSeconds"), end = top_int(d, "terminatedAt");
	char dur[32];
	if (end > 0 && v->started > 0) {
		top_duration(end - v->started, dur, sizeof(dur));
		o += (size_t)snprintf(tail + o, sizeof(tail) - o, "  ran %s", dur);
	} else if (max > 0 && v->started > 0) {
		top_duration(v->started + max - (int64_t)now, dur, sizeof(dur));
		o += (size_t)snprintf(tail + o, sizeof(tail) - o, "  ends in %s", dur);
	}
	if (o < sizeof(tail) && json_object_object_get_ex(d, "idlePolicy", &ip) &&
	    json_object_is_type(ip, json_type_object))
		o += (size_t)snprintf(tail + o, sizeof(tail) - o, "  idle %ss, suspended %ss, auto-resume %s",
				      api_str(ip, "maxIdleDurationSeconds"),
				      api_str(ip, "suspendedDurationSeconds"),
				      strcmp(api_str(ip, "autoResumeEnabled"), "true") == 0 ? "on" : "off");
	if (o < sizeof(tail) && strcmp(api_str(d, "stateReason"), "-") != 0)
		snprintf(tail + o, sizeof(tail) - o, "  reason: %s", api_str(d, "stateReason"));
	snprintf(line, sizeof(line), "%s%s", v->id, tail);
	top_line(y, A_NORMAL, 0, line);
}

void top_draw(struct top *t)
{
	erase();
	time_t now = time(NULL);
	if (LINES < 8 || COLS < 40) {
		top_line(0, A_NORMAL, 0, "terminal too small for hearth top (q quits)");
		refresh();
		return;
	}
	char line[TOP_LINE];
	snprintf(line, sizeof(line), "hearth top  %s  every %ds  refreshed %s UTC", t->a.url,
		 t->interval_s, t->refreshed[0] ? t->refreshed : "-");
	top_line(0, A_BOLD, 0, line);
	top_draw_summary(t, 1);
	top_line(3, A_BOLD | A_UNDERLINE, 1,
		 "MICROVM              STATE       IMAGE          UP       IDLE        MEM SHELLS  STARTED (UTC)");
	int first = 4, rows = LINES - 7; /* header block above, detail/status/keys below */
	if (t->sel < t->scroll)
		t->scroll = t->sel;
	if (t->sel >= t->scroll + (size_t)rows)
		t->scroll = t->sel - (size_t)rows + 1;
	if (t->scroll > t->n)
		t->scroll = 0;
	for (int r = 0; r < rows && t->scroll + (size_t)r < t->n; r++)
		top_draw_row(t, first + r, t->scroll + (size_t)r, now);
	top_draw_detail(t, LINES - 3, now);
	if (t->confirm_id[0]) {
		snprintf(line, sizeof(line), "terminate %s? (y/n)", t->confirm_id);
		top_line(LINES - 2, A_BOLD, 0, line);
	} else if (t->status_kind != ST_NONE) {
		attr_t attr = t->status_kind == ST_INFO ? A_NORMAL : A_BOLD;
		if (t->colors && t->status_kind != ST_INFO)
			attr |= COLOR_PAIR(C_BAD);
		top_line(LINES - 2, attr, 0, t->status);
	}
	top_line(LINES - 1, A_REVERSE, 1,
		 " Up/Down select  a attach  s suspend  r resume  t terminate  q quit");
	refresh();
}

