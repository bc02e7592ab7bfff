// End to end with the registry on chain: `cocoon up --chain` starts localton, deploys the root
// contract (genesis: the fake TD's image for proxy and workers, the model's hash, the proxy's
// two addresses, price 0) and runs the daemons with --registry chain:URL#ROOT. One chat request
// answers through client -> proxy -> worker with the registry read from the root; then the
// root's owner (a v5r1 wallet whose key this test holds, named through COCOON_ROOT_OWNER)
// removes the worker image from the root (root_del_worker_type, §A.2) and the proxy, refreshing
// every second, drops the workers and refuses them when they come back; the client's requests
// then fail. Skipped (77) without localton's and contracts' npm packages.
'use strict';
const assert = require('assert');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');

const COCOON = process.argv[2];
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(100);
  }
}

function chat(base, key) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + '/chat/completions');
    const data = JSON.stringify({ model: 'fortune-llama-7m', max_tokens: 4,
      messages: [{ role: 'user', content: 'Tell me a fortune' }] });
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + key } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error('request timeout')));
    req.end(data);
  });
}

async function main() {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-chain-'));
  const kp = keyPairFromSeed(Buffer.alloc(32, 0x31));
  const owner = WalletContractV5R1.create({ workchain: 0, publicKey: kp.publicKey });
  const env = { ...process.env, COCOON_ROOT_OWNER: owner.address.toRawString() };
  const up = childProcess.spawn(COCOON, ['up', '--chain', '--registry-refresh', '1', '--state', state],
    { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  up.stdout.on('data', (d) => (out += d));
  up.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => up.on('exit', (code, sig) => resolve({ code, sig })));
  const log = (name) => { try { return fs.readFileSync(path.join(state, name + '.log'), 'utf8'); } catch { return ''; } };
  try {
    const t0 = Date.now();
    await until('cocoon up to print base_url and api_key', async () => out.split('\n').length >= 3, 30000);
    const lines = out.trim().split('\n');
    assert.strictEqual(lines.length, 2, 'stdout is exactly two lines: ' + out);
    const base = lines[0].replace(/^base_url: /, '');
    const key = lines[1].replace(/^api_key: /, '');
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    console.log(`ok - cocoon up --chain ready in ${Date.now() - t0} ms`);

    // The daemons read the root deployed by the genesis on localton.
    const addrs = JSON.parse(fs.readFileSync(path.join(state, 'localton', 'addresses.json'), 'utf8'));
    assert.strictEqual(addrs.owner, owner.address.toRawString());
    for (const d of ['proxy', 'worker1', 'worker2', 'client']) {
      assert.ok(log(d).includes(`registry from root ${addrs.root} at http://127.0.0.1:`),
        `${d} reads the registry from the root:\n${log(d).slice(0, 2000)}`);
    }
    const r1 = await chat(base, key);
    assert.strictEqual(r1.status, 200, r1.body);
    const j = JSON.parse(r1.body);
    assert.ok(j.choices[0].message.content.length > 0);
    const reg = JSON.parse(fs.readFileSync(path.join(state, 'registry.json'), 'utf8'));
    const img = reg.worker_image_hashes[0];
    assert.strictEqual(r1.headers['x-cocoon-worker-image'], img);
    console.log(`ok - chat answered through the network with the registry from the root: ${JSON.stringify(j.choices[0].message.content)}`);

    // The owner removes the worker image from the root.
    const ltUrl = /localton (http:\/\/127\.0\.0\.1:\d+)\/api\/v2/.exec(err)[1];
    const client = new TonClient({ endpoint: `${ltUrl}/api/v2/jsonRPC` });
    const wallet = client.open(owner);
    const body = beginCell().storeUint(0x8d94a79a, 32).storeUint(1, 64).storeUint(BigInt('0x' + img), 256).endCell();
    await wallet.sendTransfer({ seqno: await wallet.getSeqno(), secretKey: kp.secretKey, sendMode: 3,
      messages: [internal({ to: Address.parseRaw(addrs.root), value: toNano('0.2'), body })] });
    await until('the proxy to drop the workers', async () => /no longer allowed by the registry/.test(log('proxy')));
    await until('the proxy to refuse a returning worker', async () =>
      /worker .* refused: .*image hash is not in the allowed list/.test(log('proxy')));
    const r2 = await chat(base, key);
    assert.notStrictEqual(r2.status, 200, 'no worker is allowed any more: ' + r2.body);
    assert.ok(log('client').includes('registry updated'), 'the client followed the root too');
    console.log(`ok - worker image removed from the root: workers dropped and refused, request -> ${r2.status}`);

    up.kill('SIGTERM');
    const res = await exited;
    assert.strictEqual(res.code, 0, 'cocoon up exits 0 on SIGTERM: ' + JSON.stringify(res) + err);
    for (const f of fs.readdirSync(state)) {
      if (!f.endsWith('.log')) continue;
      const t = fs.readFileSync(path.join(state, f), 'utf8');
      assert(!/ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(t), `sanitizer report in ${f}`);
    }
    console.log('ok - SIGTERM stops localton and the daemons');
    fs.rmSync(state, { recursive: true, force: true });
  } catch (e) {
    console.error(err);
    for (const d of ['localton', 'proxy', 'worker1', 'client']) console.error(`--- ${d}.log\n` + log(d).slice(-3000));
    up.kill('SIGKILL');
    throw e;
  }
}

main().catch((e) => {
  console.error('not ok -', e.stack || e);
  process.exit(1);
});
