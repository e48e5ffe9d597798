/*
 * webterm.js - hearth's web terminal: xterm.js on the shell WebSocket of
 * wss://<id>.<domain>:<port>/ (protocol/PROTOCOL.md section 2, with the
 * hearth.v1 extensions of 2.3 when the server selects them).
 *
 * The VM id and shell token come from the URL fragment (#vm=ID&token=TOKEN,
 * never sent to a server) or the form. The token is then dropped from the
 * address bar and kept in this tab's sessionStorage only.
 *
 * hearth.v1: on hello the page sends open (first time) or attach with the
 * session id and the count of output bytes it has shown (the offset), so
 * after a dropped connection the server replays only what was missed. A
 * compatible-core server (no hearth.v1) cannot reattach: the page then
 * says so and opens a new shell.
 */
(function () {
  'use strict';

  var PROTO = 'lambda-microvms';
  var AUTH_PREFIX = 'lambda-microvms.authentication.';
  var V1 = 'hearth.v1';
  var BACKOFF_MIN = 500, BACKOFF_MAX = 15000; // ms between reconnects
  var TOKEN_STORE = 'hearth.webterm.token.';
  var SESSION_STORE = 'hearth.webterm.session.';

  var $ = function (id) { return document.getElementById(id); };
  var enc = new TextEncoder();

  // ---- the shell token (protocol/token.h) ----

  function b64urlBytes(s) {
    if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    try {
      var bin = atob(s), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch (e) {
      return null;
    }
  }

  // "hth1.<payload>.<mac>"; payload: u8 version | u8 kind | u8 idlen | id |
  // u32 generation | u64 issued | u64 expires | ... (big-endian). Only read
  // for display and to stop retrying: the server verifies the signature.
  function decodeToken(tok) {
    var parts = tok.split('.');
    if (parts.length !== 3 || parts[0] !== 'hth1') return null;
    var p = b64urlBytes(parts[1]);
    if (!p || p.length < 3) return null;
    var idlen = p[2];
    if (p.length < 3 + idlen + 4 + 16) return null;
    var id = '';
    for (var i = 0; i < idlen; i++) id += String.fromCharCode(p[3 + i]);
    var dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    var o = 3 + idlen + 4;
    var u64 = function (at) { return dv.getUint32(at) * 4294967296 + dv.getUint32(at + 4); };
    return { version: p[0], kind: p[1], vm: id, issued: u64(o), expires: u64(o + 8) };
  }

  // ---- state ----

  var term, fit;
  var vm = '', token = '', claims = null;
  var ws = null;
  var v1 = false;          // the server selected hearth.v1
  var sessionId = null;    // the shell this page shows
  var offset = 0;          // output bytes of that shell shown so far
  var fromReload = false;  // sessionId came from before a reload: attach, replay all
  var finished = false;    // the shell exited, or the session is gone: no reconnect
  var backoff = BACKOFF_MIN, retryTimer = null, holdUntil = 0;
  var reconnects = 0, everOpen = false;
  var exitText = null;     // "exit code N" once the v1 exit message came

  function setState(text, cls) {
    var el = $('bar-state');
    el.textContent = text;
    el.className = cls || '';
  }

  function notice(html, bad) {
    var el = $('notice');
    if (!html) {
      el.hidden = true;
      el.textContent = '';
      return;
    }
    el.innerHTML = html;
    el.className = bad ? 'bad' : '';
    el.hidden = false;
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function secondsLeft() {
    return claims ? claims.expires - Date.now() / 1000 : Infinity;
  }

  // The server counts whole seconds: a token is dead once less than one is left.
  function tokenExpired() {
    return Math.floor(secondsLeft()) <= 0;
  }

  function expiredMessage() {
    return 'token expired: get a new one with <code>hearth shell-token ' + esc(vm) +
      '</code> and enter it below (the shell is reattached)';
  }

  function showExpiry() {
    var el = $('bar-expiry');
    if (!claims) {
      el.textContent = '';
      return;
    }
    var left = Math.floor(secondsLeft());
    if (tokenExpired()) {
      el.textContent = 'token expired';
      el.className = 'soon';
      return;
    }
    var m = Math.floor(left / 60), s = left % 60;
    el.textContent = 'token valid for ' + m + ':' + (s < 10 ? '0' : '') + s +
      (ws && ws.readyState === WebSocket.OPEN ? ' (only new connections need it)' : '');
    el.className = left < 60 ? 'soon' : '';
  }

  // ---- the WebSocket ----

  function sendJSON(o) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(o));
  }

  function sendBytes(b) {
    if (ws && ws.readyState === WebSocket.OPEN && !finished) ws.send(b);
  }

  function sendResize() {
    sendJSON({ type: 'resize', cols: term.cols, rows: term.rows });
  }

  // The token has expired: say so and ask for a new one instead of retrying.
  function stopIfExpired() {
    if (!tokenExpired()) return false;
    setState('disconnected', 'bad');
    notice(expiredMessage(), true);
    showLogin();
    return true;
  }

  // The endpoints' domain: this page's host when it is a name (hearthd's
  // --endpoint-domain, e.g. localhost), else localhost (the page was opened
  // by address; every *.localhost name is the loopback host).
  function endpointDomain() {
    var h = location.hostname;
    return /^[0-9.]+$|^\[|:/.test(h) ? 'localhost' : h;
  }

  function connect() {
    retryTimer = null;
    if (finished) return;
    if (stopIfExpired()) return;
    setState(reconnects ? 'reconnecting…' : 'connecting…', 'wait');
    var url = 'wss://' + vm + '.' + endpointDomain() + (location.port ? ':' + location.port : '') +
              '/';
    var s;
    try {
      s = new WebSocket(url, [PROTO, AUTH_PREFIX + token, V1]);
    } catch (e) {
      setState('cannot connect', 'bad');
      notice('cannot open ' + esc(url) + ': ' + esc(e.message), true);
      return;
    }
    s.binaryType = 'arraybuffer';
    ws = s;
    s.onopen = function () { onOpen(s); };
    s.onmessage = function (ev) { onMessage(s, ev); };
    s.onclose = function (ev) { onClose(s, ev); };
  }

  function onOpen(s) {
    if (s !== ws) return;
    v1 = s.protocol === V1;
    everOpen = true;
    backoff = BACKOFF_MIN;
    setState('connected' + (v1 ? '' : ' (no reattach: server without hearth.v1)'), 'ok');
    // A compatible-core server sends session_init by itself; v1 sends hello.
  }

  var controlHandlers = {
    hello: function () {
      if (sessionId && fromReload) {
        sendJSON({ type: 'attach', session_id: sessionId, mode: 'rw' }); // the whole ring
      } else if (sessionId) {
        sendJSON({ type: 'attach', session_id: sessionId, mode: 'rw', offset: offset });
      } else {
        sendJSON({ type: 'open', cols: term.cols, rows: term.rows });
      }
    },
    session_init: function (m) {
      if (sessionId && !v1) {
        term.write('\r\n\x1b[33m[the connection dropped and this server cannot reattach: ' +
                   'this is a new shell]\x1b[0m\r\n');
      }
      sessionId = m.session_id;
      offset = 0;
      remember(v1 ? sessionId : null);
      notice('');
      sendResize();
    },
    attached: function (m) {
      if (typeof m.offset === 'number') offset = m.offset;
      fromReload = false;
      if (m.dropped > 0) {
        term.write('\r\n\x1b[33m[' + m.dropped + ' bytes of output were lost while ' +
                   'disconnected]\x1b[0m\r\n');
      }
      notice('');
      sendResize(); // the pty may have another size now
    },
    dropped: function (m) {
      offset += m.bytes || 0;
      term.write('\r\n\x1b[33m[' + (m.bytes || 0) + ' bytes of output skipped: ' +
                 'this viewer fell behind]\x1b[0m\r\n');
    },
    exit: function (m) {
      finished = true;
      remember(null);
      var what = typeof m.signal === 'number' ? 'killed by signal ' + m.signal
        : 'exit code ' + m.code;
      exitText = what;
      setState('shell exited (' + what + ')', 'bad');
      notice('the shell exited (' + esc(what) + '); reload the page for a new one', false);
    },
    error: function (m) {
      if (m.code === 'NoSuchSession' && fromReload) {
        // The shell of before the reload is gone: open a new one.
        remember(null);
        sessionId = null;
        fromReload = false;
        return;
      }
      if (m.code === 'NoSuchSession') {
        finished = true;
        remember(null);
        setState('session ended', 'bad');
        notice('the shell is gone (it ended, or was left without a viewer past its grace ' +
               'period); reload the page for a new one', true);
        return;
      }
      notice('server: ' + esc(m.message || 'error'), true);
    },
    pong: function () {}
  };

  function onMessage(s, ev) {
    if (s !== ws) return;
    if (typeof ev.data !== 'string') {
      var b = new Uint8Array(ev.data);
      offset += b.length;
      term.write(b);
      return;
    }
    var m;
    try {
      m = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    var h = m && controlHandlers[m.type];
    if (h) h(m);
  }

  function onClose(s, ev) {
    if (s !== ws) return;
    ws = null;
    if (ev.code === 1000 && ev.reason === 'shell exited') {
      finished = true;
      remember(null);
      var what = exitText || 'shell exited';
      setState(exitText ? 'shell exited (' + what + ')' : 'shell exited', 'bad');
      if (!exitText) notice('the shell exited; reload the page for a new one', false);
      return;
    }
    if (finished) return;
    if (stopIfExpired()) return;
    if (!everOpen && ev.code === 1006 && reconnects === 0) {
      // Refused upgrades (401/403/409) are not visible to a page: say what it may be.
      notice('cannot connect to ' + esc(vm) + ': the token may be wrong or for another ' +
             'microVM, the VM may be stopped, or this browser does not trust hearthd\'s ' +
             'certificate for ' + esc(vm) + '.' + esc(endpointDomain()) +
             ' (its CA is STATE/tls/ca.pem); retrying', true);
    }
    reconnects++;
    var delay = Math.max(backoff, holdUntil - Date.now());
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
    setState('disconnected; reconnecting in ' + Math.ceil(delay / 1000) + ' s', 'wait');
    retryTimer = setTimeout(connect, delay);
  }

  // The shell's id survives a reload of the page (this tab only).
  function remember(id) {
    try {
      if (id) sessionStorage.setItem(SESSION_STORE + vm, id);
      else sessionStorage.removeItem(SESSION_STORE + vm);
    } catch (e) { /* storage off: a reload opens a new shell */ }
  }

  // ---- the terminal ----

  function copySelection() {
    var sel = term.getSelection();
    if (sel && navigator.clipboard) navigator.clipboard.writeText(sel).catch(function () {});
  }

  function pasteClipboard() {
    if (navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then(function (t) { term.paste(t); }).catch(function () {});
    }
  }

  // Ctrl+Shift+C / Ctrl+Shift+V copy and paste (Ctrl+C stays ^C for the shell);
  // the browser's own paste (Ctrl+V, middle click, menu) goes through xterm too.
  var keyHandlers = {
    KeyC: copySelection,
    KeyV: pasteClipboard
  };

  function startTerminal() {
    term = new window.Terminal({
      cursorBlink: true,
      scrollback: 5000,
      fontFamily: 'monospace',
      fontSize: 14,
      theme: { background: '#111111' }
    });
    fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($('term'));
    fit.fit();
    term.attachCustomKeyEventHandler(function (e) {
      var h = e.ctrlKey && e.shiftKey && !e.altKey && !e.metaKey && keyHandlers[e.code];
      if (!h) return true;
      if (e.type === 'keydown') {
        h();
        e.preventDefault();
      }
      return false;
    });
    term.onData(function (d) { sendBytes(enc.encode(d)); });
    term.onBinary(function (d) {
      var b = new Uint8Array(d.length);
      for (var i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      sendBytes(b);
    });
    term.onResize(function () { sendResize(); });
    window.addEventListener('resize', function () { fit.fit(); });
    term.focus();
  }

  // ---- start ----

  function showLogin() {
    $('login').hidden = false;
    $('login-vm').value = vm;
    $('login-token').value = '';
  }

  function useToken(newVm, newToken) {
    var c = decodeToken(newToken);
    if (!c) {
      notice('that is not a hearth token (it starts with <code>hth1.</code>)', true);
      return false;
    }
    if (!/^[A-Za-z0-9-]{1,64}$/.test(c.vm)) {
      notice('that token names no valid microVM id', true);
      return false;
    }
    if (c.kind !== 1) {
      notice('that is not a shell token: get one with <code>hearth shell-token ID</code>', true);
      return false;
    }
    if (newVm && newVm !== c.vm) {
      notice('that token is for ' + esc(c.vm) + ', not ' + esc(newVm), true);
      return false;
    }
    if (vm && c.vm !== vm && sessionId) {
      sessionId = null; // another VM: a new shell
      offset = 0;
      term.reset();
    }
    vm = c.vm;
    token = newToken;
    claims = c;
    try {
      sessionStorage.setItem(TOKEN_STORE + vm, token);
    } catch (e) { /* storage off: the token lives in memory only */ }
    // Keep the token out of the address bar and history.
    history.replaceState(null, '', location.pathname + '#vm=' + encodeURIComponent(vm));
    $('bar-vm').textContent = vm;
    document.title = vm + ' - hearth';
    showExpiry();
    return true;
  }

  function start() {
    var q = new URLSearchParams(location.hash.replace(/^#/, ''));
    var fvm = q.get('vm') || '', ftok = q.get('token') || '';
    if (!ftok && fvm) {
      try {
        ftok = sessionStorage.getItem(TOKEN_STORE + fvm) || '';
      } catch (e) { ftok = ''; }
    }
    startTerminal();
    $('login').addEventListener('submit', function (e) {
      e.preventDefault();
      if (!useToken($('login-vm').value.trim(), $('login-token').value.trim())) return;
      $('login').hidden = true;
      finished = false;
      backoff = BACKOFF_MIN;
      notice('');
      if (retryTimer) clearTimeout(retryTimer);
      if (!ws) connect();
      term.focus();
    });
    setInterval(showExpiry, 1000);
    if (ftok && useToken(fvm, ftok)) {
      try {
        sessionId = sessionStorage.getItem(SESSION_STORE + vm) || null;
      } catch (e) { sessionId = null; }
      fromReload = !!sessionId;
      connect();
    } else {
      vm = fvm;
      showLogin();
    }
  }

  // The hook the browser test drives (tests/browser/webterm_test.mjs).
  window.hearthTerm = {
    text: function () {
      var b = term.buffer.active, lines = [];
      for (var i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
      return lines.join('\n');
    },
    state: function () {
      return { connected: !!(ws && ws.readyState === WebSocket.OPEN), v1: v1,
               sessionId: sessionId, offset: offset, finished: finished,
               reconnects: reconnects, cols: term.cols, rows: term.rows,
               viewportY: term.buffer.active.viewportY,
               status: $('bar-state').textContent, notice: $('notice').textContent };
    },
    // Drop the connection as a network failure would, staying away holdMs.
    dropConnection: function (holdMs) {
      holdUntil = Date.now() + (holdMs || 0);
      if (ws) ws.close(4000, 'test drop');
    }
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
