"""A private tmux server driving one program in a real terminal, for the
full-screen client tests: keys in, screen text out, and the exit status
written to a file by sh (tmux 3.3 does not always report a dead pane's).
capture-pane strips trailing spaces, so assertions look at stripped text."""
import os
import subprocess

from conftest import wait_for


class Tmux:
    def __init__(self, tmp_path, name="t", environ=None):
        """environ: the tmux server's environment (the programs inherit it)."""
        self.sock = str(tmp_path / ("tmux-%s.sock" % name))
        self.session = name
        self.status_file = self.sock + ".status"
        self.stty_file = self.sock + ".stty"
        self.environ = environ

    def run(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=check,
                              capture_output=True, text=True, timeout=10, env=self.environ)

    def start(self, cmd, env=None, w=80, h=24):
        """Run `cmd` (a shell command line) in a w x h terminal; afterwards
        record its exit status and the terminal's stty settings."""
        for f in (self.status_file, self.stty_file):
            if os.path.exists(f):
                os.unlink(f)
        assigns = " ".join("%s='%s'" % (k, v) for k, v in (env or {}).items())
        line = "env %s %s; echo $? > %s.tmp; stty -a > %s; mv %s.tmp %s; sleep 600" % (
            assigns, cmd, self.status_file, self.stty_file, self.status_file, self.status_file)
        self.run("new-session", "-d", "-s", self.session, "-x", str(w), "-y", str(h), line)

    def keys(self, *k):
        self.run("send-keys", "-t", self.session, *k)

    def literal(self, text):
        self.run("send-keys", "-t", self.session, "-l", text)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", self.session).stdout

    def screen_sgr(self):
        """The screen with its attribute escapes (capture-pane -e)."""
        return self.run("capture-pane", "-p", "-e", "-t", self.session).stdout

    def wait_screen(self, pred, timeout, what):
        """Wait until pred(screen text) holds; the last screen is in the error."""
        last = [""]

        def check():
            last[0] = self.screen()
            # a sanitizer build reports on the terminal: that fails any wait
            assert "Sanitizer" not in last[0] and "runtime error:" not in last[0], last[0]
            return pred(last[0])
        try:
            wait_for(check, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s\n--- screen ---\n%s" % (e, last[0]))
        return last[0]

    def wait_text(self, text, timeout=20):
        return self.wait_screen(lambda s: text in s, timeout, repr(text))

    def wait_exit(self, timeout=20):
        read = lambda: open(self.status_file).read().strip() if os.path.exists(
            self.status_file) else ""
        status = int(wait_for(read, timeout, "the program to exit"))
        screen = self.screen()
        assert "Sanitizer" not in screen and "runtime error:" not in screen, screen
        return status

    def stty(self):
        with open(self.stty_file) as f:
            return f.read().split()

    def resize(self, w, h):
        self.run("resize-window", "-t", self.session, "-x", str(w), "-y", str(h))

    def kill(self):
        self.run("kill-server", check=False)
