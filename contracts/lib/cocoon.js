'use strict';
// Deploy helpers and message builders for the COCOON contracts (shared/reference/contracts.md §A).
// Used by the tests here, and meant for localton's genesis and for C-side tests:
//   const c = require('contracts/lib/cocoon');
//   const codes = await c.loadCodes();
//   const root = c.rootStateInit(codes, { owner, params: c.defaultParams(codes) });  // {code, data, address}
// Every builder returns @ton/core Cells; layouts are documented in docs/contracts.md.
const { beginCell, Cell, Dictionary, contractAddress, Address } = require('@ton/core');
const { sign } = require('@ton/crypto');
const { loadCodes, compileTolk } = require('./compile');

const OP = {
    excesses: 0x2565934c,
    payout: 0xc59a7cd3,
    doNotProcess: 0x9a1247c0,
    // root
    rootAddWorkerType: 0xe34b1c60,
    rootDelWorkerType: 0x8d94a79a,
    rootAddModelType: 0xc146134d,
    rootDelModelType: 0x92b11c18,
    rootAddProxyType: 0x71860e80,
    rootDelProxyType: 0x3c41d0b2,
    rootRegisterProxy: 0x927c7cb5,
    rootUnregisterProxy: 0x6d49eaf2,
    rootUpdateProxy: 0x9c7924ba,
    rootChangePrice: 0xc52ed8d4,
    rootChangeParams: 0x022fa189,
    rootUpgradeContracts: 0xa2370f61,
    rootUpgrade: 0x11aefd51,
    rootReset: 0x563c1d96,
    rootUpgradeFull: 0x4f7c5789,
    rootChangeOwner: 0xc4a1ae54,
    // proxy
    workerProxyRequest: 0x4d725d2c,
    workerProxyPayoutRequest: 0x08e7d036,
    clientProxyRequest: 0x65448ff4,
    clientProxyTopUp: 0x5cfc6b87,
    clientProxyRegister: 0xa35cb580,
    clientProxyRefundGranted: 0xc68ebc7b,
    clientProxyRefundForce: 0xf4c354c9,
    extProxyPayoutRequest: 0x7610e6eb,
    extProxyIncreaseStake: 0x9713f187,
    extProxyCloseRequestSigned: 0x636a4391,
    extProxyCloseCompleteRequestSigned: 0xe511abc7,
    ownerProxyClose: 0xb51d5a01,
    proxySaveState: 0x53109c0f,
    // worker
    extWorkerPayoutRequestSigned: 0xa040ad28,
    extWorkerLastPayoutRequestSigned: 0xf5f26a36,
    ownerWorkerRegister: 0x26ed7f65,
    // client
    extClientTopUp: 0xf172e6c2,
    ownerClientChangeSecretHashAndTopUp: 0x8473b408,
    ownerClientRegister: 0xc45f9f3b,
    ownerClientChangeSecretHash: 0xa9357034,
    ownerClientIncreaseStake: 0x6a1f6a60,
    ownerClientWithdraw: 0xda068e78,
    ownerClientRequestRefund: 0xfafa6cc1,
    extClientChargeSigned: 0xbb63ff93,
    extClientGrantRefundSigned: 0xefd711e1,
    // wallet
    ownerWalletSendMessage: 0x9c69f376,
};

const ERR = {
    oldMessage: 1000, lowSmcBalance: 1001, lowBalance: 1002, lowMsgValue: 1003, msgFormatMismatch: 1004,
    signedMsgFormatMismatch: 1005, closed: 1006, badSignature: 1007, storedDataDamaged: 1008,
    expectedOwner: 1009, expectedMessageFromOwner: 1010, notUnlockedYet: 1011, unknownOp: 1012,
    unknownTextOp: 1013, contractAddressMismatch: 1014, expectedMyAddress: 1015, unknownProxyType: 2000,
    walletExpired: 1030, walletBlocked: 1031, walletBadSeqno: 1032, walletBadSubwallet: 1033,
    walletBadSignature: 1034, walletLowBalance: 1035, walletNotOwner: 1040, walletUnknownOp: 1041,
};

