/* term.c - raw mode, window size, output and signals of the local terminal; see term.h. */
#include "shell/client/term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios term_saved;
static int term_saved_fd = -1;

int term_raw(int fd)
{
	struct termios t;

	if (!isatty(fd) || tcgetattr(fd, &term_saved) != 0)
		return -1;
	t = term_saved;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSADRAIN, &t) != 0)
		return -1;
	term_saved_fd = fd;
	return 0;
}

void term_restore(void)
{
	if (term_saved_fd >= 0) {
		tcsetattr(term_saved_fd, TCSADRAIN, &term_saved);
		term_saved_fd = -1;
	}
}

void term_size(int fd, uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
		return;
	}
	*rows = 24;
	*cols = 80;
}

int term_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = { fd, POLLOUT, 0 };
				poll(&pf, 1, 1000);
				continue;
			}
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int term_sig_pipe[2] = { -1, -1 };
static int term_sig_list[TERM_SIG_MAX];
static struct sigaction term_sig_old[TERM_SIG_MAX];
static size_t term_sig_n;

static void term_on_signal(int sig)
{
	int e = errno;
	uint8_t b = (uint8_t)sig;

	if (write(term_sig_pipe[1], &b, 1) < 0) {
		/* pipe full: enough wakeups are pending */
	}
	errno = e;
}

int term_sig_open(const int *sigs, size_t n)
{
	struct sigaction sa;

	if (n > TERM_SIG_MAX || term_sig_pipe[0] >= 0) {
		errno = EINVAL;
		return -1;
	}
	if (pipe2(term_sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		term_sig_pipe[0] = term_sig_pipe[1] = -1;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = term_on_signal; /* no SA_RESTART: poll wakes with EINTR too */
	for (size_t i = 0; i < n; i++) {
		term_sig_list[i] = sigs[i];
		sigaction(sigs[i], &sa, &term_sig_old[i]);
	}
	term_sig_n = n;
	return 0;
}

int term_sig_fd(void)
{
	return term_sig_pipe[0];
}

ssize_t term_sig_read(uint8_t *out, size_t cap)
{
	ssize_t n = term_sig_pipe[0] >= 0 ? read(term_sig_pipe[0], out, cap) : 0;
	return n > 0 ? n : 0;
}

void term_sig_close(void)
{
	/* Handlers first: one must not write to a closed (or reused) descriptor. */
	for (size_t i = 0; i < term_sig_n; i++)
		sigaction(term_sig_list[i], &term_sig_old[i], NULL);
	term_sig_n = 0;
	if (term_sig_pipe[0] >= 0) {
		close(term_sig_pipe[0]);
		close(term_sig_pipe[1]);
	}
	term_sig_pipe[0] = term_sig_pipe[1] = -1;
}
