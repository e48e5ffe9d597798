/* term.c - raw mode and window size for the local terminal. */
#include "shell/client/term.h"

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
