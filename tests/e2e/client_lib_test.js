// libcocoon-client end to end: the upstream fixture and `cocoon up` (proxy, workers, fake TD)
// make a real local network; client_lib_test (a C program linked against libcocoon-client.a
// and system libraries only) talks to it through include/cocoon/client.h. This script makes
// the network and the registries for the refusal cases, runs the program, and checks from the
// upstream's side that the library's cancellation reached it.
// usage: node client_lib_test.js /path/to/cocoon /path/to/client_lib_test
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');
const { makeFixture } = require('./upstream_fixture.js');

const [COCOON, PROG] = process.argv.slice(2);
const started = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-libclient-'));
  const fx = makeFixture('fortune-llama-7m');
  await new Promise((r) => fx.server.listen(0, '127.0.0.1', r));
  const upstream = `http://127.0.0.1:${fx.server.address().port}`;
  const state = path.join(tmp, 'up');
  const up = childProcess.spawn(COCOON, ['up', '--registry-file', '--upstream', upstream, '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(up);
  let upOut = '';
  up.stdout.on('data', (d) => (upOut += d));
  up.stderr.on('data', () => {});
  await until('cocoon up', async () => /api_key: /.test(upOut), 30000);

  const regFile = path.join(state, 'registry.json');
  const reg = JSON.parse(fs.readFileSync(regFile, 'utf8'));
  const bad = Object.assign({}, reg, { proxy_image_hashes: ['00'.repeat(32)] });
  const badFile = path.join(tmp, 'bad-registry.json');
  fs.writeFileSync(badFile, JSON.stringify(bad));
  const otherCa = path.join(tmp, 'other-ca');

  const prog = childProcess.spawn(PROG, [regFile, path.join(state, 'fake-ca'), badFile, otherCa], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(prog);
  let out = '';
  let err = '';
  let cancelSeen = null;
  prog.stdout.on('data', (d) => {
    out += d;
    process.stdout.write(d);
    if (cancelSeen === null && /CANCEL_SENT/.test(out)) {
      cancelSeen = until('the upstream to see the cancellation', async () => fx.stats.cancelled >= 1, 10000);
    }
  });
  prog.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => prog.on('exit', (c, s) => r(c === null ? s : c)));
  assert.strictEqual(code, 0, `client_lib_test failed (${code}):\n${err.slice(-6000)}`);
  assert(/all passed/.test(out));
  assert(cancelSeen, 'the cancellation case did not run');
  await cancelSeen;
  console.log(`ok - the upstream saw the cancellation (${fx.stats.cancelled})`);
  assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(err), err.slice(-3000));

  const done = new Promise((r) => up.on('exit', (c) => r(c)));
  up.kill('SIGTERM');
  assert.strictEqual(await done, 0);
  for (const f of fs.readdirSync(state)) {
    if (!f.endsWith('.log')) continue;
    const t = fs.readFileSync(path.join(state, f), 'utf8');
    assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(t), `sanitizer report in ${f}`);
  }
  fx.server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('ok - network stopped cleanly');
}

main().catch((e) => {
  console.error(e);
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  process.exit(1);
});
