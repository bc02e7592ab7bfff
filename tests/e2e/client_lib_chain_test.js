// libcocoon-client reading its registry from the root contract on chain: `cocoon up --chain`
// (localton, root deployed by the genesis, daemons refreshing every second) and
// client_lib_chain_test (a C program linked against libcocoon-client.a) with
// registry = "chain:URL#ROOT", refreshed every second. Once the program's first answer arrived,
// the root's owner removes the worker image from the root (root_del_worker_type, §A.2); the
// program's requests must then fail, and its own log must show the library read the root and
// then its update. Skipped (77) without localton's and contracts' npm packages.
// usage: node client_lib_chain_test.js /path/to/cocoon /path/to/client_lib_chain_test
'use strict';
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');

const [COCOON, PROG] = process.argv.slice(2);
const ROOT = path.resolve(__dirname, '..', '..');
const LT = path.join(ROOT, 'localton', 'node_modules');
if (!fs.existsSync(path.join(LT, '@ton', 'ton')) ||
    !fs.existsSync(path.join(ROOT, 'contracts', 'node_modules', '@ton', 'core'))) {
  console.log('skip - localton/ or contracts/ npm packages missing (npm ci in both)');
  process.exit(77);
}
const { beginCell, internal, toNano, Address } = require(path.join(LT, '@ton', 'core'));
const { TonClient, WalletContractV5R1 } = require(path.join(LT, '@ton', 'ton'));
const { keyPairFromSeed } = require(path.join(LT, '@ton', 'crypto'));

const started = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

async function main() {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-libclient-chain-'));
  const kp = keyPairFromSeed(Buffer.alloc(32, 0x32));
  const owner = WalletContractV5R1.create({ workchain: 0, publicKey: kp.publicKey });
  const env = { ...process.env, COCOON_ROOT_OWNER: owner.address.toRawString() };
  const up = childProcess.spawn(COCOON, ['up', '--chain', '--registry-refresh', '1', '--state', state],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  started.push(up);
  let upOut = '';
  let upErr = '';
  up.stdout.on('data', (d) => (upOut += d));
  up.stderr.on('data', (d) => (upErr += d));
  const upExited = new Promise((resolve) => up.on('exit', (code) => resolve(code)));
  await until('cocoon up', async () => /api_key: /.test(upOut), 60000);
  const addrs = JSON.parse(fs.readFileSync(path.join(state, 'localton', 'addresses.json'), 'utf8'));
  const api = /localton (http:\/\/127\.0\.0\.1:\d+\/api\/v2)/.exec(upErr)[1];
  const spec = `chain:${api}#${addrs.root}`;

  const prog = childProcess.spawn(PROG, [spec, path.join(state, 'fake-ca'), path.join(state, 'registry.json')],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(prog);
  let out = '';
  let err = '';
  prog.stdout.on('data', (d) => {
    out += d;
    process.stdout.write(d);
  });
  prog.stderr.on('data', (d) => (err += d));
  const progExited = new Promise((r) => prog.on('exit', (c, s) => r(c === null ? s : c)));
  await Promise.race([until('the program\'s first chain answer', async () => /CHAIN_OK/.test(out), 60000),
    progExited.then((c) => { throw new Error(`client_lib_chain_test exited early (${c}):\n${err.slice(-4000)}`); })]);
  assert(err.includes(`registry from root ${addrs.root} at ${api}`), 'the library read the root:\n' + err.slice(-3000));

  // The owner removes the worker image from the root.
  const reg = JSON.parse(fs.readFileSync(path.join(state, 'registry.json'), 'utf8'));
  const img = reg.worker_image_hashes[0];
  const client = new TonClient({ endpoint: `${api}/jsonRPC` });
  const wallet = client.open(owner);
  const body = beginCell().storeUint(0x8d94a79a, 32).storeUint(1, 64).storeUint(BigInt('0x' + img), 256).endCell();
  await wallet.sendTransfer({ seqno: await wallet.getSeqno(), secretKey: kp.secretKey, sendMode: 3,
    messages: [internal({ to: Address.parseRaw(addrs.root), value: toNano('0.2'), body })] });
  prog.stdin.write('REMOVED\n');
  await Promise.race([until('the program\'s requests to fail', async () => /REFUSED/.test(out), 30000),
    progExited.then((c) => { throw new Error(`client_lib_chain_test exited early (${c}):\n${err.slice(-4000)}`); })]);
  // The library's own refresh (every second) reads the root without the worker image.
  await until('the library to log its registry update', async () => /libclient: registry updated: version/.test(err), 10000)
    .catch((e) => assert.fail(e.message + '\n' + err.slice(-3000)));
  prog.stdin.end('DONE\n');
  const code = await progExited;
  assert.strictEqual(code, 0, `client_lib_chain_test failed (${code}):\n${err.slice(-6000)}`);
  assert(/all passed/.test(out));
  assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(err), err.slice(-3000));
  console.log('ok - the library refreshed its registry from the root');

  up.kill('SIGTERM');
  assert.strictEqual(await upExited, 0);
  fs.rmSync(state, { recursive: true, force: true });
  console.log('ok - network stopped cleanly');
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
