// End to end over real processes on loopback: `cocoon up` (proxy, two workers, client, fake
// TD) in front of upstream_fixture.js (vLLM's exact HTTP/SSE format). Checks what an app sees:
// content byte-identical to what the upstream sent, streaming and not, chat and completions;
// usage counted; max_tokens enforced and stream usage forced; OpenAI-style errors with their
// status codes; retry on another worker when one fails before the first byte (upstream drop,
// then a worker killed while its request waits); cancellation reaching the upstream when the
// app goes away; SIGTERM stopping every process cleanly (no sanitizer reports).
// usage: node network_test.js /path/to/cocoon
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');

// Every process this test starts, so a failing run leaves none behind.
const started = [];
function spawn(cmd, args, opts) {
  const c = childProcess.spawn(cmd, args, opts);
  started.push(c);
  return c;
}
function killAll(sig) {
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill(sig);
      } catch (e) {
        /* already gone */
      }
    }
  }
}
const { makeFixture } = require('./upstream_fixture.js');

const COCOON = process.argv[2];
const MODEL = 'fortune-llama-7m';

function request(base, key, method, p, body, opts = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + p);
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers = { 'content-type': 'application/json' };
    if (key) headers.authorization = 'Bearer ' + key;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => {
        chunks.push(d);
        if (opts.onData) opts.onData(d, req, res);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), chunks: chunks.length }));
      res.on('error', (e) => (opts.tolerateAbort ? resolve({ aborted: true }) : reject(e)));
    });
    req.on('error', (e) => (opts.tolerateAbort ? resolve({ aborted: true }) : reject(e)));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

function startUp(upstream, state) {
  // The fixture run keeps the JSON registry (--registry-file); the built-in run takes the default
  // (the root contract on localton when node's packages are installed; e2e_chain covers it).
  const args = upstream ? ['up', '--upstream', upstream, '--registry-file', '--state', state] : ['up', '--state', state];
  const child = spawn(COCOON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  const ready = (async () => {
    const t0 = Date.now();
    await until('cocoon up to print base_url and api_key', async () => out.split('\n').length >= 3, 30000);
    return { ms: Date.now() - t0 };
  })();
  return { child, exited, ready, out: () => out, err: () => err };
}

function sanitizerClean(state) {
  for (const f of fs.readdirSync(state)) {
    if (!f.endsWith('.log')) continue;
    const t = fs.readFileSync(path.join(state, f), 'utf8');
    assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(t), `sanitizer report in ${f}:\n${t.slice(-3000)}`);
  }
}

function sseEvents(body) {
  return body.split('\n\n').filter((e) => e.length > 0).map((e) => e.replace(/^data: /, ''));
}