const EmptyValue = {
    serialize: () => {},
    parse: () => true,
};

// ProxyDesc = type:uint1 (0 = text) len:uint7 bytes (§A.2)
function proxyDescBits(text) {
    const bytes = Buffer.from(text, 'ascii');
    if (bytes.length > 127) throw new Error('proxy description too long');
    return beginCell().storeUint(0, 1).storeUint(bytes.length, 7).storeBuffer(bytes);
}

const ProxyDescValue = {
    serialize: (text, b) => { b.storeBuilder(proxyDescBits(text)); },
    parse: (s) => {
        s.loadUint(1);
        const len = s.loadUint(7);
        return s.loadBuffer(len).toString('ascii');
    },
};

function hashDict(hashes = []) {
    const d = Dictionary.empty(Dictionary.Keys.BigUint(256), EmptyValue);
    for (const h of hashes) d.set(BigInt(h), true);
    return d;
}

// CocoonParams struct version 3 (§A.1). Codes: pass null to leave out.
function buildParams(p) {
    const v = {
        structVersion: 3, paramsVersion: 0, uniqueId: 0, isTest: false,
        pricePerToken: 0n, workerFeePerToken: 0n,
        promptMult: 10000, cachedMult: 10000, completionMult: 10000, reasoningMult: 10000,
        proxyDelayBeforeClose: 0, clientDelayBeforeClose: 0, minProxyStake: 0n, minClientStake: 0n,
        proxyCode: null, workerCode: null, clientCode: null, ...p,
    };
    return beginCell()
        .storeUint(v.structVersion, 8).storeUint(v.paramsVersion, 32).storeUint(v.uniqueId, 32)
        .storeBit(v.isTest)
        .storeCoins(v.pricePerToken).storeCoins(v.workerFeePerToken)
        .storeUint(v.promptMult, 32).storeUint(v.cachedMult, 32)
        .storeUint(v.completionMult, 32).storeUint(v.reasoningMult, 32)
        .storeUint(v.proxyDelayBeforeClose, 32).storeUint(v.clientDelayBeforeClose, 32)
        .storeCoins(v.minProxyStake).storeCoins(v.minClientStake)
        .storeMaybeRef(v.proxyCode).storeMaybeRef(v.workerCode).storeMaybeRef(v.clientCode)
        .endCell();
}

function parseParams(cell) {
    const s = cell.beginParse();
    const v = {
        structVersion: s.loadUint(8), paramsVersion: s.loadUint(32), uniqueId: s.loadUint(32),
        isTest: s.loadBit(), pricePerToken: s.loadCoins(), workerFeePerToken: s.loadCoins(),
        promptMult: s.loadUint(32), cachedMult: s.loadUint(32), completionMult: s.loadUint(32),
        reasoningMult: s.loadUint(32), proxyDelayBeforeClose: s.loadUint(32),
        clientDelayBeforeClose: s.loadUint(32), minProxyStake: s.loadCoins(), minClientStake: s.loadCoins(),
        proxyCode: s.loadMaybeRef(), workerCode: s.loadMaybeRef(), clientCode: s.loadMaybeRef(),
    };
    s.endParse();
    return v;
}

// Params as stored by each contract (C++ serialize_params_cell mask): root 7, proxy 6, worker/client 0.
function paramsForProxy(rootParams) {
    return buildParams({ ...parseParams(rootParams), proxyCode: null });
}
function paramsNoCode(params) {
    return buildParams({ ...parseParams(params), proxyCode: null, workerCode: null, clientCode: null });
}

function defaultParams(codes, overrides = {}) {
    return buildParams({
        paramsVersion: 1, uniqueId: 42, isTest: true,
        pricePerToken: 1000n, workerFeePerToken: 800n,
        proxyDelayBeforeClose: 3600, clientDelayBeforeClose: 86400,
        minProxyStake: 10n ** 9n, minClientStake: 10n ** 9n,
        proxyCode: codes.proxy, workerCode: codes.worker, clientCode: codes.client,
        ...overrides,
    });
}

