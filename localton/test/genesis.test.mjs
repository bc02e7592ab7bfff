// The pluggable genesis runs once on a fresh state, its result is written to --addresses on
// every start, and a restart does not run it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address } from '@ton/core';
import { TonClient } from '@ton/ton';
import { startLocalton } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

test('genesis deploys once and publishes addresses', { timeout: 60000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localton-genesis-'));
    const addrs = path.join(dir, 'addresses.json');
    const args = ['--genesis', path.join(here, 'fixtures', 'genesis-wallet.mjs'), '--addresses', addrs];
    let { child, url } = await startLocalton(path.join(dir, 'state'), args);
    try {
        const out = JSON.parse(fs.readFileSync(addrs, 'utf8'));
        const client = new TonClient({ endpoint: `${url}/api/v2/jsonRPC` });
        const wallet = Address.parse(out.wallet);
        assert.equal((await client.getContractState(wallet)).state, 'active');
        assert.equal((await client.runMethod(wallet, 'seqno')).stack.readNumber(), 0);
        assert.equal(await client.getBalance(Address.parse(out.other)), 3_000_000_000n);
        const txs = (await client.getTransactions(wallet, { limit: 5 })).map((t) => t.lt);

        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        fs.rmSync(addrs);
        ({ child, url } = await startLocalton(path.join(dir, 'state'), args));
        assert.deepEqual(JSON.parse(fs.readFileSync(addrs, 'utf8')), out); // not re-run: same `at`
        const client2 = new TonClient({ endpoint: `${url}/api/v2/jsonRPC` });
        assert.deepEqual((await client2.getTransactions(wallet, { limit: 5 })).map((t) => t.lt), txs);
    } finally {
        child.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