// Peers the registry does not allow are refused: a worker image, a model, a proxy image.
async function refusals(tmp, upState, upstream) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const img = reg.worker_image_hashes[0];
  const other = '00'.repeat(32);
  const ca = path.join(upState, 'fake-ca');
  const run = (args, log) => {
    const fd = fs.openSync(log, 'w');
    return spawn(COCOON, args, { stdio: ['ignore', fd, fd] });
  };
  const cases = [
    { what: 'worker image not allowed', proxyReg: { worker_image_hashes: [other], models: [MODEL] }, workerProxyImg: img, expect: ['proxy', /worker image is not in the root registry/] },
    { what: 'model not registered', proxyReg: { worker_image_hashes: [img], models: ['other-model'] }, workerProxyImg: img, expect: ['proxy', /model fortune-llama-7m is not in the root registry/] },
    { what: 'proxy image not allowed', proxyReg: { worker_image_hashes: [img], models: [MODEL] }, workerProxyImg: other, expect: ['worker', /refusing proxy .*proxy image is not in the root registry/] },
  ];
  for (const c of cases) {
    const dir = fs.mkdtempSync(path.join(tmp, 'refuse-'));
    fs.writeFileSync(path.join(dir, 'proxy-reg.json'), JSON.stringify(c.proxyReg));
    const proxy = run(['proxy', '--registry', path.join(dir, 'proxy-reg.json'), '--fake-ca', ca, '--difficulty', '4', '--ready-file', path.join(dir, 'proxy.ready')], path.join(dir, 'proxy.log'));
    await until('proxy ready', async () => fs.existsSync(path.join(dir, 'proxy.ready')), 15000);
    const [wp, cp] = fs.readFileSync(path.join(dir, 'proxy.ready'), 'utf8').trim().split(' ');
    fs.writeFileSync(path.join(dir, 'worker-reg.json'), JSON.stringify({ proxies: [{ worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` }], proxy_image_hashes: [c.workerProxyImg] }));
    const worker = run(['worker', '--registry', path.join(dir, 'worker-reg.json'), '--fake-ca', ca, '--model', MODEL, '--upstream', upstream, '--ready-file', path.join(dir, 'worker.ready')], path.join(dir, 'worker.log'));
    const log = path.join(dir, `${c.expect[0]}.log`);
    await until(`${c.what} to be logged`, async () => c.expect[1].test(fs.readFileSync(log, 'utf8')), 15000);
    assert(!fs.existsSync(path.join(dir, 'worker.ready')), `${c.what}: the worker must not become ready`);
    for (const ch of [worker, proxy]) {
      const done = new Promise((res) => ch.on('exit', (code) => res(code)));
      ch.kill('SIGTERM');
      assert.strictEqual(await done, 0);
    }
    sanitizerClean(dir);
    console.log(`ok - refused: ${c.what}`);
  }
}

// Two workers, one behind a slow upstream: its share of requests drops.
async function slowShare(tmp, upState) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const ca = path.join(upState, 'fake-ca');
  const slowOpts = { headDelayMs: 150 };
  const fastOpts = {};
  const fast = makeFixture(MODEL, fastOpts);
  const slow = makeFixture(MODEL, slowOpts);
  await new Promise((r) => fast.server.listen(0, '127.0.0.1', r));
  await new Promise((r) => slow.server.listen(0, '127.0.0.1', r));
  const dir = fs.mkdtempSync(path.join(tmp, 'share-'));
  const run = (args, name) => {
    const fd = fs.openSync(path.join(dir, name + '.log'), 'w');
    return spawn(COCOON, [...args, '--fake-ca', ca, '--ready-file', path.join(dir, name + '.ready')], { stdio: ['ignore', fd, fd] });
  };
  fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const kids = [run(['proxy', '--registry', path.join(dir, 'p.json'), '--difficulty', '4', '--stats-listen', '127.0.0.1:0', '--explore-ms', '500'], 'proxy')];
  await until('proxy ready', async () => fs.existsSync(path.join(dir, 'proxy.ready')), 15000);
  const [wp, cp] = fs.readFileSync(path.join(dir, 'proxy.ready'), 'utf8').trim().split(' ');
  fs.writeFileSync(path.join(dir, 'n.json'), JSON.stringify({ proxies: [{ worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` }], proxy_image_hashes: reg.proxy_image_hashes, worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const n = path.join(dir, 'n.json');
  kids.push(run(['worker', '--registry', n, '--model', MODEL, '--upstream', `http://127.0.0.1:${slow.server.address().port}/v1`, '--uplink-check-ms', '200'], 'slow'));
  kids.push(run(['worker', '--registry', n, '--model', MODEL, '--upstream', `http://127.0.0.1:${fast.server.address().port}/v1`, '--stats-listen', '127.0.0.1:0', '--uplink-check-ms', '200'], 'fast'));
  kids.push(run(['client', '--registry', n, '--payment-poll-ms', '200'], 'client'));
  for (const k of ['slow', 'fast', 'client']) {
    await until(`${k} ready`, async () => fs.existsSync(path.join(dir, k + '.ready')), 15000);
  }
  const base = `http://127.0.0.1:${fs.readFileSync(path.join(dir, 'client.ready'), 'utf8').trim()}/v1`;
  const N = 20;
  for (let i = 0; i < N; i++) {
    const r = await request(base, null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'share ' + i }] });
    assert.strictEqual(r.status, 200, r.body);
  }
  const slowShare = slow.stats.requests / N;
  const phase1 = { slow: slow.stats.requests, fast: fast.stats.requests };
  assert.strictEqual(slow.stats.requests + fast.stats.requests, N);
  assert(slow.stats.requests >= 1, 'the slow worker was tried (measured) at least once');
  assert(slowShare <= 0.2, `slow worker share ${slowShare} (slow ${slow.stats.requests}, fast ${fast.stats.requests})`);
  // Observability on every daemon: /stats, /jsonstats, /metrics.
  const statsPort = (name) => /stats_port: (\d+)/.exec(fs.readFileSync(path.join(dir, name + '.log'), 'utf8'))[1];
  const pbase = `http://127.0.0.1:${statsPort('proxy')}`;
  const wbase = `http://127.0.0.1:${statsPort('fast')}`;
  const cbase = base.replace(/\/v1$/, '');
  let r = await request(pbase, null, 'GET', '/metrics');
  assert.strictEqual(r.status, 200);
  assert.match(r.headers['content-type'], /text\/plain; version=0\.0\.4/);
  assert.match(r.body, /^# TYPE cocoon_proxy_requests_total counter$/m);
  assert.match(r.body, new RegExp(`^cocoon_proxy_requests_total ${N}$`, 'm'));
  assert.match(r.body, new RegExp(`^cocoon_proxy_requests_ok_total ${N}$`, 'm'));
  assert.match(r.body, /^cocoon_proxy_workers_ready 2$/m);
  const pj = JSON.parse((await request(pbase, null, 'GET', '/jsonstats')).body);
  assert.strictEqual(pj.tokens_total > 0, true);
  const wj = JSON.parse((await request(wbase, null, 'GET', '/jsonstats')).body);
  assert.strictEqual(wj.requests_ok_total, fast.stats.requests);
  assert.strictEqual(wj.proxies_ready, 1);
  r = await request(wbase, null, 'GET', '/stats');
  assert.match(r.body, /^requests_ok_total +\d+$/m);
  r = await request(cbase, null, 'GET', '/metrics');
  assert.match(r.body, new RegExp(`^cocoon_client_ok ${N}$`, 'm'));
  const cj = JSON.parse((await request(cbase, null, 'GET', '/jsonstats')).body);
  assert.strictEqual(cj.total_tokens, pj.tokens_total, 'client and proxy agree on usage');
  assert.strictEqual((await request(pbase, null, 'GET', '/other')).status, 404);
  console.log('ok - /stats, /jsonstats, /metrics on proxy, worker and client');
  // The roles swap: the slow upstream recovers and the fast one slows down. Exploration gives
  // the idle, unpicked worker a request after --explore-ms and its stale figure is replaced,
  // so it takes the traffic back (without exploration its old 150 ms would keep it out).
  slowOpts.headDelayMs = 0;
  fastOpts.headDelayMs = 150;
  const before = slow.stats.requests;
  for (let i = 0; i < N; i++) {
    const r2 = await request(base, null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'recovered ' + i }] });
    assert.strictEqual(r2.status, 200, r2.body);
  }
  const recovered = slow.stats.requests - before;
  assert(recovered >= N / 2, `the recovered worker took ${recovered}/${N} requests`);
  r = await request(pbase, null, 'GET', '/metrics');
  assert.match(r.body, /^cocoon_proxy_explored_total [1-9]\d*$/m);
  console.log(`ok - a recovered worker is measured again and takes the traffic back: ${recovered}/${N}`);
  // The client keeps polling its payment status while connected (reference: every 10–20 s).
  const polls = async () => Number(/^cocoon_client_payment_polls (\d+)$/m.exec((await request(cbase, null, 'GET', '/metrics')).body)[1]);
  const p0 = await polls();
  await until('two more payment status polls', async () => (await polls()) >= p0 + 2, 5000);
  console.log('ok - the client polls its payment status periodically');
  // A backend goes down: its worker's uplink monitor (GET /v1/models) disables it at the proxy,
  // so requests go to the other worker at once, without failed attempts; back up, it is enabled.
  const metric = async (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await request(pbase, null, 'GET', '/metrics')).body)[1]);
  fastOpts.down = true;
  await until('the downed worker disabled at the proxy', async () => (await metric('cocoon_proxy_workers_disabled')) === 1, 5000);
  const retries = await metric('cocoon_proxy_retries_total');
  const slowBefore = slow.stats.requests;
  for (let i = 0; i < 5; i++) {
    const r3 = await request(base, null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'uplink ' + i }] });
    assert.strictEqual(r3.status, 200, r3.body);
  }
  assert.strictEqual(slow.stats.requests, slowBefore + 5, 'served by the worker whose backend is up');
  assert.strictEqual(await metric('cocoon_proxy_retries_total'), retries, 'no attempt on the disabled worker');
  fastOpts.down = false;
  await until('the worker enabled again', async () => (await metric('cocoon_proxy_workers_disabled')) === 0, 5000);
  console.log('ok - a worker whose backend is down disables itself at the proxy and comes back');
  for (const k of kids) {
    const done = new Promise((res) => k.on('exit', (code) => res(code)));
    k.kill('SIGTERM');
    assert.strictEqual(await done, 0);
  }
  sanitizerClean(dir);
  fast.server.close();
  slow.server.close();
  console.log(`ok - a slow worker's share drops: ${phase1.slow}/${N} requests (fast: ${phase1.fast})`);
}