function stateInit(code, data) {
    return { code, data, address: contractAddress(0, { code, data }) };
}

// Root storage (§A.2): owner version ^data ^params
function rootData({ owner, version = 0, proxyHashes = [], workerHashes = [], modelHashes = [],
    registeredProxies = [], lastProxySeqno, params }) {
    const proxies = Dictionary.empty(Dictionary.Keys.Uint(32), ProxyDescValue);
    registeredProxies.forEach((text, i) => proxies.set(i + 1, text));
    const data = beginCell()
        .storeDict(hashDict(proxyHashes))
        .storeDict(proxies)
        .storeUint(lastProxySeqno ?? registeredProxies.length, 32)
        .storeDict(hashDict(workerHashes))
        .storeDict(hashDict(modelHashes))
        .endCell();
    return beginCell().storeAddress(owner).storeUint(version, 32).storeRef(data).storeRef(params).endCell();
}

function rootStateInit(codes, opts) {
    return stateInit(codes.root, rootData(opts));
}

function parseRootData(cell) {
    const s = cell.beginParse();
    const owner = s.loadAddress();
    const version = s.loadUint(32);
    const d = s.loadRef().beginParse();
    const params = s.loadRef();
    s.endParse();
    const proxyHashes = d.loadDict(Dictionary.Keys.BigUint(256), EmptyValue);
    const registeredProxies = d.loadDict(Dictionary.Keys.Uint(32), ProxyDescValue);
    const lastProxySeqno = d.loadUint(32);
    const workerHashes = d.loadDict(Dictionary.Keys.BigUint(256), EmptyValue);
    const modelHashes = d.loadDict(Dictionary.Keys.BigUint(256), EmptyValue);
    d.endParse();
    return {
        owner, version, lastProxySeqno, params: parseParams(params),
        proxyHashes: proxyHashes.keys(), workerHashes: workerHashes.keys(), modelHashes: modelHashes.keys(),
        registeredProxies: Object.fromEntries(registeredProxies.keys().map((k) => [k, registeredProxies.get(k)])),
    };
}

// Proxy initial data (C++ ProxyContract::init_data_cell): owner pubkey root 0 0 0 0 ^params(mask 6)
function proxyData({ owner, publicKey, root, rootParams }) {
    return beginCell()
        .storeAddress(owner).storeBuffer(publicKey, 32).storeAddress(root)
        .storeUint(0, 2).storeCoins(0).storeCoins(0).storeUint(0, 32)
        .storeRef(paramsForProxy(rootParams))
        .endCell();
}

function proxyStateInit(rootParams, opts) {
    return stateInit(parseParams(rootParams).proxyCode, proxyData({ ...opts, rootParams }));
}

function workerData({ owner, proxy, publicKey, params }) {
    return beginCell()
        .storeAddress(owner).storeAddress(proxy).storeBuffer(publicKey, 32)
        .storeUint(0, 2).storeUint(0, 64).storeRef(paramsNoCode(params))
        .endCell();
}

function workerStateInit(rootParams, opts) {
    return stateInit(parseParams(rootParams).workerCode, workerData({ ...opts, params: rootParams }));
}

function clientData({ owner, proxy, publicKey, params }) {
    const consts = beginCell().storeAddress(owner).storeAddress(proxy).storeBuffer(publicKey, 32).endCell();
    return beginCell()
        .storeUint(0, 2).storeCoins(0).storeCoins(parseParams(params).minClientStake)
        .storeUint(0, 64).storeUint(0, 32).storeUint(0, 256)
        .storeRef(consts).storeRef(paramsNoCode(params))
        .endCell();
}

function clientStateInit(rootParams, opts) {
    return stateInit(parseParams(rootParams).clientCode, clientData({ ...opts, params: rootParams }));
}

// Cocoon wallet data (§A.6): seqno subwallet pubkey status owner
function walletData({ publicKey, owner, seqno = 0, subwalletId = 0, status = 0 }) {
    return beginCell().storeUint(seqno, 32).storeUint(subwalletId, 32).storeBuffer(publicKey, 32)
        .storeUint(status, 32).storeAddress(owner).endCell();
}

