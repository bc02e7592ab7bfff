'use strict';
const { describe, it, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { setup, expectTx, getStack, toNano, beginCell, codes, c } = require('./helpers');

const { OP, ERR } = c;

async function rootState(net) {
    const contract = await net.bc.getContract(net.root.address);
    return c.parseRootData(contract.account.account.storage.state.state.data);
}

async function ownerSend(net, body, value = toNano('0.1')) {
    return net.rootOwner.send({ to: net.root.address, value, body });
}

describe('root', () => {
    let net;
    beforeEach(async () => { net = await setup(); });

    it('deploys with the reference layout and answers the reference get-methods', async () => {
        const s = await getStack(net.bc, net.root.address, 'get_cocoon_data');
        assert.equal(s.readNumber(), 0);                    // version
        assert.equal(s.readNumber(), 1);                    // last_proxy_seqno
        assert.equal(s.readNumber(), 1);                    // params_version
        assert.equal(s.readNumber(), 42);                   // unique_id
        assert.equal(s.readNumber(), -1);                   // is_test
        assert.equal(s.readBigNumber(), 1000n);             // price_per_token
        assert.equal(s.readBigNumber(), 800n);              // worker_fee_per_token
        assert.equal(s.readBigNumber(), toNano('1'));       // min_proxy_stake
        assert.equal(s.readBigNumber(), toNano('1'));       // min_client_stake
        assert.ok(s.readAddress().equals(net.rootOwner.address));

        const p = await getStack(net.bc, net.root.address, 'get_cur_params');
        const vals = [];
        for (let i = 0; i < 14; i++) vals.push(p.readBigNumber());
        const k = await codes();
        assert.deepEqual(vals.slice(0, 11), [1n, 42n, -1n, 1000n, 800n, 10000n, 10000n, 3600n, 86400n, toNano('1'), toNano('1')]);
        assert.equal(vals[11], BigInt('0x' + k.proxy.hash().toString('hex')));
        assert.equal(vals[12], BigInt('0x' + k.worker.hash().toString('hex')));
        assert.equal(vals[13], BigInt('0x' + k.client.hash().toString('hex')));

        for (const [m, good] of [['worker_hash_is_valid', 1n], ['proxy_hash_is_valid', 2n], ['model_hash_is_valid', 3n]]) {
            assert.equal((await getStack(net.bc, net.root.address, m, [{ type: 'int', value: good }])).readNumber(), -1);
            assert.equal((await getStack(net.bc, net.root.address, m, [{ type: 'int', value: 99n }])).readNumber(), 0);
        }
        assert.equal((await getStack(net.bc, net.root.address, 'last_proxy_seqno')).readNumber(), 1);
        const rp = await getStack(net.bc, net.root.address, 'get_registered_proxy', [{ type: 'int', value: 1n }]);
        assert.equal(rp.readNumber(), -1);
        const desc = rp.readCell().beginParse();
        assert.equal(desc.loadUint(1), 0);
        assert.equal(desc.loadBuffer(desc.loadUint(7)).toString(), '127.0.0.1:8000');
        const mult = await getStack(net.bc, net.root.address, 'get_price_multipliers');
        assert.deepEqual([mult.readNumber(), mult.readNumber(), mult.readNumber(), mult.readNumber()], [10000, 10000, 10000, 10000]);
        const pc = (await getStack(net.bc, net.root.address, 'get_params_cell')).readCell();
        assert.ok(pc.equals(net.params));
        const wh = (await getStack(net.bc, net.root.address, 'get_worker_hashes')).readCellOpt();
        assert.ok(wh.equals(beginCell().storeDictDirect(c.hashDict([1n])).endCell()));
        const none = await net.bc.runGetMethod(net.root.address, 'get_registered_proxy', [{ type: 'int', value: 5n }]);
        assert.equal(none.stackReader.readNumber(), 0);
    });

    it('adds and deletes worker, model and proxy image hashes; each bumps version', async () => {
        const cases = [
            [OP.rootAddWorkerType, 'workerHashes', 10n, true], [OP.rootDelWorkerType, 'workerHashes', 10n, false],
            [OP.rootAddModelType, 'modelHashes', 11n, true], [OP.rootDelModelType, 'modelHashes', 11n, false],
            [OP.rootAddProxyType, 'proxyHashes', 12n, true], [OP.rootDelProxyType, 'proxyHashes', 12n, false],
        ];
        let version = 0;
        for (const [op, field, h, present] of cases) {
            const r = await ownerSend(net, c.root.hashOp(op, h, 77));
            expectTx(r, { to: net.root.address, op });
            // excess back to the sender, same query id
            const ex = expectTx(r, { from: net.root.address, to: net.rootOwner.address, op: OP.excesses });
            assert.equal(ex.inMessage.body.beginParse().skip(32).loadUint(64), 77);
            const st = await rootState(net);
            assert.equal(st[field].includes(h), present, `${field} after op ${op.toString(16)}`);
            assert.equal(st.version, ++version);
        }
    });

    it('registers, updates and unregisters proxies', async () => {
        let r = await ownerSend(net, c.root.registerProxy('10.0.0.1:5000 10.0.0.1:5001'));
        expectTx(r, { to: net.root.address });
        let st = await rootState(net);
        assert.equal(st.lastProxySeqno, 2);
        assert.equal(st.registeredProxies[2], '10.0.0.1:5000 10.0.0.1:5001');
        r = await ownerSend(net, c.root.updateProxy(2, '10.0.0.2:6000'));
        expectTx(r, { to: net.root.address });
        assert.equal((await rootState(net)).registeredProxies[2], '10.0.0.2:6000');
        r = await ownerSend(net, c.root.updateProxy(9, '10.0.0.2:6000'));
        expectTx(r, { to: net.root.address }, { exitCode: ERR.unknownProxyType });
        r = await ownerSend(net, c.root.unregisterProxy(2));
        expectTx(r, { to: net.root.address });
        st = await rootState(net);
        assert.equal(st.registeredProxies[2], undefined);
        assert.equal(st.lastProxySeqno, 2);
        assert.equal(st.version, 3);
    });

    it('rejects a malformed proxy description (type 1, trailing bits, short)', async () => {
        const bad = [
            beginCell().storeUint(OP.rootRegisterProxy, 32).storeUint(0, 64).storeUint(1, 1).storeUint(1, 7).storeUint(65, 8).endCell(),
            beginCell().storeUint(OP.rootRegisterProxy, 32).storeUint(0, 64).storeUint(0, 1).storeUint(1, 7).storeUint(65, 9).endCell(),
            beginCell().storeUint(OP.rootRegisterProxy, 32).storeUint(0, 64).storeUint(0, 1).storeUint(2, 7).storeUint(65, 8).endCell(),
        ];
        for (const body of bad) {
            const r = await ownerSend(net, body);
            expectTx(r, { to: net.root.address }, { exitCode: ERR.msgFormatMismatch });
        }
    });

    it('changes price and params, bumping params_version', async () => {
        let r = await ownerSend(net, c.root.changePrice(2000n, 1500n));
        expectTx(r, { to: net.root.address });
        let st = await rootState(net);
        assert.equal(st.params.pricePerToken, 2000n);
        assert.equal(st.params.workerFeePerToken, 1500n);
        assert.equal(st.params.paramsVersion, 2);
        assert.equal(st.version, 1);
        const np = { pricePerToken: 3000n, workerFeePerToken: 100n, proxyDelayBeforeClose: 10, clientDelayBeforeClose: 20,
            minProxyStake: 5n, minClientStake: 6n };
        r = await ownerSend(net, c.root.changeParams(np));
        expectTx(r, { to: net.root.address });
        st = await rootState(net);
        for (const [key, v] of Object.entries(np)) assert.equal(st.params[key], v, key);
        assert.equal(st.params.paramsVersion, 3);
        assert.equal(st.params.uniqueId, 42);
        assert.equal(st.version, 2);
    });

    it('upgrades contract codes in params', async () => {
        const a = beginCell().storeUint(1, 8).endCell();
        const b = beginCell().storeUint(2, 8).endCell();
        const d = beginCell().storeUint(3, 8).endCell();
        const r = await ownerSend(net, c.root.upgradeContracts(a, b, d));
        expectTx(r, { to: net.root.address });
        const st = await rootState(net);
        assert.ok(st.params.proxyCode.equals(a) && st.params.workerCode.equals(b) && st.params.clientCode.equals(d));
        assert.equal(st.params.paramsVersion, 2);
    });

    it('resets the registry but keeps last_proxy_seqno', async () => {
        const r = await ownerSend(net, c.root.reset());
        expectTx(r, { to: net.root.address });
        const st = await rootState(net);
        assert.deepEqual([st.proxyHashes, st.workerHashes, st.modelHashes], [[], [], []]);
        assert.deepEqual(st.registeredProxies, {});
        assert.equal(st.lastProxySeqno, 1);
        assert.equal(st.version, 1);
    });

    it('changes owner; the old owner is then refused', async () => {
        let r = await ownerSend(net, c.root.changeOwner(net.stranger.address));
        expectTx(r, { to: net.root.address });
        assert.ok((await rootState(net)).owner.equals(net.stranger.address));
        r = await ownerSend(net, c.root.hashOp(OP.rootAddWorkerType, 5n));
        expectTx(r, { to: net.root.address }, { exitCode: ERR.expectedMessageFromOwner });
        r = await net.stranger.send({ to: net.root.address, value: toNano('0.1'), body: c.root.hashOp(OP.rootAddWorkerType, 5n) });
        expectTx(r, { to: net.root.address });
    });

    it('upgrades its own code without bumping version, and upgrade_full replaces data and code', async () => {
        const k = await codes();
        // upgrade to the same code: version unchanged, excess sent
        let r = await ownerSend(net, c.root.upgrade(k.root));
        expectTx(r, { to: net.root.address });
        expectTx(r, { from: net.root.address, to: net.rootOwner.address, op: OP.excesses });
        assert.equal((await rootState(net)).version, 0);
        const newData = c.rootData({ owner: net.rootOwner.address, version: 100, params: net.params, modelHashes: [9n] });
        r = await ownerSend(net, c.root.upgradeFull(newData, k.root));
        expectTx(r, { to: net.root.address });
        expectTx(r, { from: net.root.address, to: net.rootOwner.address, op: OP.excesses });
        const st = await rootState(net);
        assert.equal(st.version, 100);
        assert.deepEqual(st.modelHashes, [9n]);
        // a code upgrade really switches code
        const other = beginCell().storeUint(0xff00, 16).endCell(); // not executable; only checks set_code took effect
        r = await ownerSend(net, c.root.upgrade(other));
        expectTx(r, { to: net.root.address });
        const acc = await net.bc.getContract(net.root.address);
        assert.ok(acc.account.account.storage.state.state.code.equals(other));
    });

    it('refuses every op from a non-owner (1010) and unknown ops (1012)', async () => {
        const bodies = [
            c.root.hashOp(OP.rootAddWorkerType, 1n), c.root.registerProxy('1.2.3.4:5'), c.root.changePrice(1n, 1n),
            c.root.reset(), c.root.changeOwner(net.stranger.address), c.root.upgrade(beginCell().endCell()),
        ];
        for (const body of bodies) {
            const r = await net.stranger.send({ to: net.root.address, value: toNano('0.1'), body });
            expectTx(r, { to: net.root.address }, { exitCode: ERR.expectedMessageFromOwner });
        }
        const r = await ownerSend(net, beginCell().storeUint(0x12345678, 32).storeUint(0, 64).endCell());
        expectTx(r, { to: net.root.address }, { exitCode: ERR.unknownOp });
        assert.equal((await rootState(net)).version, 0);
    });

    it('ignores empty bodies and do_not_process from anyone', async () => {
        let r = await net.stranger.send({ to: net.root.address, value: toNano('0.1') });
        expectTx(r, { to: net.root.address });
        r = await net.stranger.send({ to: net.root.address, value: toNano('0.1'), body: beginCell().storeUint(OP.doNotProcess, 32).storeUint(1, 64).endCell() });
        expectTx(r, { to: net.root.address });
        assert.equal((await rootState(net)).version, 0);
    });

    it('throws stored_data_damaged (1008) on params of another struct version', async () => {
        const k = await codes();
        const p2 = c.buildParams({ ...c.parseParams(net.params), structVersion: 2 });
        const data = c.rootData({ owner: net.rootOwner.address, params: p2 });
        let r = await ownerSend(net, c.root.upgradeFull(data, k.root));
        expectTx(r, { to: net.root.address });
        r = await ownerSend(net, c.root.changePrice(1n, 1n));
        expectTx(r, { to: net.root.address }, { exitCode: ERR.storedDataDamaged });
    });
});
