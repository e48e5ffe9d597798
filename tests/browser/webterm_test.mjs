// webterm_test.mjs - drives the web terminal page in Debian's chromium
// (headless, through playwright-core) against a real hearthd and VM. Run by
// tests/integration/test_webterm.py:
//   node webterm_test.mjs SCENARIO URL
// URL is https://localhost:PORT/#vm=ID&token=TOKEN. Each scenario prints
// "ok: ..." lines and exits 0, or prints "FAIL: ..." and exits 1. Every wait
// has a deadline (WAIT_MS); the whole run is bounded by the caller too.
import { chromium } from 'playwright-core';

const WAIT_MS = Number(process.env.WEBTERM_WAIT_MS || 30000);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// A HOME whose ~/.pki/nssdb trusts hearthd's CA: certificates are then really
// verified (the page at localhost and the shell at <id>.localhost alike).
const NSS_HOME = process.env.WEBTERM_NSS_HOME;
const [scenario, url, freshToken] = process.argv.slice(2);

const log = (s) => console.log(s);
class Fail extends Error {}
const check = (cond, what) => {
  if (!cond) throw new Fail(what);
  log('ok: ' + what);
};

async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
  } catch (e) {
    const st = await page.evaluate(() => window.hearthTerm && window.hearthTerm.state())
      .catch(() => null);
    const text = await page.evaluate(() => window.hearthTerm && window.hearthTerm.text())
      .catch(() => '');
    throw new Fail(`timed out waiting for ${what}; state ${JSON.stringify(st)}; screen:\n` +
                   String(text).replace(/\n+$/, '').split('\n').slice(-15).join('\n'));
  }
  log('ok: ' + what);
}

const state = (page) => page.evaluate(() => window.hearthTerm.state());
const countLines = (page, line) =>
  page.evaluate((l) => window.hearthTerm.text().split('\n').filter((x) => x.trim() === l).length,
                line);
// A line that is exactly `line` (output, not the command that printed it).
const hasLine = (line) => [(l) => window.hearthTerm &&
  window.hearthTerm.text().split('\n').some((x) => x.trim() === l), line];

async function typeLine(page, s) {
  await page.keyboard.type(s);
  await page.keyboard.press('Enter');
}

async function connected(page) {
  await waitFor(page, 'the page connected and a shell is open', () => {
    const t = window.hearthTerm;
    return t && t.state().connected && t.state().sessionId;
  });
  await page.click('#term');
}

// stty size in the shell equals the terminal's rows and cols.
async function sttyMatches(page, tag) {
  const st = await state(page);
  await typeLine(page, 'stty size');
  await waitFor(page, `stty size says ${st.rows} ${st.cols} (${tag})`, ...hasLine(`${st.rows} ${st.cols}`));
  return st;
}