// Two proxies: the client spreads requests over both and keeps serving when one dies.
async function failover(tmp, upState, upstream) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const ca = path.join(upState, 'fake-ca');
  const dir = fs.mkdtempSync(path.join(tmp, 'failover-'));
  const run = (args, name) => {
    const fd = fs.openSync(path.join(dir, name + '.log'), 'w');
    return spawn(COCOON, [...args, '--fake-ca', ca, '--ready-file', path.join(dir, name + '.ready')], { stdio: ['ignore', fd, fd] });
  };
  fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const proxies = {};
  for (const name of ['pa', 'pb']) {
    proxies[name] = run(['proxy', '--registry', path.join(dir, 'p.json'), '--difficulty', '4', '--stats-listen', '127.0.0.1:0'], name);
  }
  const entries = [];
  const stats = {};
  for (const name of ['pa', 'pb']) {
    await until(`${name} ready`, async () => fs.existsSync(path.join(dir, name + '.ready')), 15000);
    const [wp, cp] = fs.readFileSync(path.join(dir, name + '.ready'), 'utf8').trim().split(' ');
    entries.push({ worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` });
    await until(`${name} stats port`, async () => /stats_port: \d+/.test(fs.readFileSync(path.join(dir, name + '.log'), 'utf8')), 5000);
    stats[name] = `http://127.0.0.1:${/stats_port: (\d+)/.exec(fs.readFileSync(path.join(dir, name + '.log'), 'utf8'))[1]}`;
  }
  fs.writeFileSync(path.join(dir, 'n.json'), JSON.stringify({ proxies: entries, proxy_image_hashes: reg.proxy_image_hashes, worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const n = path.join(dir, 'n.json');
  const worker = run(['worker', '--registry', n, '--model', MODEL, '--upstream', upstream], 'worker');
  const client = run(['client', '--registry', n], 'client');
  const pj = async (name) => JSON.parse((await request(stats[name], null, 'GET', '/jsonstats')).body);
  await until('the worker on both proxies', async () => (await pj('pa')).workers_ready === 1 && (await pj('pb')).workers_ready === 1, 15000);
  await until('client ready', async () => fs.existsSync(path.join(dir, 'client.ready')), 15000);
  const cbase = `http://127.0.0.1:${fs.readFileSync(path.join(dir, 'client.ready'), 'utf8').trim()}`;
  const cj = async () => JSON.parse((await request(cbase, null, 'GET', '/jsonstats')).body);
  await until('client on both proxies', async () => (await cj()).ready_proxies === 2, 15000);
  const ask = async (i) => {
    const r = await request(cbase + '/v1', null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'failover ' + i }] });
    assert.strictEqual(r.status, 200, r.body);
  };
  for (let i = 0; i < 4; i++) await ask(i);
  assert((await pj('pa')).requests_total > 0 && (await pj('pb')).requests_total > 0, 'both proxies used');
  proxies.pa.kill('SIGKILL');
  await until('the client to drop the dead proxy', async () => (await cj()).ready_proxies === 1, 10000);
  const before = (await pj('pb')).requests_total;
  for (let i = 0; i < 4; i++) await ask(10 + i);
  assert.strictEqual((await pj('pb')).requests_total, before + 4);
  for (const k of [client, worker, proxies.pb]) {
    const done = new Promise((res) => k.on('exit', (code) => res(code)));
    k.kill('SIGTERM');
    assert.strictEqual(await done, 0);
  }
  sanitizerClean(dir);
  console.log('ok - two proxies: requests spread over both, served by the other when one dies');
}

// The registry's proxy list changes while everything runs (a refresh of the file, as of the root
// contract): client and worker drop the proxy that left and connect to the one that came.
async function follow(tmp, upState, upstream) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const ca = path.join(upState, 'fake-ca');
  const dir = fs.mkdtempSync(path.join(tmp, 'follow-'));
  const run = (args, name) => {
    const fd = fs.openSync(path.join(dir, name + '.log'), 'w');
    return spawn(COCOON, [...args, '--fake-ca', ca, '--ready-file', path.join(dir, name + '.ready')], { stdio: ['ignore', fd, fd] });
  };
  fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const proxies = {};
  const entries = {};
  const stats = {};
  for (const name of ['pa', 'pb']) {
    proxies[name] = run(['proxy', '--registry', path.join(dir, 'p.json'), '--difficulty', '4', '--stats-listen', '127.0.0.1:0'], name);
  }
  for (const name of ['pa', 'pb']) {
    await until(`${name} ready`, async () => fs.existsSync(path.join(dir, name + '.ready')), 15000);
    const [wp, cp] = fs.readFileSync(path.join(dir, name + '.ready'), 'utf8').trim().split(' ');
    entries[name] = { worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` };
    await until(`${name} stats port`, async () => /stats_port: \d+/.test(fs.readFileSync(path.join(dir, name + '.log'), 'utf8')), 5000);
    stats[name] = `http://127.0.0.1:${/stats_port: (\d+)/.exec(fs.readFileSync(path.join(dir, name + '.log'), 'utf8'))[1]}`;
  }
  const n = path.join(dir, 'n.json');
  const writeReg = (names) => {
    fs.writeFileSync(n + '.tmp', JSON.stringify({ proxies: names.map((x) => entries[x]), proxy_image_hashes: reg.proxy_image_hashes, worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
    fs.renameSync(n + '.tmp', n);
  };
  writeReg(['pa']);
  const worker = run(['worker', '--registry', n, '--registry-refresh', '1', '--model', MODEL, '--upstream', upstream], 'worker');
  const client = run(['client', '--registry', n, '--registry-refresh', '1'], 'client');
  const pj = async (name) => JSON.parse((await request(stats[name], null, 'GET', '/jsonstats')).body);
  await until('client ready', async () => fs.existsSync(path.join(dir, 'client.ready')), 15000);
  const cbase = `http://127.0.0.1:${fs.readFileSync(path.join(dir, 'client.ready'), 'utf8').trim()}`;
  const ask = async (i) => {
    const r = await request(cbase + '/v1', null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'follow ' + i }] });
    assert.strictEqual(r.status, 200, r.body);
  };
  await until('the worker on pa', async () => (await pj('pa')).workers_ready === 1, 15000);
  await ask(0);
  assert.strictEqual((await pj('pb')).workers_ready, 0);
  writeReg(['pb']); // pa leaves, pb comes
  await until('worker and client on pb only', async () => {
    const [a, b] = [await pj('pa'), await pj('pb')];
    return a.workers_ready === 0 && a.clients === 0 && b.workers_ready === 1 && b.clients === 1;
  }, 15000);
  const before = { pa: (await pj('pa')).requests_total, pb: (await pj('pb')).requests_total };
  for (let i = 1; i <= 3; i++) await ask(i);
  assert.strictEqual((await pj('pb')).requests_total, before.pb + 3);
  assert.strictEqual((await pj('pa')).requests_total, before.pa);
  for (const k of [client, worker, proxies.pa, proxies.pb]) {
    const done = new Promise((res) => k.on('exit', (code) => res(code)));
    k.kill('SIGTERM');
    assert.strictEqual(await done, 0);
  }
  sanitizerClean(dir);
  console.log('ok - a changed proxy list is followed without a restart (pa left, pb came)');
}

// A worker that sends broken frames loses its link and its reputation, and gets the reputation
// back (not a clean slate) when it reconnects: it is not tried again while a healthy worker is
// free. Its requests are retried on the healthy worker before the first byte.
async function badFrames(tmp, upState) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const ca = path.join(upState, 'fake-ca');
  const good = makeFixture(MODEL);
  const bad = makeFixture(MODEL);
  await new Promise((r) => good.server.listen(0, '127.0.0.1', r));
  await new Promise((r) => bad.server.listen(0, '127.0.0.1', r));
  const dir = fs.mkdtempSync(path.join(tmp, 'badframes-'));
  const run = (args, name) => {
    const fd = fs.openSync(path.join(dir, name + '.log'), 'w');
    return spawn(COCOON, [...args, '--fake-ca', ca, '--ready-file', path.join(dir, name + '.ready')], { stdio: ['ignore', fd, fd] });
  };
  fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const kids = [run(['proxy', '--registry', path.join(dir, 'p.json'), '--difficulty', '4', '--stats-listen', '127.0.0.1:0', '--explore-ms', '0'], 'proxy')];
  await until('proxy ready', async () => fs.existsSync(path.join(dir, 'proxy.ready')), 15000);
  const [wp, cp] = fs.readFileSync(path.join(dir, 'proxy.ready'), 'utf8').trim().split(' ');
  fs.writeFileSync(path.join(dir, 'n.json'), JSON.stringify({ proxies: [{ worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` }], proxy_image_hashes: reg.proxy_image_hashes, worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
  const n = path.join(dir, 'n.json');
  kids.push(run(['worker', '--registry', n, '--model', MODEL, '--upstream', `http://127.0.0.1:${good.server.address().port}/v1`], 'good'));
  kids.push(run(['worker', '--registry', n, '--model', MODEL, '--upstream', `http://127.0.0.1:${bad.server.address().port}/v1`, '--fault', 'badframe'], 'bad'));
  kids.push(run(['client', '--registry', n], 'client'));
  for (const k of ['good', 'bad', 'client']) {
    await until(`${k} ready`, async () => fs.existsSync(path.join(dir, k + '.ready')), 15000);
  }
  await until('proxy stats port', async () => /stats_port: \d+/.test(fs.readFileSync(path.join(dir, 'proxy.log'), 'utf8')), 5000);
  const pbase = `http://127.0.0.1:${/stats_port: (\d+)/.exec(fs.readFileSync(path.join(dir, 'proxy.log'), 'utf8'))[1]}`;
  const metric = async (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await request(pbase, null, 'GET', '/metrics')).body)[1]);
  const base = `http://127.0.0.1:${fs.readFileSync(path.join(dir, 'client.ready'), 'utf8').trim()}/v1`;
  const ask = async (i) => {
    const r = await request(base, null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'frames ' + i }] });
    assert.strictEqual(r.status, 200, r.body);
  };
  await until('both workers registered', async () => (await metric('cocoon_proxy_workers_ready')) === 2, 15000);
  // Until the bad worker has been tried (an unmeasured worker goes first), every request still
  // succeeds: the broken head closes its link and the request is retried on the good one.
  for (let i = 0; i < 4 && (await metric('cocoon_proxy_retries_total')) === 0; i++) await ask(i);
  assert((await metric('cocoon_proxy_retries_total')) >= 1, 'the bad worker was tried and its request retried');
  assert.strictEqual(bad.stats.completed, bad.stats.requests, 'its upstream answered; the frame was broken on the way');
  await until('the bad worker reconnected', async () => (await metric('cocoon_proxy_workers_ready')) === 2, 15000);
  const retries = await metric('cocoon_proxy_retries_total');
  const goodBefore = good.stats.requests;
  for (let i = 0; i < 5; i++) await ask(10 + i);
  assert.strictEqual(good.stats.requests, goodBefore + 5, 'the healthy worker serves while the bad one keeps its record');
  assert.strictEqual(await metric('cocoon_proxy_retries_total'), retries, 'the reconnected bad worker was not tried again');
  for (const k of kids) {
    const done = new Promise((res) => k.on('exit', (code) => res(code)));
    k.kill('SIGTERM');
    assert.strictEqual(await done, 0);
  }
  sanitizerClean(dir);
  good.server.close();
  bad.server.close();
  console.log('ok - a worker sending broken frames is dropped, its requests retried, and its reputation survives its reconnection');
}

