'use strict';
// Shared test fixtures: a sandbox with the COCOON contracts deployed, and transaction matchers.
const assert = require('node:assert/strict');
const { Blockchain } = require('@ton/sandbox');
const { toNano, beginCell } = require('@ton/core');
const { keyPairFromSeed } = require('@ton/crypto');
const c = require('../lib/cocoon');

let codesPromise;
function codes() {
    codesPromise ??= c.loadCodes();
    return codesPromise;
}

function keyPair(seedByte) {
    return keyPairFromSeed(Buffer.alloc(32, seedByte));
}

function txFrom(tx) { return tx.inMessage?.info.src; }
function txTo(tx) { return tx.inMessage?.info.dest; }
function txOp(tx) {
    const body = tx.inMessage?.body.beginParse();
    if (!body || body.remainingBits < 32) return null;
    return body.loadUint(32);
}
function computeOf(tx) { return tx.description.computePhase; }
function exitCodeOf(tx) {
    const cp = computeOf(tx);
    return cp.type === 'vm' ? cp.exitCode : null;
}
function gasOf(tx) {
    const cp = computeOf(tx);
    return cp.type === 'vm' ? Number(cp.gasUsed) : 0;
}
function sameAddr(a, b) { return a && b && a.equals(b); }

// All transactions of `res` matching the filter.
function findTxs(res, { from, to, op } = {}) {
    return res.transactions.filter((tx) =>
        (from === undefined || sameAddr(txFrom(tx), from)) &&
        (to === undefined || sameAddr(txTo(tx), to)) &&
        (op === undefined || txOp(tx) === op));
}

function findTx(res, filter) {
    const txs = findTxs(res, filter);
    assert.ok(txs.length > 0, `no transaction matching ${JSON.stringify(describe(filter))}`);
    return txs[0];
}

function describe(f) {
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v?.toString?.() ?? v]));
}

// Asserts the transaction to `to` (from `from`) ran with the expected exit code and success.
function expectTx(res, filter, { exitCode = 0 } = {}) {
    const tx = findTx(res, filter);
    assert.equal(exitCodeOf(tx), exitCode, `exit code for ${JSON.stringify(describe(filter))}`);
    const success = tx.description.type === 'generic' && !tx.description.aborted;
    assert.equal(success, exitCode === 0, `success flag for ${JSON.stringify(describe(filter))}`);
    return tx;
}

async function getStack(bc, addr, method, args = []) {
    const r = await bc.runGetMethod(addr, method, args);
    return r.stackReader;
}

async function balanceOf(bc, addr) {
    return (await bc.getContract(addr)).balance;
}

// A network: root (owned by `rootOwner`), proxy (owned by `proxyOwner`, keys `proxyKeys`).
async function setup({ paramsOverrides = {}, now = 1_800_000_000, codes: k } = {}) {
    k ??= await codes();
    const bc = await Blockchain.create();
    bc.now = now;
    const rootOwner = await bc.treasury('rootOwner');
    const proxyOwner = await bc.treasury('proxyOwner');
    const stranger = await bc.treasury('stranger');
    const proxyKeys = keyPair(7);
    const params = c.defaultParams(k, paramsOverrides);
    const root = await c.deployRoot(rootOwner, k, {
        owner: rootOwner.address, params, workerHashes: [1n], proxyHashes: [2n], modelHashes: [3n],
        registeredProxies: ['127.0.0.1:8000'],
    });
    expectTx(root.result, { to: root.address });
    const net = { bc, codes: k, params, rootOwner, proxyOwner, stranger, proxyKeys, root };
    return net;
}

async function deployProxy(net, { stake = toNano('5'), keys = net.proxyKeys, params = net.params } = {}) {
    const si = c.proxyStateInit(params, { owner: net.proxyOwner.address, publicKey: keys.publicKey, root: net.root.address });
    const r1 = await net.proxyOwner.send({ to: si.address, value: toNano('0.3'), init: { code: si.code, data: si.data }, bounce: false });
    expectTx(r1, { to: si.address });
    if (stake > 0n) {
        const r2 = await net.proxyOwner.send({ to: si.address, value: stake + toNano('0.2'),
            body: c.proxy.increaseStake(stake, net.proxyOwner.address) });
        expectTx(r2, { to: si.address });
    }
    return si;
}

async function deployClient(net, proxySi, ownerName, { keys = net.proxyKeys, params = net.params } = {}) {
    const owner = await net.bc.treasury(ownerName);
    const si = c.clientStateInit(params, { owner: owner.address, proxy: proxySi.address, publicKey: keys.publicKey });
    const r = await owner.send({ to: si.address, value: toNano('0.8'), init: { code: si.code, data: si.data }, bounce: false });
    expectTx(r, { to: si.address });
    return { owner, ...si, result: r };
}

async function deployWorker(net, proxySi, ownerName, { keys = net.proxyKeys, params = net.params } = {}) {
    const owner = await net.bc.treasury(ownerName);
    const si = c.workerStateInit(params, { owner: owner.address, proxy: proxySi.address, publicKey: keys.publicKey });
    const r = await owner.send({ to: si.address, value: toNano('0.5'), init: { code: si.code, data: si.data }, bounce: false });
    expectTx(r, { to: si.address });
    return { owner, ...si };
}

async function proxyData(bc, addr) {
    const s = await getStack(bc, addr, 'get_cocoon_proxy_data');
    return {
        owner: s.readAddress(), publicKey: s.readBigNumber(), root: s.readAddress(), state: s.readNumber(),
        balance: s.readBigNumber(), stake: s.readBigNumber(), unlockTs: s.readNumber(),
        pricePerToken: s.readBigNumber(), workerFeePerToken: s.readBigNumber(), minProxyStake: s.readBigNumber(),
        minClientStake: s.readBigNumber(), paramsVersion: s.readNumber(),
    };
}

async function clientData(bc, addr) {
    const s = await getStack(bc, addr, 'get_cocoon_client_data');
    return {
        owner: s.readAddress(), proxy: s.readAddress(), publicKey: s.readBigNumber(), state: s.readNumber(),
        balance: s.readBigNumber(), stake: s.readBigNumber(), tokensUsed: s.readBigNumber(),
        unlockTs: s.readNumber(), secretHash: s.readBigNumber(),
    };
}

async function workerData(bc, addr) {
    const s = await getStack(bc, addr, 'get_cocoon_worker_data');
    return { owner: s.readAddress(), proxy: s.readAddress(), publicKey: s.readBigNumber(), state: s.readNumber(),
        tokens: s.readBigNumber() };
}

// Total value that left `from` towards `to` as payout messages in `res`.
function payoutsTo(res, to) {
    let sum = 0n;
    for (const tx of res.transactions) {
        for (const m of tx.outMessages.values()) {
            if (m.info.type !== 'internal' || !m.info.dest.equals(to)) continue;
            const b = m.body.beginParse();
            if (b.remainingBits >= 32 && b.loadUint(32) === c.OP.payout) sum += m.info.value.coins;
        }
    }
    return sum;
}

module.exports = {
    codes, keyPair, setup, deployProxy, deployClient, deployWorker, findTx, findTxs, expectTx, exitCodeOf,
    gasOf, getStack, balanceOf, proxyData, clientData, workerData, payoutsTo, toNano, beginCell, c,
};
