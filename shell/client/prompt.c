/*
 * prompt.c - the interactive `hearth> ` prompt. Lines are split by
 * protocol/argsplit.c and each command runs in a child process, so a
 * command's exit(), its getopt state or a Ctrl-C while it waits cannot end
 * the prompt. Readline's callback interface lets Ctrl-C clear the line
 * safely (the signal handler only sets a flag). History lives in
 * ~/.hearth_history (bounded); Tab completes subcommands and microVM ids.
 */
#include "shell/client/prompt.h"
#include "shell/client/apiq.h"
#include "protocol/argsplit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define PROMPT "hearth> "
#define PROMPT_MAX_LINE 4096     /* longest line run or remembered */
#define PROMPT_MAX_WORDS 128
#define PROMPT_HISTORY 1000      /* lines kept, in memory and in the file */
#define PROMPT_IDS_TTL_S 5       /* how long fetched microVM ids are reused */
#define PROMPT_IDS_MAX 4096
#define PROMPT_API_TIMEOUT_S 3   /* completion must not hang the prompt */

static const struct prompt_cmds *prompt_cmds;
static volatile sig_atomic_t prompt_sigint, prompt_sigwinch, prompt_sigend;
static char *prompt_line;
static int prompt_have_line;
static char prompt_hist[4096];   /* history file, "" for none */

/* microVM ids for completion, refetched when older than PROMPT_IDS_TTL_S */
static struct {
	char **ids;
	size_t n;
	time_t at;
} prompt_ids;

static void prompt_on_signal(int sig)
{
	if (sig == SIGINT)
		prompt_sigint = 1;
	else if (sig == SIGWINCH)
		prompt_sigwinch = 1;
	else
		prompt_sigend = 1;
}

/* ---- history ---- */

static void prompt_history_open(void)
{
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || snprintf(prompt_hist, sizeof(prompt_hist), "%s/.hearth_history", home) >=
			     (int)sizeof(prompt_hist)) {
		prompt_hist[0] = 0;
		return;
	}
	using_history();
	stifle_history(PROMPT_HISTORY);
	/* appended to line by line (so a killed prompt keeps its lines): it must exist */
	int fd = open(prompt_hist, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		prompt_hist[0] = 0;
		return;
	}
	close(fd);
	history_truncate_file(prompt_hist, PROMPT_HISTORY);
	read_history(prompt_hist);
}

/* Remember a line without its outer blanks (completion leaves a trailing one). */
static void prompt_history_add(const char *text)
{
	char line[PROMPT_MAX_LINE + 1];
	while (*text == ' ' || *text == '\t')
		text++;
	size_t len = strlen(text);
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (!len || len > PROMPT_MAX_LINE)
		return;
	memcpy(line, text, len);
	line[len] = 0;
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
	if (last && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	if (prompt_hist[0])
		append_history(1, prompt_hist);
}

/* ---- completion ---- */

static void prompt_ids_free(void)
{
	for (size_t i = 0; i < prompt_ids.n; i++)
		free(prompt_ids.ids[i]);
	free(prompt_ids.ids);
	prompt_ids.ids = NULL;
	prompt_ids.n = 0;
}

static void prompt_ids_fetch(void)
{
	time_t now = time(NULL);
	if (prompt_ids.ids && now - prompt_ids.at < PROMPT_IDS_TTL_S)
		return;
	struct api a;
	api_init(&a, "prompt", "");
	a.timeout_s = PROMPT_API_TIMEOUT_S;
	json_object *items;
	char err[512];
	prompt_ids_free();
	prompt_ids.at = now;
	if (apiq_list_vms(&a, 100, &items, err, sizeof(err)) != 0)
		return; /* nothing to offer; the next Tab after the TTL tries again */
	size_t n = json_object_array_length(items);
	if (n > PROMPT_IDS_MAX)
		n = PROMPT_IDS_MAX;
	prompt_ids.ids = calloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; prompt_ids.ids && i < n; i++) {
		const char *id = api_str(json_object_array_get_idx(items, i), "microvmId");
		if (strcmp(id, "-") != 0 && (prompt_ids.ids[prompt_ids.n] = strdup(id)))
			prompt_ids.n++;
	}
	json_object_put(items);
}

static char *prompt_gen_command(const char *text, int state)
{
	static const char *const extra[] = { "exit", "quit" };
	static size_t i;
	size_t len = strlen(text), ncmd = 0;
	while (prompt_cmds->name(ncmd))
		ncmd++;
	if (!state)
		i = 0;
	while (i < ncmd + sizeof(extra) / sizeof(extra[0])) {
		const char *name = i < ncmd ? prompt_cmds->name(i) : extra[i - ncmd];
		i++;
		if (strncmp(name, text, len) == 0)
			return strdup(name);
	}
	return NULL;
}