// A proxy that alters usage or the answer in transit: the client rejects the answer.
async function tamper(tmp, upState, upstream) {
  const reg = JSON.parse(fs.readFileSync(path.join(upState, 'registry.json'), 'utf8'));
  const ca = path.join(upState, 'fake-ca');
  for (const fault of ['usage', 'body', 'cert']) {
    const dir = fs.mkdtempSync(path.join(tmp, 'tamper-'));
    const run = (args, name) => {
      const fd = fs.openSync(path.join(dir, name + '.log'), 'w');
      return spawn(COCOON, [...args, '--fake-ca', ca, '--ready-file', path.join(dir, name + '.ready')], { stdio: ['ignore', fd, fd] });
    };
    fs.writeFileSync(path.join(dir, 'p.json'), JSON.stringify({ worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
    const proxy = run(['proxy', '--registry', path.join(dir, 'p.json'), '--difficulty', '4', '--fault', fault], 'proxy');
    await until('proxy ready', async () => fs.existsSync(path.join(dir, 'proxy.ready')), 15000);
    const [wp, cp] = fs.readFileSync(path.join(dir, 'proxy.ready'), 'utf8').trim().split(' ');
    fs.writeFileSync(path.join(dir, 'n.json'), JSON.stringify({ proxies: [{ worker: `127.0.0.1:${wp}`, client: `127.0.0.1:${cp}` }], proxy_image_hashes: reg.proxy_image_hashes, worker_image_hashes: reg.worker_image_hashes, models: [MODEL] }));
    const n = path.join(dir, 'n.json');
    const worker = run(['worker', '--registry', n, '--model', MODEL, '--upstream', upstream], 'worker');
    // Both forms of evidence: the MAC (the default) and, asked for, the worker's signature.
    const client = run(['client', '--registry', n, ...(fault === 'body' ? ['--evidence-signatures'] : [])], 'client');
    await until('worker ready', async () => fs.existsSync(path.join(dir, 'worker.ready')), 15000);
    await until('client ready', async () => fs.existsSync(path.join(dir, 'client.ready')), 15000);
    const base = `http://127.0.0.1:${fs.readFileSync(path.join(dir, 'client.ready'), 'utf8').trim()}/v1`;
    // Streaming: the stream ends with an error event instead of [DONE].
    const r = await request(base, null, 'POST', '/chat/completions', { model: MODEL, stream: true, messages: [{ role: 'user', content: 'tamper with me' }] });
    const evs = sseEvents(r.body);
    const last = JSON.parse(evs[evs.length - 1]);
    // A certificate named by id to a client that never got it fails at the head already.
    const rejected = fault === 'cert' ? /worker evidence rejected/ : /answer evidence rejected/;
    assert(last.error && rejected.test(last.error.message), `${fault}: ${r.body.slice(-300)}`);
    assert(!r.body.includes('[DONE]'));
    // Non-streaming: the worker sends a JSON answer whole (head, body and final info in one
    // message), so the client checks everything before the first byte and answers 502.
    const r2 = await request(base, null, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'tamper again' }] }, { tolerateAbort: true });
    assert(!r2.aborted, JSON.stringify(r2));
    assert.strictEqual(r2.status, 502, `${fault}: a JSON answer that fails its evidence must not arrive: ${JSON.stringify(r2)}`);
    assert(rejected.test(JSON.parse(r2.body).error.message), r2.body);
    assert(!r2.body.includes('tamper again'), 'no part of the answer reaches the app');
    // INFO lines reach the log within the daemon's 200 ms flush interval.
    const clog = () => fs.readFileSync(path.join(dir, 'client.log'), 'utf8');
    const why = fault === 'cert' ? /worker evidence rejected: .*not seen on this link/ : /answer evidence rejected: signature does not verify/;
    await until('the rejection in the client log', async () => why.test(clog()), 2000)
      .catch((e) => assert.fail(e.message + '\n' + clog().slice(-2000)));
    for (const k of [client, worker, proxy]) {
      const done = new Promise((res) => k.on('exit', (code) => res(code)));
      k.kill('SIGTERM');
      assert.strictEqual(await done, 0);
    }
    sanitizerClean(dir);
    const form = { usage: 'MAC', body: 'signature', cert: 'certificate named by id, never sent' }[fault];
    console.log(`ok - a proxy altering the ${fault} in transit: the client rejects the answer (${form})`);
  }
}

