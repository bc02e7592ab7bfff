// The local chain: an @ton/sandbox Blockchain with a block counter, a movable clock and a
// durable snapshot written after every block (atomic rename + fsync), so a restart, even after
// kill -9, resumes with identical accounts and transaction history.
import fs from 'node:fs';
import path from 'node:path';
import { Address, beginCell, Cell, contractAddress } from '@ton/core';
import { Blockchain, internal, snapshotFromSerializable, snapshotToSerializable } from '@ton/sandbox';

const STATE_VERSION = 1;
// Coins for the faucet come from this fixed, never-deployed address; the sandbox accepts
// injected internal messages from any source.
export const FAUCET_ADDRESS = new Address(0, Buffer.alloc(32, 0xfa));

export class Chain {
    constructor(stateDir) {
        this.stateDir = stateDir;
        this.stateFile = stateDir ? path.join(stateDir, 'chain.json') : null;
        this.seqno = 0;          // masterchain-like block counter, +1 per block
        this.timeOffset = 0;     // seconds added to the wall clock by /localton/advanceTime
        this.genesis = null;     // what the genesis step returned (addresses for the daemons)
        this.bc = null;
        this.queue = Promise.resolve(); // one block at a time
    }

    static async open(stateDir) {
        const c = new Chain(stateDir);
        c.bc = await Blockchain.create();
        if (c.stateFile && fs.existsSync(c.stateFile)) {
            const st = JSON.parse(fs.readFileSync(c.stateFile, 'utf8'));
            if (st.version !== STATE_VERSION) throw new Error(`state version ${st.version} unsupported`);
            await c.bc.loadFrom(snapshotFromSerializable(st.snapshot));
            c.seqno = st.seqno;
            c.timeOffset = st.timeOffset;
            c.genesis = st.genesis ?? null;
            c.restored = true;
        }
        c.tick();
        return c;
    }

    now() {
        return Math.floor(Date.now() / 1000) + this.timeOffset;
    }

    // The sandbox reads bc.now for every transaction and get-method: keep it on our clock.
    tick() {
        this.bc.now = this.now();
    }

    // Serialize block production: fn runs with the chain to itself, then the block is sealed
    // and the state is on disk before the caller hears back.
    block(fn) {
        const run = this.queue.then(async () => {
            this.tick();
            const res = await fn(this.bc);
            this.seqno++;
            this.persist();
            return res;
        });
        this.queue = run.catch(() => {});
        return run;
    }

    // Run fn on the live chain and roll everything back afterwards (fee estimates).
    emulate(fn) {
        const run = this.queue.then(async () => {
            this.tick();
            const snap = this.bc.snapshot();
            try {
                return await fn(this.bc);
            } finally {
                await this.bc.loadFrom(snap);
            }
        });
        this.queue = run.catch(() => {});
        return run;
    }

    persist() {
        if (!this.stateFile) return;
        fs.mkdirSync(this.stateDir, { recursive: true });
        const st = {
            version: STATE_VERSION, seqno: this.seqno, timeOffset: this.timeOffset, genesis: this.genesis,
            snapshot: snapshotToSerializable(this.bc.snapshot()),
        };
        const tmp = this.stateFile + '.tmp';
        const fd = fs.openSync(tmp, 'w');
        fs.writeSync(fd, JSON.stringify(st));
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(tmp, this.stateFile);
        const dfd = fs.openSync(this.stateDir, 'r');
        fs.fsyncSync(dfd);
        fs.closeSync(dfd);
    }

    advanceTime(seconds) {
        return this.block(async () => {
            this.timeOffset += seconds;
            this.tick();
            return this.now();
        });
    }

    fund(address, amount) {
        return this.block(async (bc) => {
            const res = await bc.sendMessage(internal({
                from: FAUCET_ADDRESS, to: address, value: amount, bounce: false,
                body: beginCell().storeUint(0, 32).storeStringTail('localton faucet').endCell(),
            }));
            return res.transactions;
        });
    }

    sendExternal(cell) {
        return this.block(async (bc) => (await bc.sendMessage(cell)).transactions);
    }

    // Deploy code+data with value from the faucet (used by genesis steps).
    deploy(init, amount) {
        return this.block(async (bc) => {
            const address = contractAddress(0, init);
            await bc.sendMessage(internal({ from: FAUCET_ADDRESS, to: address, value: amount, bounce: false, stateInit: init }));
            return address;
        });
    }

    async contract(address) {
        this.tick();
        return this.bc.getContract(address);
    }

    async transactions(address) {
        return this.bc.getTransactions(address, { limit: 1 << 30 });
    }
}

export { Cell };
