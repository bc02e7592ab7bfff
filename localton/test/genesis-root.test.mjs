// The cocoon-root genesis: the root contract is deployed by localton at genesis with the
// contracts' own StateInit, answers its get-methods through the unmodified TonClient, and the
// addresses file names it. Skipped when contracts/ has no node_modules (npm ci there).
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
const contractsReady = fs.existsSync(path.join(here, '..', '..', 'contracts', 'node_modules', '@ton', 'core'));

test('cocoon-root genesis deploys the root contract', { skip: !contractsReady && 'contracts/node_modules missing', timeout: 120000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localton-root-'));
    const addrs = path.join(dir, 'addresses.json');
    const owner = new Address(0, Buffer.alloc(32, 0x77));
    process.env.COCOON_ROOT_OWNER = owner.toString();
    const { child, url } = await startLocalton(path.join(dir, 'state'),
        ['--genesis', path.join(here, '..', 'genesis', 'cocoon-root.mjs'), '--addresses', addrs]);
    try {
        const out = JSON.parse(fs.readFileSync(addrs, 'utf8'));
        assert.equal(out.owner, owner.toRawString());
        const client = new TonClient({ endpoint: `${url}/api/v2/jsonRPC` });
        const root = Address.parse(out.root);
        const st = await client.getContractState(root);
        assert.equal(st.state, 'active');
        const r = await client.runMethod(root, 'get_cocoon_data');
        assert.equal(r.stack.readNumber(), 0); // version
        assert.equal(r.stack.readNumber(), 0); // last_proxy_seqno
        assert.equal(await client.getBalance(owner), 100_000_000_000n);
        assert.match(out.code_hashes.root, /^[0-9a-f]{64}$/);
    } finally {
        child.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