// `cocoon up` without --upstream: the workers run the built-in engine on the demo model.
async function builtin(tmp) {
  if (!fs.existsSync(path.join(__dirname, '..', '..', 'models', 'fortune-llama-7m-f16.gguf'))) {
    console.log('skip - built-in upstream: demo model absent');
    return;
  }
  const state = path.join(tmp, 'builtin');
  const up = startUp(null, state);
  await up.ready;
  const [l1, l2] = up.out().trim().split('\n');
  const base = l1.replace('base_url: ', '');
  const key = l2.replace('api_key: ', '');
  const ask = { model: MODEL, temperature: 0, max_tokens: 8, messages: [{ role: 'user', content: 'Tell me a fortune' }] };
  let r = await request(base, key, 'POST', '/chat/completions', ask);
  assert.strictEqual(r.status, 200, r.body);
  const j = JSON.parse(r.body);
  assert.strictEqual(j.object, 'chat.completion');
  assert.strictEqual(j.usage.completion_tokens, 8);
  assert.strictEqual(j.choices[0].finish_reason, 'length');
  r = await request(base, key, 'POST', '/chat/completions', { ...ask, stream: true });
  assert.strictEqual(r.status, 200, r.body);
  const ev = sseEvents(r.body);
  assert.strictEqual(ev[ev.length - 1], '[DONE]');
  assert.strictEqual(JSON.parse(ev[ev.length - 2]).usage.completion_tokens, 8);
  const text = ev.slice(0, -2).map((e) => JSON.parse(e).choices[0].delta.content || '').join('');
  assert.strictEqual(text, j.choices[0].message.content, 'greedy: the same text streaming and not');
  up.child.kill('SIGTERM');
  const res = await Promise.race([up.exited, sleep(15000).then(() => null)]);
  assert(res && res.code === 0);
  sanitizerClean(state);
  console.log(`ok - built-in engine upstream (default of cocoon up): ${JSON.stringify(text)}`);
}

