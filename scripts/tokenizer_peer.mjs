// GPT-2 encoding speed of the npm peers on one file, single-threaded (node is single-threaded):
// gpt-tokenizer (r50k_base = GPT-2) and tiktoken (WASM, "gpt2"). Prints one JSON line per peer:
// {"peer": ..., "version": ..., "ids": N, "mb_s": best of REPS, "cold_mb_s": first run}.
//   node scripts/tokenizer_peer.mjs FILE REPS NODE_MODULES_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import path from 'node:path';

const [file, repsArg, modules] = process.argv.slice(2);
const reps = Number(repsArg || 5);
const text = readFileSync(file, 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');
const require = createRequire(path.join(path.resolve(modules), 'x.js'));

function measure(name, version, encode) {
    let best = Infinity, cold = 0, n = 0;
    for (let r = 0; r <= reps; r++) {
        const t0 = process.hrtime.bigint();
        const ids = encode(text);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        n = ids.length;
        if (r === 0) cold = s;
        else best = Math.min(best, s);
    }
    console.log(JSON.stringify({ peer: name, version, ids: n, mb_s: bytes / best / 1e6,
                                 cold_mb_s: bytes / cold / 1e6 }));
}

const gt = require('gpt-tokenizer/cjs/encoding/r50k_base');
const gtVersion = JSON.parse(readFileSync(join(modules, 'gpt-tokenizer', 'package.json'), 'utf8')).version;
measure('gpt-tokenizer', gtVersion, (t) => gt.encode(t));
const { get_encoding } = require('tiktoken');
const enc = get_encoding('gpt2');
const tkVersion = JSON.parse(readFileSync(join(modules, 'tiktoken', 'package.json'), 'utf8')).version;
measure('tiktoken', tkVersion, (t) => enc.encode_ordinary(t));
enc.free();
