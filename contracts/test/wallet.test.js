'use strict';
const { describe, it, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { Blockchain } = require('@ton/sandbox');
const { beginCell, toNano, storeMessageRelaxed, internal: internalMsg } = require('@ton/core');
const H = require('./helpers');

const { c, expectTx, keyPair } = H;
const { OP, ERR } = c;

function relaxed(to, value, body = beginCell().endCell(), bounce = true) {
    return beginCell().store(storeMessageRelaxed(internalMsg({ to, value, body, bounce }))).endCell();
}

describe('cocoon wallet', () => {
    let bc, k, keys, owner, stranger, w;
    beforeEach(async () => {
        k = await H.codes();
        bc = await Blockchain.create();
        bc.now = 1_800_000_000;
        keys = keyPair(21);
        owner = await bc.treasury('walletOwner');
        stranger = await bc.treasury('stranger');
        w = c.walletStateInit(k, { publicKey: keys.publicKey, owner: owner.address });
    });

    async function ext(body, withInit = false) {
        return bc.sendMessage({
            info: { type: 'external-in', dest: w.address, importFee: 0n },
            init: withInit ? { code: w.code, data: w.data } : undefined,
            body,
        });
    }
    const body = (seqno, messages = [], o = {}) => c.walletExternalBody({
        secretKey: o.secretKey ?? keys.secretKey, seqno, validUntil: o.validUntil ?? bc.now + 3600,
        subwalletId: o.subwalletId ?? 0, messages,
    });
    async function rejects(p, code) {
        await assert.rejects(p, (e) => { assert.match(String(e.message ?? e), new RegExp(`exit code ${code}`)); return true; });
    }

    it('deploys itself with the first external and sends; seqno guards replays', async () => {
        await stranger.send({ to: w.address, value: toNano('5'), bounce: false });     // fund the uninit address
        const m = [{ mode: 1, message: relaxed(stranger.address, toNano('1')) }];
        let r = await ext(body(0, m), true);
        expectTx(r, { to: stranger.address, from: w.address });
        assert.equal((await H.getStack(bc, w.address, 'seqno')).readNumber(), 1);
        assert.equal((await H.getStack(bc, w.address, 'get_public_key')).readBigNumber(), BigInt('0x' + keys.publicKey.toString('hex')));
        assert.ok((await H.getStack(bc, w.address, 'get_owner_address')).readAddress().equals(owner.address));
        await rejects(ext(body(0, m)), ERR.walletBadSeqno);                           // replay
        // up to 4 messages in one external
        const four = [1, 2, 3, 4].map((i) => ({ mode: 1, message: relaxed(stranger.address, BigInt(i) * 1000n) }));
        r = await ext(body(1, four));
        assert.equal(H.findTxs(r, { from: w.address, to: stranger.address }).length, 4);
    });

    it('refuses expired (1030), wrong subwallet (1033), bad signature (1034), low balance (1035)', async () => {
        await stranger.send({ to: w.address, value: toNano('1.5'), bounce: false });
        await rejects(ext(body(0, [], { validUntil: bc.now }), true), ERR.walletExpired);
        await rejects(ext(body(0, [], { subwalletId: 1 }), true), ERR.walletBadSubwallet);
        await rejects(ext(body(0, [], { secretKey: keyPair(22).secretKey }), true), ERR.walletBadSignature);
        await rejects(ext(body(0, []), true), ERR.walletLowBalance);                  // 1.5 TON < 2 TON
    });

    it('owner internal ops: send_message, block/unblock, "w"; strangers 1040; unknown 1041', async () => {
        await stranger.send({ to: w.address, value: toNano('5'), bounce: false });
        await ext(body(0), true);
        let r = await stranger.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0, 32).storeUint(0x62, 8).endCell() });
        expectTx(r, { to: w.address }, { exitCode: ERR.walletNotOwner });
        // excesses and payouts from anyone are accepted silently
        for (const op of [OP.excesses, OP.payout, OP.doNotProcess]) {
            r = await stranger.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(op, 32).storeUint(0, 64).endCell() });
            expectTx(r, { to: w.address });
        }
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0, 32).storeUint(0x62, 8).endCell() });
        expectTx(r, { to: w.address });
        assert.equal((await H.getStack(bc, w.address, 'get_status')).readNumber(), 1);
        await rejects(ext(body(1)), ERR.walletBlocked);
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0, 32).storeUint(0x75, 8).endCell() });
        expectTx(r, { to: w.address });
        await ext(body(1));
        const send = beginCell().storeUint(OP.ownerWalletSendMessage, 32).storeUint(0, 64).storeUint(1, 8)
            .storeRef(relaxed(stranger.address, toNano('0.5'))).endCell();
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: send });
        expectTx(r, { from: w.address, to: stranger.address });
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0, 32).storeUint(0x78, 8).endCell() });
        expectTx(r, { to: w.address }, { exitCode: ERR.walletUnknownOp });
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() });
        expectTx(r, { to: w.address }, { exitCode: ERR.walletUnknownOp });
        r = await owner.send({ to: w.address, value: toNano('0.1'), body: beginCell().storeUint(0, 32).storeUint(0x77, 8).endCell() });
        expectTx(r, { from: w.address, to: owner.address });
        assert.ok(await H.balanceOf(bc, w.address) <= toNano('0.01'));
    });

    it('drives a COCOON contract: deploys a proxy through the wallet', async () => {
        const net = await H.setup();
        const pk = keyPair(23);
        const ws = c.walletStateInit(net.codes, { publicKey: pk.publicKey, owner: net.proxyOwner.address });
        await net.stranger.send({ to: ws.address, value: toNano('5'), bounce: false });
        const psi = c.proxyStateInit(net.params, { owner: ws.address, publicKey: net.proxyKeys.publicKey, root: net.root.address });
        const deploy = beginCell().store(storeMessageRelaxed(internalMsg({ to: psi.address, value: toNano('0.3'), bounce: false,
            init: { code: psi.code, data: psi.data } }))).endCell();
        const b = c.walletExternalBody({ secretKey: pk.secretKey, seqno: 0, validUntil: net.bc.now + 3600, messages: [{ mode: 0, message: deploy }] });
        const r = await net.bc.sendMessage({ info: { type: 'external-in', dest: ws.address, importFee: 0n },
            init: { code: ws.code, data: ws.data }, body: b });
        expectTx(r, { from: ws.address, to: psi.address });
        assert.equal((await H.proxyData(net.bc, psi.address)).state, 0);
    });
});