async function main() {
  const fx = makeFixture(MODEL);
  await new Promise((r) => fx.server.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${fx.server.address().port}/v1`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-'));
  const state = path.join(tmp, 'net');
  const up = startUp(upstream, state);
  const { ms } = await up.ready;
  const lines = up.out().trim().split('\n');
  assert.strictEqual(lines.length, 2, 'exactly two lines on stdout: ' + up.out());
  const m1 = /^base_url: (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(lines[0]);
  const m2 = /^api_key: (\S+)$/.exec(lines[1]);
  assert(m1 && m2, 'stdout format: ' + up.out());
  const base = m1[1];
  const key = m2[1];
  console.log(`ok - cocoon up ready in ${ms} ms: ${base}`);
  let expectTokens = 0;

  // Non-streaming chat: the exact upstream bytes, usage from the upstream.
  let r = await request(base, key, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hello over the network' }] });
  assert.strictEqual(r.status, 200, r.body);
  // The client adds one member, "cocoon" (the JSON extension naming request, worker image, model
  // and evidence checked), as the object's first; every other byte is the upstream's.
  let j = JSON.parse(r.body);
  assert.deepStrictEqual(j.cocoon, { request_id: r.headers['x-cocoon-request-id'], worker_image: r.headers['x-cocoon-worker-image'], model: MODEL, evidence: 'hmac-sha256' });
  assert.match(r.headers['x-cocoon-request-id'], /^[0-9a-f]{64}$/);
  assert.strictEqual(r.body.replace(/^\{"cocoon":\{[^{}]*\},/, '{'), fx.stats.last_sent, 'content unchanged end to end');
  assert.strictEqual(j.choices[0].message.content, 'echo: hello over the network');
  assert.strictEqual(fx.stats.last_body.max_tokens, 4096, 'worker cap applied when absent');
  assert.strictEqual(fx.stats.last_body.stream, undefined, 'non-stream request not turned into a stream');
  assert(r.headers['x-cocoon-worker-start'] && r.headers['x-cocoon-proxy-start'], 'timing headers');
  const upReg = JSON.parse(fs.readFileSync(path.join(state, 'registry.json'), 'utf8'));
  assert.strictEqual(r.headers['x-cocoon-worker-image'], upReg.worker_image_hashes[0], 'worker image named');
  assert.strictEqual(r.headers['x-cocoon-model'], MODEL);
  assert.strictEqual(r.headers['x-cocoon-evidence'], 'worker certificate verified');
  assert.strictEqual(r.headers['x-cocoon-worker-cert'], undefined, 'certificate consumed by the client');
  expectTokens += j.usage.total_tokens;
  console.log('ok - non-streaming chat, content byte-identical');

  // Streaming chat: SSE relayed unchanged; include_usage forced by the worker.
  r = await request(base, key, 'POST', '/chat/completions', { model: MODEL, stream: true, messages: [{ role: 'user', content: 'stream me please' }] });
  assert.strictEqual(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  assert.strictEqual(r.body, fx.stats.last_sent, 'SSE unchanged end to end');
  assert.deepStrictEqual(fx.stats.last_body.stream_options, { include_usage: true });
  let ev = sseEvents(r.body);
  assert.strictEqual(ev[ev.length - 1], '[DONE]');
  const usageEv = JSON.parse(ev[ev.length - 2]);
  assert.deepStrictEqual(usageEv.choices, []);
  expectTokens += usageEv.usage.total_tokens;
  const text = ev.slice(0, -2).map((e) => JSON.parse(e).choices[0].delta.content || '').join('');
  assert.strictEqual(text, 'echo: stream me please');
  console.log(`ok - streaming chat (${ev.length} events, ${r.chunks} reads), usage chunk forced`);

  // Completions, both ways; max_tokens enforced.
  r = await request(base, key, 'POST', '/completions', { model: MODEL, prompt: 'one two three four five', max_tokens: 2 });
  assert.strictEqual(r.status, 200, r.body);
  j = JSON.parse(r.body);
  assert.strictEqual(j.choices[0].text, 'echo: one');
  assert.strictEqual(j.choices[0].finish_reason, 'length');
  assert.strictEqual(fx.stats.last_body.max_tokens, 2);
  expectTokens += j.usage.total_tokens;
  r = await request(base, key, 'POST', '/completions', { model: MODEL, prompt: 'a b', stream: true, max_tokens: 100000 });
  assert.strictEqual(r.status, 200, r.body);
  assert.strictEqual(r.body, fx.stats.last_sent);
  assert.strictEqual(fx.stats.last_body.max_tokens, 4096, 'max_tokens clamped to the worker cap');
  ev = sseEvents(r.body);
  expectTokens += JSON.parse(ev[ev.length - 2]).usage.total_tokens;
  console.log('ok - completions, streaming and not; max_tokens enforced');

  // Usage counted by the worker reaches the client (both paths).
  const portOf = new URL(base).port;
  const stats = async () => JSON.parse((await request(`http://127.0.0.1:${portOf}`, key, 'GET', '/jsonstats')).body);
  let s = await stats();
  assert.strictEqual(s.total_tokens, expectTokens, JSON.stringify(s));
  console.log(`ok - usage counted: ${s.total_tokens} tokens over ${s.ok} answers`);

  // /v1/models across the proxies.
  r = await request(base, key, 'GET', '/models');
  assert.strictEqual(r.status, 200);
  j = JSON.parse(r.body);
  assert.strictEqual(j.object, 'list');
  assert.strictEqual(j.data[0].id, MODEL);
  assert.strictEqual(j.data[0].workers.length, 2);
  console.log('ok - /v1/models');

  // Errors in OpenAI's shape.
  const errCase = async (what, status, type, req) => {
    const res = await req();
    assert.strictEqual(res.status, status, `${what}: ${res.status} ${res.body}`);
    const e = JSON.parse(res.body).error;
    assert(e && typeof e.message === 'string' && e.type === type, `${what}: ${res.body}`);
  };
  await errCase('bad JSON', 400, 'invalid_request_error', () => request(base, key, 'POST', '/chat/completions', '{"model":'));
  await errCase('no model', 400, 'invalid_request_error', () => request(base, key, 'POST', '/chat/completions', { messages: [] }));
  await errCase('unknown model', 404, 'not_found_error', () => request(base, key, 'POST', '/chat/completions', { model: 'nope', messages: [] }));
  await errCase('unsupported parameter', 400, 'invalid_request_error', () => request(base, key, 'POST', '/chat/completions', { model: MODEL, messages: [], tools: [] }));
  await errCase('oversize body', 413, 'invalid_request_error', () => request(base, key, 'POST', '/chat/completions', { model: MODEL, pad: 'x'.repeat(9 << 20) }));
  await errCase('wrong API key', 401, 'authentication_error', () => request(base, 'sk-wrong', 'POST', '/chat/completions', { model: MODEL, messages: [] }));
  await errCase('no API key', 401, 'authentication_error', () => request(base, null, 'GET', '/models'));
  await errCase('unknown path', 404, 'not_found_error', () => request(base, key, 'GET', '/nothing'));
  console.log('ok - errors: 400 bad JSON / no model / unsupported parameter, 404 unknown model, 413, 401');

  // Retry: the first worker's upstream connection drops before any byte.
  r = await request(base, key, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'FAIL_FIRST x' }] });
  assert.strictEqual(r.status, 200, r.body);
  assert.strictEqual(fx.stats.failed_first, 1);
  assert.strictEqual(JSON.parse(r.body).choices[0].message.content, 'echo: FAIL_FIRST x');
  console.log('ok - a worker failing before the first byte: retried on the other worker');

  // Cancellation: the app goes away mid-stream; the upstream request is closed.
  const cancelledBefore = fx.stats.cancelled;
  await request(base, key, 'POST', '/chat/completions', { model: MODEL, stream: true, messages: [{ role: 'user', content: 'SLOW' }] }, {
    tolerateAbort: true,
    onData: (d, req) => req.destroy(),
  });
  await until('the upstream to see the cancellation', async () => fx.stats.cancelled > cancelledBefore, 5000);
  console.log('ok - app disconnect cancels the upstream request');

  const readyPid = (w) => {
    try {
      return Number(/pid (\d+)/.exec(fs.readFileSync(path.join(state, `${w}.ready`), 'utf8'))[1]);
    } catch (e) {
      return 0;
    }
  };
  const startedCount = (w) => (fs.readFileSync(path.join(state, `${w}.log`), 'utf8').match(/request for .* started/g) || []).length;

  // A worker killed mid-stream: the app gets a clean SSE error event and the end of the stream.
  {
    const before = { worker1: startedCount('worker1'), worker2: startedCount('worker2') };
    const starter = () => ['worker1', 'worker2'].find((w) => startedCount(w) > before[w]);
    let killed = null;
    let killing = null;
    r = await request(base, key, 'POST', '/chat/completions', { model: MODEL, stream: true, messages: [{ role: 'user', content: 'SLOW' }] }, {
      onData: () => {
        if (killing) return;
        // The worker's INFO line reaches its log within its 200 ms flush interval.
        killing = until('a worker to log the stream start', async () => starter(), 2000).then(() => {
          killed = { name: starter(), pid: readyPid(starter()) };
          process.kill(killed.pid, 'SIGKILL');
        });
      },
    });
    await killing;
    assert.strictEqual(r.status, 200);
    const evs = sseEvents(r.body);
    const last = JSON.parse(evs[evs.length - 1]);
    assert(last.error && typeof last.error.message === 'string', 'last event is an error: ' + evs[evs.length - 1]);
    assert(!r.body.includes('[DONE]'));
    await until(`${killed.name} to be restarted`, async () => readyPid(killed.name) > 0 && readyPid(killed.name) !== killed.pid, 30000);
    console.log(`ok - ${killed.name} killed mid-stream: clean error event (${evs.length} events), worker restarted`);
  }

  // A worker killed while its request waits for the upstream: the request succeeds elsewhere.
  const before = { worker1: startedCount('worker1'), worker2: startedCount('worker2') };
  const held = request(base, key, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'HOLD on' }] });
  await until('the upstream to hold a request', async () => fx.stats.holding > 0, 5000);
  await until('a worker to log the held request', async () => startedCount('worker1') > before.worker1 || startedCount('worker2') > before.worker2, 1000);
  const victim = ['worker1', 'worker2'].find((w) => startedCount(w) > before[w]);
  assert(victim, 'one worker started the held request');
  const pid = Number(/pid (\d+)/.exec(fs.readFileSync(path.join(state, `${victim}.ready`), 'utf8'))[1]);
  process.kill(pid, 'SIGKILL');
  r = await held;
  assert.strictEqual(r.status, 200, r.body);
  assert.strictEqual(JSON.parse(r.body).choices[0].message.content, 'echo: HOLD on');
  console.log(`ok - ${victim} killed before the first byte: the request succeeded on the other worker`);

  // cocoon up starts the dead worker again; SIGTERM then stops every process cleanly.
  await until(`${victim} to be restarted`, async () => readyPid(victim) > 0 && readyPid(victim) !== pid, 30000);
  r = await request(base, key, 'POST', '/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'after restart' }] });
  assert.strictEqual(r.status, 200, r.body);
  console.log(`ok - cocoon up restarted ${victim}`);
  const pids = [readyPid('worker1'), readyPid('worker2')];
  up.child.kill('SIGTERM');
  const res = await Promise.race([up.exited, sleep(15000).then(() => null)]);
  assert(res && res.code === 0, 'cocoon up exits 0 on SIGTERM: ' + JSON.stringify(res) + up.err());
  for (const p of pids) {
    assert.throws(() => process.kill(p, 0), 'worker process gone');
  }
  sanitizerClean(state);
  console.log('ok - SIGTERM stops every process cleanly, no sanitizer reports');
  await refusals(tmp, state, upstream);
  await slowShare(tmp, state);
  await failover(tmp, state, upstream);
  await follow(tmp, state, upstream);
  await badFrames(tmp, state);
  await tamper(tmp, state, upstream);
  await builtin(tmp);
  fx.server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error('FAIL:', e && e.stack ? e.stack : e);
    killAll('SIGTERM'); // cocoon up stops its own children on SIGTERM
    setTimeout(() => {
      killAll('SIGKILL');
      process.exit(1);
    }, 3000);
  },
);