static char *prompt_gen_id(const char *text, int state)
{
	static size_t i;
	size_t len = strlen(text);
	if (!state)
		i = 0;
	while (i < prompt_ids.n) {
		const char *id = prompt_ids.ids[i++];
		if (strncmp(id, text, len) == 0)
			return strdup(id);
	}
	return NULL;
}

static char **prompt_complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1; /* never fall back to file names */
	int first = 1;
	for (int i = 0; i < start; i++)
		if (rl_line_buffer[i] != ' ' && rl_line_buffer[i] != '\t')
			first = 0;
	if (first)
		return rl_completion_matches(text, prompt_gen_command);
	if (text[0] == '-')
		return NULL;
	prompt_ids_fetch();
	return rl_completion_matches(text, prompt_gen_id);
}

/* ---- running a line ---- */

static int prompt_child(int argc, char **argv)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "hearth: cannot fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGWINCH, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		int rc = prompt_cmds->run(argc, argv);
		exit(rc);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Run one line; returns 1 when it asks the prompt to end. */
static int prompt_exec(const char *line)
{
	size_t len = strlen(line);
	if (len > PROMPT_MAX_LINE) {
		fprintf(stderr, "hearth: line longer than %d bytes\n", PROMPT_MAX_LINE);
		return 0;
	}
	char store[PROMPT_MAX_LINE + PROMPT_MAX_WORDS + 1], *words[PROMPT_MAX_WORDS + 1];
	size_t n;
	int r = argsplit(line, len, store, sizeof(store), words, PROMPT_MAX_WORDS, &n);
	if (r != ARGSPLIT_OK) {
		fprintf(stderr, "hearth: %s\n", argsplit_strerror(r));
		return 0;
	}
	char **argv = words;
	if (n && strcmp(argv[0], "hearth") == 0) { /* "hearth list" typed out of habit */
		argv++;
		n--;
	}
	if (!n)
		return 0;
	if (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0)
		return 1;
	if (strcmp(argv[0], "help") == 0 && n == 1) {
		prompt_cmds->help();
		printf("At this prompt: type a command without 'hearth'; Tab completes commands and\n"
		       "microVM ids; 'exit' or Ctrl-D leaves. History: ~/.hearth_history.\n");
		fflush(stdout);
		return 0;
	}
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old); /* Ctrl-C stops the command, not the prompt */
	prompt_child((int)n, argv);
	sigaction(SIGINT, &old, NULL);
	prompt_sigint = 0;
	return 0;
}

static void prompt_on_line(char *line)
{
	prompt_line = line;
	prompt_have_line = 1;
	rl_callback_handler_remove(); /* the terminal goes back to normal for the command */
}

/* Ctrl-C: drop the line being typed and start a fresh one, as shells do. */
static void prompt_cancel_line(void)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_crlf();
	rl_replace_line("", 0);
	rl_on_new_line();
	rl_redisplay();
}

int prompt_run(const struct prompt_cmds *c)
{
	prompt_cmds = c;
	rl_readline_name = "hearth";
	rl_attempted_completion_function = prompt_complete;
	prompt_history_open();
	struct sigaction sa = { .sa_handler = prompt_on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("hearth: type 'help' for the commands, Tab completes, Ctrl-D leaves.\n");
	fflush(stdout);
	rl_callback_handler_install(PROMPT, prompt_on_line);
	int done = 0, installed = 1;
	while (!done && !prompt_sigend) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(&p, 1, -1) < 0) {
			if (errno != EINTR)
				break;
			if (prompt_sigint) {
				prompt_sigint = 0;
				prompt_cancel_line();
			}
			if (prompt_sigwinch) {
				prompt_sigwinch = 0;
				rl_resize_terminal();
			}
			continue;
		}
		rl_callback_read_char();
		if (!prompt_have_line)
			continue;
		prompt_have_line = 0;
		installed = 0;
		if (!prompt_line) { /* Ctrl-D on an empty line */
			printf("\n");
			break;
		}
		prompt_history_add(prompt_line);
		done = prompt_exec(prompt_line);
		free(prompt_line);
		prompt_line = NULL;
		fflush(stdout);
		if (!done) {
			rl_callback_handler_install(PROMPT, prompt_on_line);
			installed = 1;
		}
	}
	if (installed) { /* ended by SIGHUP/SIGTERM while reading */
		rl_callback_handler_remove();
		printf("\n");
	}
	if (prompt_hist[0])
		history_truncate_file(prompt_hist, PROMPT_HISTORY);
	prompt_ids_free();
	return 0;
}