const scenarios = {
  async basic(page, problems) {
    await connected(page);
    check(!page.url().includes('token='), 'the token left the address bar');
    await typeLine(page, 'echo hello-$((6*7))');
    await waitFor(page, 'hello-42 on the screen', ...hasLine('hello-42'));
    const before = await sttyMatches(page, 'first size');
    await page.setViewportSize({ width: 620, height: 380 });
    await waitFor(page, 'the terminal refitted to the smaller window',
                  (b) => window.hearthTerm.state().cols < b.cols &&
                         window.hearthTerm.state().rows < b.rows, before);
    const after = await sttyMatches(page, 'after the resize');
    check(after.cols !== before.cols && after.rows !== before.rows, 'stty size changed');
    check(problems.length === 0, 'no CSP violations or page errors: ' + problems.join('; '));
  },

  async reconnect(page) {
    await connected(page);
    check((await state(page)).v1, 'the server selected hearth.v1 (needed to reattach)');
    await typeLine(page, 'echo hello-$((6*7))');
    await waitFor(page, 'hello-42 on the screen', ...hasLine('hello-42'));
    const st0 = await state(page);
    // Output while the page is away: printed 2 s from now, the page stays
    // disconnected for 5 s.
    await typeLine(page, 'sleep 2; echo late-$((5*5))');
    await waitFor(page, 'the command is echoed',
                  () => window.hearthTerm.text().includes('echo late-$((5*5))'));
    await page.evaluate(() => window.hearthTerm.dropConnection(5000));
    await waitFor(page, 'the connection dropped', () => !window.hearthTerm.state().connected);
    check(await countLines(page, 'late-25') === 0, 'late-25 not printed before the drop');
    await waitFor(page, 'the page reconnected',
                  () => window.hearthTerm.state().connected && window.hearthTerm.state().reconnects > 0);
    await waitFor(page, 'output printed while disconnected arrived', ...hasLine('late-25'));
    const st1 = await state(page);
    check(st1.sessionId === st0.sessionId, 'the same shell (attached, not a new one)');
    check(await countLines(page, 'late-25') === 1, 'late-25 shown once');
    check(await countLines(page, 'hello-42') === 1, 'earlier output not replayed twice');
    await typeLine(page, 'echo again-$((3*3))');
    await waitFor(page, 'the reattached shell takes keystrokes', ...hasLine('again-9'));
    // A reload reattaches too (the session id is kept in the tab), replaying the ring.
    await page.reload({ timeout: WAIT_MS });
    await connected(page);
    await waitFor(page, 'after a reload the screen is replayed', ...hasLine('again-9'));
    check((await state(page)).sessionId === st0.sessionId, 'the same shell after the reload');
  },

  async clipboard(page) {
    await connected(page);
    // Ctrl+Shift+V pastes the clipboard into the shell.
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((2*4))'));
    await page.keyboard.press('Control+Shift+V');
    await waitFor(page, 'the pasted command is echoed',
                  () => window.hearthTerm.text().includes('echo pasted-$((2*4))'));
    await page.keyboard.press('Enter');
    await waitFor(page, 'Ctrl+Shift+V pasted a command', ...hasLine('pasted-8'));
    // A double click selects a word of the output; Ctrl+Shift+C copies it.
    await page.evaluate(() => navigator.clipboard.writeText('nothing'));
    const box = await page.evaluate(() => {
      const t = window.hearthTerm;
      const rows = t.text().split('\n');
      const y = rows.findIndex((l) => l.trim() === 'pasted-8') - t.state().viewportY;
      const r = document.querySelector('#term .xterm-screen').getBoundingClientRect();
      return { x: r.left + 3 * r.width / t.state().cols,
               y: r.top + (y + 0.5) * r.height / t.state().rows };
    });
    await page.mouse.dblclick(box.x, box.y);
    check(await page.evaluate(() => navigator.clipboard.readText()) === 'nothing',
          'a selection alone leaves the clipboard alone');
    await page.keyboard.press('Control+Shift+C');
    await waitFor(page, 'Ctrl+Shift+C copied the selected word', async () =>
      /^pasted-8$/.test(await navigator.clipboard.readText()));
  },

  async exit(page) {
    await connected(page);
    await typeLine(page, 'exit 3');
    await waitFor(page, 'the page shows the exit code',
                  () => /exit code 3/.test(window.hearthTerm.state().status));
    await new Promise((r) => setTimeout(r, 1500));
    const st = await state(page);
    check(st.finished && !st.connected && st.reconnects === 0, 'no reconnect after the exit');
  },

  async expired(page) {
    // The caller's token expires a few seconds after it was made.
    await connected(page);
    await waitFor(page, 'the bar shows the remaining token time',
                  () => /token valid for \d+:\d\d/.test(document.getElementById('bar-expiry').textContent));
    await waitFor(page, 'the bar says the token expired',
                  () => document.getElementById('bar-expiry').textContent === 'token expired');
    check((await state(page)).connected, 'an open connection outlives its token');
    await page.evaluate(() => window.hearthTerm.dropConnection(0));
    await waitFor(page, 'the expired-token message',
                  () => /token expired: get a new one with hearth shell-token /.test(
                    window.hearthTerm.state().notice));
    await new Promise((r) => setTimeout(r, 2000));
    const st = await state(page);
    check(!st.connected && st.reconnects === 0,
          'no reconnect attempts with an expired token ' + JSON.stringify(st));
    check(await page.isVisible('#login'), 'the form asks for a new token');
    // A new token in the form: the page reattaches to the same shell.
    await page.fill('#login-token', freshToken);
    await page.click('#login button');
    await waitFor(page, 'connected again with the new token',
                  () => window.hearthTerm.state().connected);
    check((await state(page)).sessionId === st.sessionId, 'the same shell with the new token');
    await page.click('#term');
    await typeLine(page, 'echo renewed-$((7*7))');
    await waitFor(page, 'the shell answers after the renewal', ...hasLine('renewed-49'));
  },
};

async function main() {
  const run = scenarios[scenario];
  if (!run || !url) {
    console.error('usage: node webterm_test.mjs ' + Object.keys(scenarios).join('|') + ' URL');
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT_MS,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
    env: NSS_HOME ? Object.assign({}, process.env, { HOME: NSS_HOME }) : undefined,
  });
  let rc = 0;
  try {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: !NSS_HOME,
                                           viewport: { width: 1000, height: 640 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'],
                               { origin: new URL(url).origin });
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push('console: ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
    const resp = await page.goto(url, { timeout: WAIT_MS });
    check(resp && resp.status() === 200, 'the page loads (200)');
    await run(page, problems);
    if (problems.length) log('page messages: ' + problems.join('; '));
  } catch (e) {
    log('FAIL: ' + (e instanceof Fail ? e.message : e.stack));
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
}

main();
