// Daemon logs as an operator of `cocoon up` reads them.
//  1. `cocoon up --log-format json`: every daemon's log file (proxy, workers, client) holds JSON
//     lines only (no text-format log line), each with ts/level/module/msg, request ids as fields.
//  2. The daemons buffer INFO lines but flush them every 200 ms: a request's INFO lines show in
//     the logs while the daemons keep running (well before the 64 KiB buffer could fill).
//  3. SIGTERM: the shutdown's INFO lines are in every log (flushed before exit).
//  4. `cocoon up --log-level warn` gives the daemons no INFO lines at all.
//  5. Bad values are refused by `cocoon up` itself (exit 2) before anything starts.
// usage: node up_logs_test.js /path/to/cocoon
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { makeFixture } = require('./upstream_fixture.js');

const COCOON = process.argv[2];
const MODEL = 'fortune-llama-7m';
const DAEMONS = ['proxy', 'worker1', 'worker2', 'client'];
const started = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(20);
  }
}

function chat(base, key, content) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + '/chat/completions');
    const data = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] });
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + key } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function startUp(args) {
  const child = spawn(COCOON, ['up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  await until('cocoon up to print base_url and api_key', async () => out.split('\n').length >= 3, 30000);
  const base = /^base_url: (\S+)$/m.exec(out)[1];
  const key = /^api_key: (\S+)$/m.exec(out)[1];
  const stop = async () => {
    child.kill('SIGTERM');
    const res = await Promise.race([exited, sleep(15000).then(() => null)]);
    assert(res && res.code === 0, 'cocoon up exits 0 on SIGTERM: ' + JSON.stringify(res) + err);
  };
  return { base, key, stop };
}

const read = (state, d) => { try { return fs.readFileSync(path.join(state, d + '.log'), 'utf8'); } catch { return ''; } };
// A text-format log line: `2025-01-01T00:00:00.000Z INFO  module: ...`.
const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) /;

// The JSON log objects of a daemon's log file (which also holds its stdout lines).
function jsonLines(state, d) {
  const objs = [];
  for (const line of read(state, d).split('\n')) {
    assert(!TEXT_LINE.test(line), `${d}.log has a text-format log line: ${line}`);
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line); // a line that starts like JSON must be JSON
    for (const k of ['ts', 'level', 'module', 'msg']) assert.strictEqual(typeof o[k], 'string', `${d}: ${k} in ${line}`);
    objs.push(o);
  }
  return objs;
}

function sanitizerClean(state) {
  for (const d of DAEMONS) {
    assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(read(state, d)), `sanitizer report in ${d}.log`);
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-logs-'));
  const fx = makeFixture(MODEL);
  await new Promise((r) => fx.server.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${fx.server.address().port}/v1`;

  // 5. Refused up front.
  for (const bad of [['--log-format', 'xml'], ['--log-level', 'loud']]) {
    const r = spawnSync(COCOON, ['up', '--registry-file', '--upstream', upstream, '--state', path.join(tmp, 'bad'), ...bad], { encoding: 'utf8', timeout: 30000 });
    assert.strictEqual(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(bad[0]));
    assert(!fs.existsSync(path.join(tmp, 'bad')), 'nothing started');
  }
  console.log('ok - cocoon up refuses --log-format xml and --log-level loud');

  // 1-3. JSON logs, INFO lines flushed while running, shutdown lines flushed at exit.
  const state = path.join(tmp, 'json');
  const up = await startUp(['--registry-file', '--upstream', upstream, '--state', state, '--log-format', 'json']);
  for (const d of DAEMONS) {
    await until(`${d} to log JSON`, async () => jsonLines(state, d).length > 0, 5000);
  }
  const t0 = Date.now();
  const r = await chat(up.base, up.key, 'log me');
  assert.strictEqual(r.status, 200, r.body);
  const answered = Date.now();
  // The worker's per-request INFO line, with the request id lifted into a field.
  let line = null;
  await until('the worker\'s request line in its log (flush timer)', async () => {
    line = ['worker1', 'worker2'].flatMap((d) => jsonLines(state, d)).find((o) => /request for .* started/.test(o.msg));
    return line;
  }, 2000);
  const lag = Date.now() - answered;
  assert.strictEqual(line.level, 'info');
  assert.strictEqual(line.module, 'worker');
  assert.match(line.wreq, /^[0-9a-f]+$/);
  console.log(`ok - cocoon up --log-format json: JSON lines in every daemon log; the request's INFO line showed ${lag} ms after the answer (request took ${answered - t0} ms)`);
  await up.stop();
  for (const d of DAEMONS) {
    const objs = jsonLines(state, d);
    assert(objs.some((o) => o.level === 'info' && /signal received, stopping/.test(o.msg)),
      `${d}: the shutdown line was flushed before exit:\n${read(state, d).slice(-2000)}`);
  }
  sanitizerClean(state);
  console.log('ok - SIGTERM: every daemon\'s shutdown INFO line is in its log');

  // 4. --log-level warn: no INFO lines.
  const wstate = path.join(tmp, 'warn');
  const up2 = await startUp(['--registry-file', '--upstream', upstream, '--state', wstate, '--log-format', 'json', '--log-level', 'warn']);
  const r2 = await chat(up2.base, up2.key, 'quiet please');
  assert.strictEqual(r2.status, 200, r2.body);
  await up2.stop();
  for (const d of DAEMONS) {
    const info = jsonLines(wstate, d).filter((o) => o.level === 'info' || o.level === 'debug');
    assert.strictEqual(info.length, 0, `${d}: no INFO lines at --log-level warn: ${JSON.stringify(info[0])}`);
    assert(/ready|client_port/.test(read(wstate, d)), `${d} ran (its stdout is in the log)`);
  }
  sanitizerClean(wstate);
  console.log('ok - cocoon up --log-level warn: the daemons log no INFO lines');

  fx.server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error('not ok -', e && e.stack ? e.stack : e);
    for (const c of started) c.kill('SIGTERM');
    setTimeout(() => {
      for (const c of started) c.kill('SIGKILL');
      process.exit(1);
    }, 3000);
  },
);
