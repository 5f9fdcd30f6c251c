// The in-page half of the browser suite. page.html loads sockjs-client and
// this file; run.mjs calls sockjsSuite.run({base, transport}) through
// Playwright, which opens SockJS connections to the test services of
// internal/testservice with that one transport forced and returns one
// result per check. Every wait is bounded.
'use strict';

(function () {
  const WAIT_MS = 10000; // one message, an open or a close
  const BURST = 200;

  // Conn is a SockJS connection with a queue of received messages.
  class Conn {
    constructor(url, transport) {
      this.url = url;
      this.queue = [];
      this.wakeup = null;
      this.closeEvent = null;
      this.transport = null; // sock.transport when it opened (null again once closed)
      this.sock = new SockJS(url, null, { transports: [transport] });
      this.opened = new Promise((resolve, reject) => {
        this.sock.onopen = () => {
          this.transport = this.sock.transport;
          resolve();
        };
        this.rejectOpen = reject;
      });
      this.opened.catch(() => {}); // reported by open()
      this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
      this.sock.onmessage = (e) => {
        this.queue.push(e.data);
        this.wake();
      };
      this.sock.onclose = (e) => {
        this.closeEvent = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        this.rejectOpen(new Error('closed before opening: ' + e.code + ' ' + JSON.stringify(e.reason)));
        this.resolveClosed(this.closeEvent);
        this.wake();
      };
    }

    wake() {
      if (this.wakeup) {
        const w = this.wakeup;
        this.wakeup = null;
        w();
      }
    }

    open(ms = WAIT_MS) {
      return within(this.opened, ms, 'open of ' + this.url);
    }

    send(msg) {
      this.sock.send(msg);
    }

    // next returns the next message, waiting at most ms. An uncaught
    // error in the page (sockjs-client failing to take a frame) ends the
    // wait at once.
    async next(ms, what) {
      const deadline = Date.now() + ms;
      const errorsBefore = pageErrors.length;
      while (this.queue.length === 0) {
        if (pageErrors.length > errorsBefore) {
          throw new Error('uncaught error in the page (' + pageErrors.slice(errorsBefore).join('; ') +
            ') while waiting for ' + what);
        }
        if (this.closeEvent) {
          throw new Error('connection closed (' + this.closeEvent.code + ' ' +
            JSON.stringify(this.closeEvent.reason) + ') while waiting for ' + what);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error('no message within ' + ms + ' ms while waiting for ' + what);
        }
        waiting.add(this);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          this.wakeup = () => { clearTimeout(timer); resolve(); };
        });
        waiting.delete(this);
      }
      return this.queue.shift();
    }

    // until skips other messages (other tests' broadcasts) until want.
    async until(want, ms, what) {
      const deadline = Date.now() + ms;
      const skipped = [];
      for (;;) {
        const m = await this.next(Math.max(1, deadline - Date.now()), what).catch((e) => {
          throw new Error(e.message + (skipped.length ? '; got instead ' + preview(skipped) : ''));
        });
        if (m === want) return;
        skipped.push(m);
      }
    }

    close(ms = WAIT_MS) {
      this.sock.close();
      return within(this.closed, ms, 'close of ' + this.url);
    }

    // drop closes without waiting (cleanup after a failure).
    drop() {
      try { this.sock.close(); } catch (e) { /* already closed */ }
    }
  }

  // Uncaught errors, e.g. thrown by sockjs-client's frame handlers.
  const pageErrors = [];
  const waiting = new Set();
  window.addEventListener('error', (e) => {
    pageErrors.push(e.error ? String(e.error) : String(e.message));
    for (const c of waiting) c.wake();
  });

  function within(promise, ms, what) {
    let timer;
    const timeout = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out after ' + ms + ' ms waiting for ' + what)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function preview(v) {
    const s = JSON.stringify(v);
    return s.length > 200 ? s.slice(0, 200) + '… (' + s.length + ' chars)' : s;
  }

  function hex(s, i) {
    if (i >= s.length) return 'end';
    return 'U+' + s.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0');
  }

  // sameString explains the first difference between want and got.
  function sameString(want, got) {
    if (typeof got !== 'string') throw new Error('got a ' + typeof got + ', not a string');
    if (got === want) return;
    let i = 0;
    while (i < want.length && i < got.length && want[i] === got[i]) i++;
    throw new Error('echo differs at UTF-16 index ' + i + ': want ' + hex(want, i) + ', got ' +
      hex(got, i) + ' (lengths: want ' + want.length + ', got ' + got.length + ')');
  }

  function range(from, to) {
    let s = '';
    for (let c = from; c <= to; c++) s += String.fromCharCode(c);
    return s;
  }

  // Every BMP code point except the surrogates, which are not characters,
  // and '%', which has a check of its own.
  function everyBMP() {
    return range(0, 0x24) + range(0x26, 0xd7ff) + range(0xe000, 0xffff);
  }

  // Exactly 64 KiB of ASCII; numbered chunks show where a message was cut.
  function big() {
    let s = '';
    for (let i = 0; i < 4096; i++) s += i.toString(16).padStart(4, '0') + '-abcdefghij.';
    return s;
  }

  const echoCases = [
    ['ascii', 'Hello, SockJS! 0123456789 ~`!@#$^&*()_+-=[]{}|;:\'<>?,./'],
    // sockjs-client decodeURI()s every EventSource message, so a server
    // must write '%' as %25 there (as sockjs-node does).
    ['percent signs', '100% %41 %zz %% %25 %E2%82%AC %'],
    ['json specials', '"quoted" \\back\\slash /slash/ \b\f\n\r\t {"a":[1,"b",null]} \\u0041 \\"'],
    ['html specials', '</script><script>alert(1)</script> <!-- & &amp; ]]> \'"'],
    ['unicode', 'zażółć gęślą jaźń · Ελληνικά · 日本語 · العربية · עברית · ÿ€'],
    ['non-BMP', '😀 𝄞 𠜎 👩‍👩‍👧 🇵🇱 \ud83d\ude00'],
    ['sockjs escapes', range(0, 0x1f) + range(0x7f, 0x9f) + '\u00ad\u0300\u0333\u0374\u037e\u0387\u0591\u05c4\u0610\u0653\u0676\u06dc\u0730\u07eb\u1b6b\u1dc0\u1dff' +
      range(0x200b, 0x200f) + range(0x2028, 0x202e) + range(0x2060, 0x206f) + '\u20d0\u20ff\u2e2e\ufb1d\ufb2a\ufb4e\ufeff' + range(0xfff0, 0xffff)],
    ['empty string', ''],
    ['every BMP code point', everyBMP()],
    ['64 KiB', big()],
  ];

  // Checks is a list of named results; a check is an async function that
  // throws to fail and may return a detail string.
  class Checks {
    constructor() { this.list = []; }
    async run(name, fn) {
      const start = performance.now();
      let ok = true;
      let detail = '';
      try {
        detail = (await fn()) || '';
      } catch (e) {
        ok = false;
        detail = String((e && e.message) || e);
      }
      this.list.push({ name, ok, ms: Math.round(performance.now() - start), detail });
      return ok;
    }
  }

  async function echo(checks, base, transport) {
    let conn = null;
    const connect = async () => {
      conn = new Conn(base + '/echo', transport);
      await conn.open();
      if (conn.transport !== transport) {
        throw new Error('sock.transport is ' + JSON.stringify(conn.transport));
      }
      return 'sock.transport = ' + conn.transport;
    };
    // A failed check may leave messages in flight: the next check starts
    // on a new session.
    const fresh = async () => {
      if (conn) return;
      await connect();
    };
    const step = async (name, fn) => {
      if (!await checks.run(name, fn) && conn) {
        conn.drop();
        conn = null;
      }
    };

    if (!await checks.run('transport', connect)) {
      conn.drop();
      return;
    }
    for (const [name, msg] of echoCases) {
      await step('echo ' + name, async () => {
        await fresh();
        conn.send(msg);
        const got = await conn.next(WAIT_MS, 'the echo');
        sameString(msg, got);
        return msg.length + ' UTF-16 units';
      });
    }
    await step('echo burst of ' + BURST, async () => {
      await fresh();
      for (let i = 0; i < BURST; i++) conn.send('burst ' + i);
      for (let i = 0; i < BURST; i++) {
        const got = await conn.next(WAIT_MS, 'burst message ' + i);
        if (got !== 'burst ' + i) {
          throw new Error('message ' + i + ' of the burst is ' + preview(got));
        }
      }
      // Nothing duplicated: the next message is the one sent next.
      conn.send('after the burst');
      const got = await conn.next(WAIT_MS, 'the message after the burst');
      if (got !== 'after the burst') {
        throw new Error('after the burst got ' + preview(got) + ' (a duplicate?)');
      }
      return BURST + ' messages once each, in order';
    });
    await step('client close', async () => {
      await fresh();
      const ev = await conn.close();
      if (ev.code !== 1000) throw new Error('close event ' + preview(ev));
      return ev.code + ' ' + ev.reason;
    });
    if (conn) conn.drop();
  }

  async function serverClose(checks, base, transport) {
    await checks.run('server close 3000 "Go away!"', async () => {
      const conn = new Conn(base + '/close', transport);
      try {
        await conn.open();
        if (conn.transport !== transport) {
          throw new Error('sock.transport is ' + JSON.stringify(conn.transport));
        }
        const ev = await within(conn.closed, WAIT_MS, 'the server\'s close');
        if (ev.code !== 3000 || ev.reason !== 'Go away!') {
          throw new Error('close event ' + preview(ev));
        }
        if (conn.queue.length) throw new Error('unexpected messages ' + preview(conn.queue));
        return ev.code + ' ' + ev.reason;
      } finally {
        conn.drop();
      }
    });
  }

  // cookie: the route with Options.JSessionID works on this transport, and
  // its JSESSIONID cookie reached the browser's cookie jar (credentials on
  // cross-origin requests; run.mjs clears cookies before each transport).
  // The websocket handshake sets none, as with sockjs-node.
  async function cookie(checks, base, transport) {
    await checks.run('cookie_needed echo', async () => {
      const conn = new Conn(base + '/cookie_needed_echo', transport);
      try {
        await conn.open();
        conn.send('with a cookie');
        sameString('with a cookie', await conn.next(WAIT_MS, 'the echo'));
        // The echo may arrive on the receiving request before the send's
        // own response (which carries the cookie on transports whose
        // receiving request goes without credentials, as eventsource does)
        // has been read: wait for that, within a bound.
        const hasCookie = () => /(^|;\s*)JSESSIONID=/.test(document.cookie);
        for (const until = Date.now() + WAIT_MS; transport !== 'websocket' && !hasCookie() && Date.now() < until;) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const jar = document.cookie;
        const has = hasCookie();
        if (!has && transport !== 'websocket') {
          throw new Error('no JSESSIONID cookie after the echo: document.cookie = ' + JSON.stringify(jar));
        }
        return has ? 'cookie ' + jar : 'echo; no cookie on a websocket handshake';
      } finally {
        conn.drop();
      }
    });
  }

  // broadcast: a session on this transport and one on another transport
  // both get what either of them broadcasts.
  async function broadcast(checks, base, transport, peerTransport) {
    await checks.run('broadcast with ' + peerTransport, async () => {
      const a = new Conn(base + '/broadcast', transport);
      const b = new Conn(base + '/broadcast', peerTransport);
      try {
        await Promise.all([a.open(), b.open()]);
        if (a.transport !== transport || b.transport !== peerTransport) {
          throw new Error('transports are ' + a.transport + ' and ' + b.transport);
        }
        const tag = Math.random().toString(36).slice(2);
        const fromA = 'from ' + transport + ' ' + tag + ' ☃';
        a.send(fromA);
        await Promise.all([
          a.until(fromA, WAIT_MS, 'its own broadcast'),
          b.until(fromA, WAIT_MS, 'the broadcast from ' + transport + ' on ' + peerTransport),
        ]);
        const fromB = 'from ' + peerTransport + ' ' + tag + ' 😀';
        b.send(fromB);
        await Promise.all([
          a.until(fromB, WAIT_MS, 'the broadcast from ' + peerTransport + ' on ' + transport),
          b.until(fromB, WAIT_MS, 'its own broadcast'),
        ]);
        return 'both ways';
      } finally {
        a.drop();
        b.drop();
      }
    });
  }

  window.sockjsSuite = {
    // run runs every check for one transport against the SockJS server at
    // base (its test services at base + "/echo", "/close", "/broadcast").
    async run(cfg) {
      const checks = new Checks();
      const peer = cfg.peerTransport || (cfg.transport === 'websocket' ? 'xhr-streaming' : 'websocket');
      await echo(checks, cfg.base, cfg.transport);
      await serverClose(checks, cfg.base, cfg.transport);
      await cookie(checks, cfg.base, cfg.transport);
      await broadcast(checks, cfg.base, cfg.transport, peer);
      return { pageOrigin: location.origin, sockjsVersion: SockJS.version, checks: checks.list };
    },
  };
})();