function walletStateInit(codes, opts) {
    return stateInit(codes.wallet, walletData(opts));
}

// ---- message bodies ----

function qidBody(op, queryId = 0) {
    return beginCell().storeUint(op, 32).storeUint(queryId, 64);
}

const root = {
    hashOp: (op, hash, queryId = 0) => qidBody(op, queryId).storeUint(BigInt(hash), 256).endCell(),
    registerProxy: (text, queryId = 0) => qidBody(OP.rootRegisterProxy, queryId).storeBuilder(proxyDescBits(text)).endCell(),
    unregisterProxy: (seqno, queryId = 0) => qidBody(OP.rootUnregisterProxy, queryId).storeUint(seqno, 32).endCell(),
    updateProxy: (seqno, text, queryId = 0) =>
        qidBody(OP.rootUpdateProxy, queryId).storeUint(seqno, 32).storeBuilder(proxyDescBits(text)).endCell(),
    changePrice: (price, workerFee, queryId = 0) =>
        qidBody(OP.rootChangePrice, queryId).storeCoins(price).storeCoins(workerFee).endCell(),
    changeParams: (p, queryId = 0) => qidBody(OP.rootChangeParams, queryId)
        .storeCoins(p.pricePerToken).storeCoins(p.workerFeePerToken)
        .storeUint(p.proxyDelayBeforeClose, 32).storeUint(p.clientDelayBeforeClose, 32)
        .storeCoins(p.minProxyStake).storeCoins(p.minClientStake).endCell(),
    upgradeContracts: (proxyCode, workerCode, clientCode, queryId = 0) => qidBody(OP.rootUpgradeContracts, queryId)
        .storeRef(proxyCode).storeRef(workerCode).storeRef(clientCode).endCell(),
    upgrade: (code, queryId = 0) => qidBody(OP.rootUpgrade, queryId).storeRef(code).endCell(),
    reset: (queryId = 0) => qidBody(OP.rootReset, queryId).endCell(),
    upgradeFull: (data, code, queryId = 0) => qidBody(OP.rootUpgradeFull, queryId).storeRef(data).storeRef(code).endCell(),
    changeOwner: (owner, queryId = 0) => qidBody(OP.rootChangeOwner, queryId).storeAddress(owner).endCell(),
};

const proxy = {
    payoutRequest: (sendExcessesTo, queryId = 0) =>
        qidBody(OP.extProxyPayoutRequest, queryId).storeAddress(sendExcessesTo).endCell(),
    increaseStake: (grams, sendExcessesTo, queryId = 0) =>
        qidBody(OP.extProxyIncreaseStake, queryId).storeCoins(grams).storeAddress(sendExcessesTo).endCell(),
    ownerClose: (sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerProxyClose, queryId).storeAddress(sendExcessesTo).endCell(),
    text: (ch) => beginCell().storeUint(0, 32).storeUint(ch.charCodeAt(0), 8).endCell(),
    closeRequestPayload: (expectedMyAddress, queryId = 0) =>
        qidBody(OP.extProxyCloseRequestSigned, queryId).storeAddress(expectedMyAddress).endCell(),
    closeCompletePayload: (expectedMyAddress, queryId = 0) =>
        qidBody(OP.extProxyCloseCompleteRequestSigned, queryId).storeAddress(expectedMyAddress).endCell(),
    saveState: (seqno, uniqueHash, queryId = 0) => qidBody(OP.doNotProcess, queryId)
        .storeUint(OP.proxySaveState, 32).storeInt(seqno, 32).storeUint(BigInt(uniqueHash), 256).endCell(),
};

const worker = {
    register: (sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerWorkerRegister, queryId).storeAddress(sendExcessesTo).endCell(),
    payoutPayload: (newTokens, expectedMyAddress, queryId = 0, last = false) =>
        qidBody(last ? OP.extWorkerLastPayoutRequestSigned : OP.extWorkerPayoutRequestSigned, queryId)
            .storeUint(newTokens, 64).storeAddress(expectedMyAddress).endCell(),
};

