// run.mjs drives headless Chromium (Debian's, never a downloaded build) with
// playwright-core for integration_test/browser_test.go:
//
//	node browser/run.mjs config.json
//
// The Go test starts the servers and writes the config; this script writes
// its results as JSON to config.out and prints one progress line per case.
// Every wait is bounded, and the whole run ends by config.timeoutMs.
//
// Modes:
//   - "transports": for each case, open case.page (page.html, which loads
//     sockjs-client and suite.js) and run sockjsSuite.run({base, transport}).
//   - "chat": open the chat example's page once per transport, chat between
//     the pages and take a screenshot of the first.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// watch records what a page logs and what fails, for failure reports.
function watch(page) {
  const log = [];
  const add = (line) => {
    if (log.length < 40) log.push(line);
  };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') add(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => add(`page error: ${e.message}`));
  page.on('requestfailed', (r) => add(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('crash', () => add('page crashed'));
  return log;
}

async function runCase(context, c, timeoutMs) {
  const start = Date.now();
  await context.clearCookies();
  const page = await context.newPage();
  const log = watch(page);
  const result = { name: c.name, transport: c.transport, page: c.page, base: c.base, ok: false, checks: [], log };
  try {
    await page.goto(c.page, { timeout: 15000, waitUntil: 'load' });
    await page.waitForFunction(() => window.sockjsSuite && window.SockJS, null, { timeout: 5000 });
    const r = await within(
      page.evaluate((cfg) => window.sockjsSuite.run(cfg), { base: c.base, transport: c.transport }),
      timeoutMs, `the checks of ${c.name}`);
    Object.assign(result, r);
    result.ok = r.checks.length > 0 && r.checks.every((x) => x.ok);
  } catch (e) {
    result.error = String(e?.message ?? e);
  } finally {
    await within(page.close({ runBeforeUnload: false }), 10000, 'page close').catch(() => {});
    result.ms = Date.now() - start;
  }
  return result;
}

async function runTransports(context, cfg) {
  const results = [];
  for (const c of cfg.cases) {
    const r = await runCase(context, c, cfg.caseTimeoutMs ?? 60000);
    results.push(r);
    const failed = r.checks.filter((x) => !x.ok).map((x) => x.name);
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${c.name} (${r.ms} ms)${failed.length ? ': ' + failed.join(', ') : ''}${r.error ? ': ' + r.error : ''}`);
  }
  return { results };
}

// The chat example's conversation: [page index, text].
const CONVERSATION = [
  [0, 'Hi! This page talks over a websocket.'],
  [1, 'Hello from xhr-polling: every poll of mine goes round robin through nginx.'],
  [0, 'So your polls reach three different nodes, and Redis keeps the session.'],
  [1, 'And every message still arrives once and in order.'],
];

async function runChat(context, cfg) {
  const checks = [];
  const check = async (name, fn) => {
    const start = Date.now();
    try {
      const detail = (await fn()) || '';
      checks.push({ name, ok: true, ms: Date.now() - start, detail });
      return true;
    } catch (e) {
      checks.push({ name, ok: false, ms: Date.now() - start, detail: String(e?.message ?? e) });
      return false;
    }
  };
  for (const [url, file] of Object.entries(cfg.routes ?? {})) {
    // As the CDN answers: the page loads it with crossorigin="anonymous"
    // (for its integrity check), which needs the CORS header.
    await context.route(url, (route) => route.fulfill({
      path: file,
      contentType: 'application/javascript; charset=utf-8',
      headers: { 'Access-Control-Allow-Origin': '*' },
    }));
  }
  const pages = [];
  const logs = [];
  const result = { ok: false, checks, log: logs };
  for (const t of cfg.transports) {
    const ok = await check(`open the page with ${t}`, async () => {
      const page = await context.newPage();
      pages.push(page);
      logs.push(watch(page));
      await page.goto(`${cfg.chatURL}?transport=${encodeURIComponent(t)}`, { timeout: 15000 });
      await page.waitForFunction((t) => document.getElementById('status').textContent.startsWith(`connected with ${t} as `),
        t, { timeout: 15000 });
      return await page.textContent('#status');
    });
    if (!ok) return result;
  }
  const lines = (page) => page.$$eval('#messages li:not(.notice)', (els) => els.map((e) => e.textContent));
  for (const [from, text] of CONVERSATION) {
    const ok = await check(`${cfg.transports[from]} page says "${text}"`, async () => {
      await pages[from].fill('#input', text);
      const sent = Date.now();
      await pages[from].press('#input', 'Enter');
      const shown = await Promise.all(pages.map((p, i) => p.waitForFunction(
        (text) => [...document.querySelectorAll('#messages li:not(.notice)')].some((e) => e.textContent.endsWith(': ' + text)),
        text, { timeout: 10000, polling: 10 }).then(
        () => `${cfg.transports[i]} page after ${Date.now() - sent} ms`,
        () => { throw new Error(`not shown on the ${cfg.transports[i]} page within 10 s`); })));
      return 'shown on the ' + shown.join(', the ');
    });
    if (!ok) return result;
  }
  await check('every page shows the conversation once, in order', async () => {
    const want = CONVERSATION.map(([, text]) => text);
    for (const [i, p] of pages.entries()) {
      const got = (await lines(p)).map((l) => l.slice(l.indexOf(': ') + 2));
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`the ${cfg.transports[i]} page shows ${JSON.stringify(got)}`);
      }
    }
    return `${want.length} messages on ${pages.length} pages`;
  });
  await check('the first page shows the others joining', async () => {
    const notices = await pages[0].$$eval('#messages li.notice', (els) => els.map((e) => e.textContent));
    if (notices.filter((n) => n.endsWith(' joined')).length < pages.length - 1) {
      throw new Error(`notices: ${JSON.stringify(notices)}`);
    }
    return notices.join('; ');
  });
  if (cfg.screenshot) {
    await check('screenshot', async () => {
      await pages[0].screenshot({ path: cfg.screenshot, timeout: 10000 });
      result.screenshot = cfg.screenshot;
      return cfg.screenshot;
    });
  }
  result.statuses = await Promise.all(pages.map((p) => p.textContent('#status').catch(() => '')));
  result.ok = checks.every((c) => c.ok);
  const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  console.log(`${result.ok ? 'ok  ' : 'FAIL'} chat (${checks.length} checks)${failed.length ? ': ' + failed.join('; ') : ''}`);
  return result;
}

async function main() {
  const cfg = JSON.parse(await fs.readFile(process.argv[2], 'utf8'));
  const write = (out) => fs.writeFile(cfg.out, JSON.stringify(out, null, 2));
  const started = Date.now();
  const overall = setTimeout(async () => {
    console.error(`run.mjs: the whole run took longer than ${cfg.timeoutMs} ms`);
    await write({ error: `the whole run took longer than ${cfg.timeoutMs} ms` }).catch(() => {});
    process.exit(3);
  }, cfg.timeoutMs ?? 240000);

  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sockjs-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: cfg.chromium,
      headless: true,
      args: ARGS,
      timeout: 30000,
      viewport: { width: 800, height: 600 },
    });
    // Actions (fill, press, screenshot) wait at most this long.
    context.setDefaultTimeout(15000);
    const version = context.browser()?.version() ?? '';
    let out;
    if (cfg.mode === 'chat') {
      out = await runChat(context, cfg);
    } else {
      out = await runTransports(context, cfg);
    }
    out.browser = version || (await chromiumVersion(context));
    out.ms = Date.now() - started;
    await write(out);
  } finally {
    // Chromium sometimes takes long to close; past 5 s the exit below
    // kills it (Playwright kills the browsers it launched on exit).
    if (context) await within(context.close(), 5000, 'browser close').catch((e) => console.error(`run.mjs: ${e.message}; killing it`));
    await fs.rm(userDataDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    clearTimeout(overall);
  }
}

async function chromiumVersion(context) {
  const page = await context.newPage();
  try {
    return await page.evaluate(() => navigator.userAgent);
  } finally {
    await page.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`run.mjs: ${e?.stack ?? e}`);
  process.exit(2);
});
