// The unmodified @ton/ton TonClient against localton: faucet, balance, deploy and transfer from a
// v5r1 wallet, get-methods, transactions; then kill -9 and restart from the same state
// directory and compare balances, seqnos and transaction lt/hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Address, internal, toNano } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { TonClient, WalletContractV5R1 } from '@ton/ton';
import { startLocalton } from './helpers.mjs';


async function post(url, body) {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = await r.json();
    if (!j.ok) throw new Error(j.error);
    return j.result;
}

async function snapshotOf(client, addrs) {
    const out = {};
    for (const a of addrs) {
        const st = await client.getContractState(a);
        const txs = await client.getTransactions(a, { limit: 20 });
        out[a.toString()] = {
            balance: st.balance.toString(), state: st.state,
            txs: txs.map((t) => `${t.lt}:${t.hash().toString('hex')}`),
        };
    }
    return out;
}

test('TonClient works against localton and state survives kill -9', { timeout: 120000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localton-'));
    let { child, url } = await startLocalton(dir);
    try {
        const client = new TonClient({ endpoint: `${url}/api/v2/jsonRPC` });
        const kp = keyPairFromSeed(Buffer.alloc(32, 7));
        const wallet = client.open(WalletContractV5R1.create({ workchain: 0, publicKey: kp.publicKey }));
        const dest = new Address(0, Buffer.alloc(32, 0x42));

        await post(`${url}/localton/faucet`, { address: wallet.address.toString(), amount: toNano('10').toString() });
        assert.equal(await client.getBalance(wallet.address), toNano('10'));
        assert.equal((await client.getContractState(wallet.address)).state, 'uninitialized');

        await wallet.sendTransfer({ seqno: 0, secretKey: kp.secretKey, messages: [internal({ to: dest, value: toNano('1'), bounce: false })] });
        assert.equal(await wallet.getSeqno(), 1);
        const destBalance = (await client.getContractState(dest)).balance;
        assert.ok(destBalance > toNano('0.99') && destBalance <= toNano('1'), `dest got ${destBalance}`);
        const pk = await client.runMethod(wallet.address, 'get_public_key');
        assert.equal(pk.stack.readBigNumber(), BigInt('0x' + kp.publicKey.toString('hex')));
        const unknown = await client.runMethodWithError(wallet.address, 'no_such_method');
        assert.notEqual(unknown.exit_code, 0);

        const txs = await client.getTransactions(wallet.address, { limit: 10 });
        assert.equal(txs.length, 2); // faucet credit, then the external transfer
        assert.equal(txs[0].inMessage.info.type, 'external-in');
        assert.ok(txs[0].lt > txs[1].lt);
        // paging: TonClient asks for limit+1 starting at (lt, hash) and drops that first one
        const page = await client.getTransactions(wallet.address, { limit: 1, lt: txs[0].lt.toString(), hash: txs[0].hash().toString('base64') });
        assert.equal(page.length, 1);
        assert.equal(page[0].hash().toString('hex'), txs[1].hash().toString('hex'));

        // a replayed external is refused (seqno already used)
        await assert.rejects(wallet.sendTransfer({ seqno: 0, secretKey: kp.secretKey, messages: [internal({ to: dest, value: 1n })] }));

        const before = await snapshotOf(client, [wallet.address, dest]);
        const t0 = (await post(`${url}/localton/status`, {})).now;
        const adv = await post(`${url}/localton/advanceTime`, { seconds: 3600 });
        assert.ok(adv.now >= t0 + 3600);

        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        ({ child, url } = await startLocalton(dir));
        const client2 = new TonClient({ endpoint: `${url}/api/v2/jsonRPC` });
        assert.deepEqual(await snapshotOf(client2, [wallet.address, dest]), before);
        assert.equal(await client2.open(WalletContractV5R1.create({ workchain: 0, publicKey: kp.publicKey })).getSeqno(), 1);
        assert.ok((await post(`${url}/localton/status`, {})).now >= t0 + 3600);
    } finally {
        child.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
