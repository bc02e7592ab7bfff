// TON HTTP API v2 (toncenter-compatible) over a Chain: REST (GET/POST /api/v2/<method>) and
// JSON-RPC (POST /api/v2/jsonRPC), shapes as in ../shared/reference/contracts.md §C. The
// unmodified @ton/ton TonClient validates these responses with its own schemas.
import { Address, beginCell, Cell, external, loadMessage, storeMessage } from '@ton/core';

const ZERO_HASH = Buffer.alloc(32).toString('base64');

export class ApiError extends Error {
    constructor(code, message) {
        super(message);
        this.code = code;
    }
}

function parseAddress(s) {
    if (typeof s !== 'string' || !s) throw new ApiError(416, 'address is required');
    try {
        return Address.parse(s);
    } catch {
        throw new ApiError(416, `Incorrect address: ${s}`);
    }
}
const friendly = (a) => (a ? a.toString({ bounceable: true, urlSafe: true }) : '');

function parseHash(h) {
    if (h === undefined || h === null || h === '') return undefined;
    if (/^[0-9a-fA-F]{64}$/.test(h)) return Buffer.from(h, 'hex');
    const b = Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length !== 32) throw new ApiError(422, 'hash must be 32 bytes');
    return b;
}

function blockId(chain) {
    return {
        '@type': 'ton.blockIdExt', workchain: -1, shard: '-9223372036854775808', seqno: chain.seqno,
        root_hash: ZERO_HASH, file_hash: ZERO_HASH,
    };
}

function txId(lt, hash) {
    return { '@type': 'internal.transactionId', lt: lt.toString(), hash: hash.toString('base64') };
}

function bigintHash(h) {
    return Buffer.from(h.toString(16).padStart(64, '0'), 'hex');
}

async function accountInfo(chain, address) {
    const c = await chain.contract(address);
    const st = c.accountState;
    let state = 'uninitialized', code = '', data = '', frozen = '';
    if (st?.type === 'active') {
        state = 'active';
        code = st.state.code ? st.state.code.toBoc().toString('base64') : '';
        data = st.state.data ? st.state.data.toBoc().toString('base64') : '';
    } else if (st?.type === 'frozen') {
        state = 'frozen';
        frozen = bigintHash(st.stateHash).toString('base64');
    }
    const bal = c.balance < 0n ? 0n : c.balance;
    return { c, state, code, data, frozen, balance: bal, lt: c.lastTransactionLt, hash: bigintHash(c.lastTransactionHash) };
}

// Known wallet codes, by representation hash (toncenter detects them by code).
const WALLETS = {
    feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0: 'wallet v4 r2',
    '20834b7b72b112147e1b2fb457b84e74d1a30f04f737d4f62a668e9552d2b72f': 'wallet v5 r1',
};

// ---- stacks ----

function stackIn(items) {
    if (!Array.isArray(items)) return [];
    return items.map((it) => {
        const [t, v] = it;
        if (t === 'num' || t === 'int') {
            const s = String(v).trim();
            const neg = s.startsWith('-');
            const body = neg ? s.slice(1) : s;
            const n = BigInt(body);
            return { type: 'int', value: neg ? -n : n };
        }
        if (t === 'tvm.Cell' || t === 'cell') return { type: 'cell', cell: Cell.fromBase64(typeof v === 'string' ? v : v.bytes) };
        if (t === 'tvm.Slice' || t === 'slice') return { type: 'slice', cell: Cell.fromBase64(typeof v === 'string' ? v : v.bytes) };
        if (t === 'null') return { type: 'null' };
        throw new ApiError(422, `unsupported stack entry type ${t}`);
    });
}

function hexNum(n) {
    return n < 0n ? '-0x' + (-n).toString(16) : '0x' + n.toString(16);
}

function typedEntry(it) {
    switch (it.type) {
        case 'int': return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: it.value.toString() } };
        case 'cell': return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: it.cell.toBoc().toString('base64') } };
        case 'slice': case 'builder':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: it.cell.toBoc().toString('base64') } };
        case 'null': return { '@type': 'tvm.stackEntryList', list: { '@type': 'tvm.list', elements: [] } };
        case 'tuple': return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: it.items.map(typedEntry) } };
        default: throw new ApiError(500, `unsupported result stack entry ${it.type}`);
    }
}