const client = {
    topUp: (amount, sendExcessesTo, queryId = 0) =>
        qidBody(OP.extClientTopUp, queryId).storeCoins(amount).storeAddress(sendExcessesTo).endCell(),
    changeSecretHashAndTopUp: (amount, secretHash, sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientChangeSecretHashAndTopUp, queryId).storeCoins(amount)
            .storeUint(BigInt(secretHash), 256).storeAddress(sendExcessesTo).endCell(),
    register: (nonce, sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientRegister, queryId).storeUint(nonce, 64).storeAddress(sendExcessesTo).endCell(),
    changeSecretHash: (secretHash, sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientChangeSecretHash, queryId).storeUint(BigInt(secretHash), 256)
            .storeAddress(sendExcessesTo).endCell(),
    increaseStake: (newStake, sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientIncreaseStake, queryId).storeCoins(newStake).storeAddress(sendExcessesTo).endCell(),
    withdraw: (sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientWithdraw, queryId).storeAddress(sendExcessesTo).endCell(),
    requestRefund: (sendExcessesTo, queryId = 0) =>
        qidBody(OP.ownerClientRequestRefund, queryId).storeAddress(sendExcessesTo).endCell(),
    chargePayload: (newTokensUsed, expectedMyAddress, queryId = 0) =>
        qidBody(OP.extClientChargeSigned, queryId).storeUint(newTokensUsed, 64)
            .storeAddress(expectedMyAddress).endCell(),
    grantRefundPayload: (newTokensUsed, expectedMyAddress, queryId = 0) =>
        qidBody(OP.extClientGrantRefundSigned, queryId).storeUint(newTokensUsed, 64)
            .storeAddress(expectedMyAddress).endCell(),
};

// Signed wrapper (§A.8): op query_id send_excesses_to signature:512 ^payload; Ed25519 over payload hash.
// The wrapper's op and query_id are taken from the payload, as the contracts require them equal.
function signedWrapper(payload, secretKey, sendExcessesTo, { signature } = {}) {
    const ps = payload.beginParse();
    const op = ps.loadUint(32);
    const queryId = ps.loadUintBig(64);
    const sig = signature ?? sign(payload.hash(), secretKey);
    return beginCell().storeUint(op, 32).storeUint(queryId, 64).storeAddress(sendExcessesTo)
        .storeBuffer(sig).storeRef(payload).endCell();
}

// Cocoon wallet external body (§A.6): signature | subwallet valid_until seqno | (mode ^msg)*
function walletExternalBody({ secretKey, seqno, validUntil, subwalletId = 0, messages = [] }) {
    let b = beginCell().storeUint(subwalletId, 32).storeUint(validUntil, 32).storeUint(seqno, 32);
    for (const { mode, message } of messages) b = b.storeUint(mode, 8).storeRef(message);
    const unsigned = b.endCell();
    const sig = sign(unsigned.hash(), secretKey);
    return beginCell().storeBuffer(sig).storeSlice(unsigned.beginParse()).endCell();
}

// Deploy the root through `via`: anything with send({to, value, init, bounce}) -> result, e.g. a
// sandbox treasury (SandboxContract<TreasuryContract>). Returns {code, data, address, result}.
async function deployRoot(via, codes, opts, value = 1_000_000_000n) {
    const si = rootStateInit(codes, opts);
    const result = await via.send({ to: si.address, value, init: { code: si.code, data: si.data }, bounce: false });
    return { ...si, result };
}

module.exports = {
    OP, ERR, loadCodes, compileTolk, buildParams, parseParams, paramsForProxy, paramsNoCode, defaultParams,
    hashDict, proxyDescBits, rootData, rootStateInit, parseRootData, deployRoot,
    proxyData, proxyStateInit, workerData, workerStateInit, clientData, clientStateInit,
    walletData, walletStateInit, stateInit, signedWrapper, walletExternalBody,
    root, proxy, worker, client, Address, Cell,
};
