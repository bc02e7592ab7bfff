// Wallet cases for crosscheck.test.mjs: signed externals built by @ton/ton's wallet contracts
// (v4r2, v5r1) and, for the COCOON wallet, by hand from ../shared/reference/contracts.md §A.6.
import { Address, beginCell, contractAddress, external, internal, storeMessage, storeMessageRelaxed, SendMode } from '@ton/core';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { keyPairFromSeed, sign } from '@ton/crypto';

export function walletCases({ ri, rbytes, describe, hex }) {
    const out = [];
    for (let i = 0; i < 18; i++) {
        const type = ['v5r1', 'v4r2', 'cocoon'][i % 3];
        const seed = rbytes(32);
        const kp = keyPairFromSeed(seed);
        const seqno = ri(2) === 0 ? 0 : 1 + ri(1000);
        const validUntil = 1700000000 + ri(1e8);
        const sendMode = [SendMode.PAY_GAS_SEPARATELY, SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS, SendMode.NONE][ri(3)];
        const nmsg = 1 + ri(type === 'v5r1' ? 6 : 4);
        const msgs = [];
        const descr = [];
        for (let m = 0; m < nmsg; m++) {
            const dest = new Address(0, rbytes(32));
            const value = BigInt(1 + ri(1e9));
            const bounce = ri(2) === 1;
            const body = ri(2) === 0 ? beginCell().storeUint(0, 32).storeStringTail('hello ' + m).endCell() : null;
            msgs.push(internal({ to: dest, value, bounce, body: body ?? undefined }));
            descr.push({ dest: dest.toRawString(), value: value.toString(), bounce, body: body ? describe(body) : null });
        }
        let msg, address, code = null, owner = null;
        if (type === 'v5r1' || type === 'v4r2') {
            const w = type === 'v5r1'
                ? WalletContractV5R1.create({ workchain: 0, publicKey: kp.publicKey })
                : WalletContractV4.create({ workchain: 0, publicKey: kp.publicKey });
            const body = w.createTransfer({ seqno, secretKey: kp.secretKey, messages: msgs, sendMode, timeout: validUntil });
            msg = beginCell().store(storeMessage(external({ to: w.address, init: seqno === 0 ? w.init : undefined, body }))).endCell();
            address = w.address;
            if (type === 'v4r2') code = describe(w.init.code);
        } else {
            const codeCell = beginCell().storeUint(0xc0c0, 16).storeRef(beginCell().storeUint(ri(1e6), 32).endCell()).endCell();
            const ownerAddr = new Address(0, rbytes(32));
            const data = beginCell().storeUint(0, 32).storeUint(0, 32).storeBuffer(kp.publicKey).storeUint(0, 32)
                .storeAddress(ownerAddr).endCell();
            const init = { code: codeCell, data };
            address = contractAddress(0, init);
            const signing = beginCell().storeUint(0, 32).storeUint(validUntil, 32).storeUint(seqno, 32);
            for (const m of msgs) signing.storeUint(sendMode, 8).storeRef(beginCell().store(storeMessageRelaxed(m)));
            const payload = signing.endCell();
            const body = beginCell().storeBuffer(sign(payload.hash(), kp.secretKey)).storeSlice(payload.beginParse()).endCell();
            msg = beginCell().store(storeMessage(external({ to: address, init: seqno === 0 ? init : undefined, body }))).endCell();
            code = describe(codeCell);
            owner = ownerAddr.toRawString();
        }
        out.push([
            { kind: 'wallet', type, seed: seed.toString('hex'), seqno, valid_until: validUntil, mode: sendMode, code, owner, messages: descr },
            { boc: hex(msg.toBoc()), hash: hex(msg.hash()), address: address.toRawString() },
        ]);
    }
    return out;
}