function stackOut(items) {
    return items.map((it) => {
        switch (it.type) {
            case 'int': return ['num', hexNum(it.value)];
            case 'null': return ['null'];
            case 'cell': case 'slice': case 'builder':
                return ['cell', { bytes: it.cell.toBoc().toString('base64'), object: {} }];
            case 'tuple': return ['tuple', { '@type': 'tvm.tuple', elements: it.items.map(typedEntry) }];
            case 'nan': return ['num', 'NaN'];
            default: throw new ApiError(500, `unsupported result stack entry ${it.type}`);
        }
    });
}

// ---- transactions ----

function rawMessage(msg) {
    if (!msg) return null;
    const info = msg.info;
    const cell = beginCell().store(storeMessage(msg)).endCell();
    const internalMsg = info.type === 'internal';
    return {
        '@type': 'raw.message',
        hash: cell.hash().toString('base64'),
        source: internalMsg ? friendly(info.src) : '',
        destination: info.type === 'external-out' ? '' : friendly(info.dest),
        value: internalMsg ? info.value.coins.toString() : '0',
        extra_currencies: [],
        fwd_fee: internalMsg ? info.forwardFee.toString() : '0',
        ihr_fee: internalMsg ? info.ihrFee.toString() : '0',
        created_lt: internalMsg || info.type === 'external-out' ? info.createdLt.toString() : '0',
        body_hash: msg.body.hash().toString('base64'),
        msg_data: {
            '@type': 'msg.dataRaw',
            body: msg.body.toBoc().toString('base64'),
            init_state: msg.init ? beginCell().storeMaybeRef(msg.init.code).storeMaybeRef(msg.init.data)
                .endCell().toBoc().toString('base64') : '',
        },
        message: '',
    };
}

function rawTransaction(tx, address) {
    const storage = tx.description.type === 'generic' ? (tx.description.storagePhase?.storageFeesCollected ?? 0n) : 0n;
    const fee = tx.totalFees.coins;
    return {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: friendly(address) },
        utime: tx.now,
        data: tx.raw.toBoc().toString('base64'),
        transaction_id: txId(tx.lt, tx.hash()),
        fee: fee.toString(),
        storage_fee: storage.toString(),
        other_fee: (fee - storage).toString(),
        in_msg: rawMessage(tx.inMessage),
        out_msgs: [...tx.outMessages.values()].map(rawMessage),
    };
}

// TEP-467 normalized hash of an external-in message.
function normalizedHash(msg) {
    const norm = { info: { type: 'external-in', src: null, dest: msg.info.dest, importFee: 0n }, init: null, body: msg.body };
    return beginCell().store(storeMessage(norm, { forceRef: true })).endCell().hash();
}

// ---- methods ----

