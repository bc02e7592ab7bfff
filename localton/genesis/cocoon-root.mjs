// Genesis step: deploys the COCOON root contract with the network parameters.
//
//   node server.mjs --state DIR --genesis genesis/cocoon-root.mjs --addresses addresses.json
//
// Environment:
//   COCOON_ROOT_OWNER   (required) the root owner's address (the operator's wallet)
//   COCOON_ROOT_PARAMS  optional JSON of CocoonParams overrides (contracts/lib/cocoon.js
//                       buildParams field names; coins as decimal strings)
//   COCOON_ROOT_REGISTRY optional JSON of the root's initial registry (stateinit.js registry-json:
//                       proxyHashes, workerHashes, modelHashes as hex, registeredProxies)
//   COCOON_ROOT_VALUE   nanotons the root starts with (default 1 TON)
//   COCOON_OWNER_FUND   nanotons credited to the owner from the faucet (default 100 TON)
// The root's code, data and the proxy/worker/client/wallet codes come from the contracts'
// own helper (contracts/scripts/stateinit.js), so the deployment is exactly what contracts/
// tests. Returns (and localton writes to --addresses) the addresses and code hashes the
// daemons need.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address, Cell } from '@ton/core';

const here = path.dirname(fileURLToPath(import.meta.url));
const contracts = path.resolve(here, '..', '..', 'contracts');

export default async function genesis(chain) {
    const owner = process.env.COCOON_ROOT_OWNER;
    if (!owner) throw new Error('COCOON_ROOT_OWNER is required for the cocoon-root genesis');
    const ownerAddr = Address.parse(owner);
    const params = process.env.COCOON_ROOT_PARAMS ?? '{}';
    const out = JSON.parse(execFileSync(process.execPath,
        [path.join(contracts, 'scripts', 'stateinit.js'), ownerAddr.toRawString(), params,
            process.env.COCOON_ROOT_REGISTRY ?? '{}'],
        { cwd: contracts, encoding: 'utf8', maxBuffer: 64 << 20 }));
    const init = { code: Cell.fromBase64(out.root.code), data: Cell.fromBase64(out.root.data) };
    const root = await chain.deploy(init, BigInt(process.env.COCOON_ROOT_VALUE ?? 1_000_000_000n));
    if (root.toRawString() !== out.root.address) throw new Error('root address mismatch');
    const fund = BigInt(process.env.COCOON_OWNER_FUND ?? 100_000_000_000n);
    if (fund > 0n) await chain.fund(ownerAddr, fund);
    const codeHashes = Object.fromEntries(Object.entries(out.codes).map(([k, v]) => [k, v.hash]));
    return {
        root: root.toRawString(),
        root_friendly: root.toString({ bounceable: true, urlSafe: true }),
        owner: ownerAddr.toRawString(),
        code_hashes: codeHashes,
        wallet_code: out.codes.wallet?.boc ?? null,
        created_at: chain.now(),
    };
}