export function makeMethods(chain) {
    const m = {};
    m.getMasterchainInfo = async () => ({
        '@type': 'blocks.masterchainInfo', last: blockId(chain), state_root_hash: ZERO_HASH,
        init: { ...blockId(chain), seqno: 0 },
    });
    m.getAddressInformation = async (p) => {
        const a = await accountInfo(chain, parseAddress(p.address));
        return {
            '@type': 'raw.fullAccountState', balance: a.balance.toString(), extra_currencies: [],
            code: a.code, data: a.data, last_transaction_id: txId(a.lt, a.hash), block_id: blockId(chain),
            frozen_hash: a.frozen, sync_utime: chain.now(), state: a.state,
        };
    };
    m.getAddressBalance = async (p) => (await accountInfo(chain, parseAddress(p.address))).balance.toString();
    m.getAddressState = async (p) => (await accountInfo(chain, parseAddress(p.address))).state;
    m.getWalletInformation = async (p) => {
        const a = await accountInfo(chain, parseAddress(p.address));
        const res = {
            '@type': 'ext.wallet.info', wallet: false, balance: a.balance.toString(), extra_currencies: [],
            account_state: a.state, last_transaction_id: txId(a.lt, a.hash),
        };
        if (a.state === 'active') {
            const type = WALLETS[Cell.fromBase64(a.code).hash().toString('hex')];
            if (type) {
                const s = Cell.fromBase64(a.data).beginParse();
                res.wallet = true;
                res.wallet_type = type;
                if (type === 'wallet v5 r1') s.skip(1);
                res.seqno = s.loadUint(32);
                res.wallet_id = s.loadUint(32);
            }
        }
        return res;
    };
    m.runGetMethod = async (p) => {
        const address = parseAddress(p.address);
        const a = await accountInfo(chain, address);
        let method = p.method;
        if (typeof method === 'string' && /^-?\d+$/.test(method)) method = Number(method);
        const base = { '@type': 'smc.runResult', block_id: blockId(chain), last_transaction_id: txId(a.lt, a.hash) };
        try {
            const r = await chain.bc.runGetMethod(address, method, stackIn(p.stack));
            return { ...base, gas_used: Number(r.gasUsed), stack: stackOut(r.stack), exit_code: r.exitCode };
        } catch (e) {
            // the sandbox throws GetMethodError; toncenter reports the exit code in the result
            if (e && typeof e.exitCode === 'number') return { ...base, gas_used: Number(e.gasUsed ?? 0), stack: [], exit_code: e.exitCode };
            if (a.state !== 'active') return { ...base, gas_used: 0, stack: [], exit_code: -13 };
            throw e;
        }
    };
    const send = async (p) => {
        let cell;
        try {
            cell = Cell.fromBase64(p.boc);
        } catch {
            throw new ApiError(422, 'boc is not a valid base64 BOC');
        }
        const msg = loadMessage(cell.beginParse());
        if (msg.info.type !== 'external-in') throw new ApiError(422, 'only external-in messages can be sent');
        try {
            await chain.sendExternal(cell);
        } catch (e) {
            const code = typeof e?.exitCode === 'number' ? ` (exit code ${e.exitCode})` : '';
            throw new ApiError(500, `LITE_SERVER_UNKNOWN: cannot apply external message to current state : ${e.message ?? e}${code}`);
        }
        return { cell, msg };
    };
    m.sendBoc = async (p) => {
        await send(p);
        return { '@type': 'ok' };
    };
    m.sendBocReturnHash = async (p) => {
        const { cell, msg } = await send(p);
        return { '@type': 'raw.extMessageInfo', hash: cell.hash().toString('base64'), hash_norm: normalizedHash(msg).toString('base64') };
    };
    m.getTransactions = async (p) => {
        const address = parseAddress(p.address);
        const limit = Math.min(Number(p.limit ?? 10), 100);
        if (!(limit > 0)) throw new ApiError(422, 'limit must be positive');
        const toLt = BigInt(p.to_lt ?? 0);
        let txs = (await chain.transactions(address)).slice().sort((x, y) => (x.lt < y.lt ? 1 : x.lt > y.lt ? -1 : 0));
        if (p.lt !== undefined && p.lt !== null && p.lt !== '') {
            const lt = BigInt(p.lt);
            const hash = parseHash(p.hash);
            const i = txs.findIndex((t) => t.lt === lt);
            if (i < 0 || (hash && !txs[i].hash().equals(hash))) throw new ApiError(500, 'LITE_SERVER_UNKNOWN: transaction not found');
            txs = txs.slice(i);
        }
        return txs.filter((t) => t.lt > toLt).slice(0, limit).map((t) => rawTransaction(t, address));
    };
    m.estimateFee = async (p) => {
        // Emulated on a throw-away copy of the chain: the fees the external would pay now.
        const address = parseAddress(p.address);
        const body = p.body ? Cell.fromBase64(p.body) : Cell.EMPTY;
        const init = p.init_code ? { code: Cell.fromBase64(p.init_code), data: p.init_data ? Cell.fromBase64(p.init_data) : undefined } : undefined;
        const tx = await chain.emulate(async (bc) => {
            try {
                return (await bc.sendMessage(external({ to: address, init, body }))).transactions[0];
            } catch (e) {
                throw new ApiError(500, `LITE_SERVER_UNKNOWN: cannot estimate: ${e.message ?? e}`);
            }
        });
        const d = tx.description;
        const gas = d.computePhase?.type === 'vm' ? d.computePhase.gasFees : 0n;
        const storage = d.storagePhase?.storageFeesCollected ?? 0n;
        const fwd = d.actionPhase?.totalFwdFees ?? 0n;
        const total = tx.totalFees.coins;
        return {
            '@type': 'query.fees',
            source_fees: {
                '@type': 'fees', in_fwd_fee: Number(total - gas - storage - (d.actionPhase?.totalActionFees ?? 0n)),
                storage_fee: Number(storage), gas_fee: Number(gas), fwd_fee: Number(fwd),
            },
            destination_fees: [],
        };
    };
    m.getConfigParam = async (p) => {
        throw new ApiError(422, `getConfigParam ${p.config_id} is not served by localton`);
    };
    return m;
}

