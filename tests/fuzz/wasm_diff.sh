#!/bin/sh
# wasm_diff.sh -- differential check of zenith_wasm.h against V8 (Node.js) on random valid modules.
#
#   tests/fuzz/wasm_diff.sh [-n MODULES] [-s SEED] [-o OUT_DIR] [-k]   (from the repository's root;
#                                                          defaults 200, 1, build/fuzz/wasm_diff)
#
# For module i, SEED and i pick random bytes (deterministic: the same SEED gives the same modules),
# and binaryen's translate-to-fuzz turns them into a valid module (`wasm-opt -ttf --denan`, with
# only the features zenith_wasm.h implements: MVP, sign-extension, non-trapping float-to-int,
# multi-value, mutable globals). Every exported function is then called twice, with all-zero
# arguments and with fixed ones (i32/i64 -1, f32 1.5, f64 -2.25), each call in a fresh instance:
# once by examples/wasm_run (--stub-imports), once by V8 in a child node process. The module's
# imports are binaryen's fuzzing-support.log-{i32,i64,f32,f64}: both sides print every logged
# value, so the values computed along the way are compared too, not only the results.
#
# -k keeps NaNs (no --denan): then a NaN's bits may reach an integer through a reinterpret or a
# store and a load, and such a mismatch needs a look before it is called a bug (x86 and V8 make
# the same NaNs as Zenith in practice, so there are few).
#
# A call matches when both sides log the same values and return the same results, or trap for
# the same reason. Legitimate differences, counted apart and not compared:
#   - NaN: any NaN equals any NaN (the bits of an arithmetic NaN are not specified; --denan
#     already turns most of them into 0);
#   - resource exhaustion: a call that exhausts the stack on either side (V8's RangeError,
#     Zenith's call-depth or value-stack cap, whose sizes differ), or Zenith's fuel (wasm_run's
#     default budget), or a V8 child that runs over its time limit;
#   - V8 names "uninitialized element" and "indirect call type mismatch" with one message (null
#     function or function signature mismatch): the two count as one trap.
# Every mismatch saves the module as OUT_DIR/mismatch-SEED-i.wasm with OUT_DIR/mismatch-SEED-i.txt
# (the call, both outputs). Prints one line per mismatch and a total line; exits 1 on any mismatch,
# 0 otherwise, and 0 with one line when wasm-opt (Debian binaryen) or node is missing.
set -u

N=200
SEED=1
OUT=build/fuzz/wasm_diff
DENAN=--denan
while getopts n:s:o:k opt; do
    case $opt in
    n) N=$OPTARG ;;
    s) SEED=$OPTARG ;;
    o) OUT=$OPTARG ;;
    k) DENAN=keep ;;
    *) echo "usage: tests/fuzz/wasm_diff.sh [-n MODULES] [-s SEED] [-o OUT_DIR] [-k]" >&2; exit 2 ;;
    esac
done

for tool in wasm-opt node; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "wasm_diff: $tool missing (Debian packages binaryen, nodejs): skipped"
        exit 0
    fi
done
mkdir -p "$OUT" || exit 1
${CC:-cc} -O2 -I. examples/wasm_run.c -o "$OUT/wasm_run" -lm || exit 1

cat >"$OUT/wasm_diff.js" <<'EOF'
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

// ---- the V8 side: node wasm_diff.js --v8 FILE  -> one JSON line per call -----------------------
function readU32(b, pos) { // LEB128; returns [value, next position]
    let v = 0, shift = 0, c;
    do { c = b[pos++]; v += (c & 0x7f) * 2 ** shift; shift += 7; } while (c & 0x80);
    return [v, pos];
}
// The exported functions and their types, from the binary (the JS API does not say).
function exportedFuncs(b) {
    const types = [], funcTypes = [], out = [];
    let pos = 8;
    while (pos < b.length) {
        const id = b[pos++];
        let size; [size, pos] = readU32(b, pos);
        const end = pos + size;
        let p = pos, n;
        if (id === 1) {
            [n, p] = readU32(b, p);
            for (let i = 0; i < n; i++) {
                p++; // 0x60
                let np, nr; [np, p] = readU32(b, p);
                const params = Array.from(b.slice(p, p + np)); p += np;
                [nr, p] = readU32(b, p);
                const results = Array.from(b.slice(p, p + nr)); p += nr;
                types.push({ params, results });
            }
        } else if (id === 2) {
            [n, p] = readU32(b, p);
            for (let i = 0; i < n; i++) {
                let l; [l, p] = readU32(b, p); p += l; [l, p] = readU32(b, p); p += l;
                const kind = b[p++];
                if (kind === 0) { let t; [t, p] = readU32(b, p); funcTypes.push(t); }
                else if (kind === 1) { p++; const f = b[p++]; [, p] = readU32(b, p); if (f & 1) [, p] = readU32(b, p); }
                else if (kind === 2) { const f = b[p++]; [, p] = readU32(b, p); if (f & 1) [, p] = readU32(b, p); }
                else p += 2;
            }
        } else if (id === 3) {
            [n, p] = readU32(b, p);
            for (let i = 0; i < n; i++) { let t; [t, p] = readU32(b, p); funcTypes.push(t); }
        } else if (id === 7) {
            [n, p] = readU32(b, p);
            for (let i = 0; i < n; i++) {
                let l; [l, p] = readU32(b, p);
                const name = Buffer.from(b.slice(p, p + l)).toString('utf8'); p += l;
                const kind = b[p++];
                let idx; [idx, p] = readU32(b, p);
                if (kind === 0) out.push({ name, type: types[funcTypes[idx]] });
            }
        }
        pos = end;
    }
    return out;
}
const FIXED = { 0x7f: '-1', 0x7e: '-1', 0x7d: '1.5', 0x7c: '-2.25' };
function argStrings(type, set) { return type.params.map(t => (set === 0 ? '0' : FIXED[t])); }
function toJs(t, s) { return t === 0x7e ? BigInt(s) : Number(s); }
function show(v) { // a V8 value as a string Zenith's %.17g / %d can be compared with
    if (typeof v === 'bigint') return v.toString();
    if (Number.isNaN(v)) return 'nan';
    if (Object.is(v, -0)) return '-0';
    return String(v);
}
function v8Side(file) {
    const bytes = fs.readFileSync(file);
    const mod = new WebAssembly.Module(bytes);
    let log = [];
    const imports = {};
    for (const im of WebAssembly.Module.imports(mod)) {
        if (im.kind !== 'function' || im.module !== 'fuzzing-support' || !/^log-(i32|i64|f32|f64)$/.test(im.name))
            throw new Error('unexpected import ' + im.module + '.' + im.name);
        imports[im.module] = imports[im.module] || {};
        imports[im.module][im.name] = (x) => { log.push(`${im.module}.${im.name}(${show(x)})`); };
    }
    for (const f of exportedFuncs(bytes)) {
        for (const set of [0, 1]) {
            const args = argStrings(f.type, set);
            log = [];
            const rec = { name: f.name, set };
            try {
                const inst = new WebAssembly.Instance(mod, imports);
                let r = inst.exports[f.name](...args.map((s, i) => toJs(f.type.params[i], s)));
                if (f.type.results.length === 0) r = [];
                else if (f.type.results.length === 1) r = [r];
                rec.out = log.concat(r.map(show));
            } catch (e) {
                rec.out = log;
                rec.trap = e instanceof RangeError ? 'exhaustion' : String(e.message);
            }
            process.stdout.write(JSON.stringify(rec) + '\n');
        }
    }
}

// ---- the driver ---------------------------------------------------------------------------------
const TRAPS = [ // [V8's message, Zenith's strerror]: the same trap
    ['unreachable', 'unreachable executed'],
    ['memory access out of bounds', 'out of bounds memory access'],
    ['divide by zero', 'integer divide by zero'],
    ['remainder by zero', 'integer divide by zero'],
    ['divide result unrepresentable', 'integer overflow'],
    ['float unrepresentable in integer range', 'integer overflow'], // trunc of a float out of range
    ['float unrepresentable in integer range', 'invalid conversion to integer'], // trunc of a NaN
    ['table index is out of bounds', 'undefined element (table index out of bounds)'],
    ['null function or function signature mismatch', 'uninitialized element'],
    ['null function or function signature mismatch', 'indirect call type mismatch'],
];
function sameTrap(v8, zenith) {
    if (!v8 || !zenith) return !v8 && !zenith;
    return TRAPS.some(t => t[0] === v8 && t[1] === zenith);
}
// Values as printed: integers compared exactly, floats as numbers with -0 apart and NaN == NaN.
function sameValue(a, b, type) {
    const num = s => (/^-?nan$/.test(s) ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
    if (type === 0x7f || type === 0x7e) return /^-?\d+$/.test(a) && /^-?\d+$/.test(b) && BigInt(a) === BigInt(b);
    const x = num(a), y = num(b);
    return (Number.isNaN(x) && Number.isNaN(y)) || Object.is(x, y);
}
const LOG_TYPES = { 'log-i32': 0x7f, 'log-i64': 0x7e, 'log-f32': 0x7d, 'log-f64': 0x7c };
// One printed line of either side: a log call, or result k of the call.
function sameLine(a, b, resultType) {
    const m = /^fuzzing-support\.(log-...)\((.*)\)$/.exec(a), n = /^fuzzing-support\.(log-...)\((.*)\)$/.exec(b);
    if (m || n) return !!(m && n) && m[1] === n[1] && sameValue(m[2], n[2], LOG_TYPES[m[1]]);
    return resultType !== undefined && sameValue(a, b, resultType);
}
function rng(seed, i, len) {
    const out = Buffer.alloc(len);
    for (let off = 0, k = 0; off < len; k++) {
        const h = crypto.createHash('sha256').update(`${seed}/${i}/${k}`).digest();
        off += h.copy(out, off);
    }
    return out;
}
function driver(out, wasmRun, n, seed, denan) {
    const c = { modules: 0, refusedByBinaryen: 0, calls: 0, matched: 0, traps: 0, nanCalls: 0, resource: 0, mismatches: 0 };
    for (let i = 1; i <= n; i++) {
        const bin = path.join(out, 'in.bin'), file = path.join(out, `m-${seed}-${i}.wasm`);
        fs.writeFileSync(bin, rng(seed, i, 512 + ((i * 7919) % 7680)));
        const gen = spawnSync('wasm-opt', [bin, '-ttf', ...(denan ? ['--denan'] : []), '--mvp-features', '--enable-sign-ext',
            '--enable-nontrapping-float-to-int', '--enable-multivalue', '--enable-mutable-globals', '-o', file],
            { encoding: 'utf8' });
        if (gen.status !== 0) { c.refusedByBinaryen++; continue; }
        c.modules++;
        const v8 = spawnSync(process.execPath, [__filename, '--v8', file], { encoding: 'utf8', timeout: 60000, maxBuffer: 1 << 28 });
        const recs = (v8.stdout || '').split('\n').filter(Boolean).map(l => JSON.parse(l));
        const mismatch = (what, detail) => {
            c.mismatches++;
            const base = path.join(out, `mismatch-${seed}-${i}`);
            fs.copyFileSync(file, base + '.wasm');
            fs.appendFileSync(base + '.txt', `${what}\n${detail}\n\n`);
            console.log(`wasm_diff: MISMATCH module ${seed}-${i}: ${what} (${base}.wasm)`);
        };
        if (v8.status !== 0 && recs.length === 0) {
            if (v8.error && v8.error.code === 'ETIMEDOUT') { c.resource++; fs.unlinkSync(file); continue; }
            const z = spawnSync(wasmRun, ['--stub-imports', file, '-'], { encoding: 'utf8' });
            if (z.status !== 3) mismatch('V8 refused the module, Zenith loaded it', (v8.stderr || '').slice(0, 2000));
            fs.unlinkSync(file);
            continue;
        }
        const funcs = exportedFuncs(fs.readFileSync(file));
        for (const rec of recs) {
            const f = funcs.find(x => x.name === rec.name);
            const args = argStrings(f.type, rec.set);
            const z = spawnSync(wasmRun, ['--stub-imports', file, rec.name, ...args], { encoding: 'utf8', timeout: 60000, maxBuffer: 1 << 28 });
            c.calls++;
            const zout = (z.stdout || '').split('\n').filter(Boolean);
            const zerr = (z.stderr || '').trim();
            const ztrap = z.status === 2 ? zerr.replace(/^trap: /, '').replace(/ \(in the start function\)$/, '') : null;
            const call = `${rec.name}(${args.join(', ')})`;
            if ((z.error && z.error.code === 'ETIMEDOUT') || rec.trap === 'exhaustion' ||
                (ztrap && /^(call stack exhausted|fuel exhausted)/.test(ztrap))) { c.resource++; continue; }
            if (z.status !== 0 && z.status !== 2) {
                mismatch(`${call}: wasm_run exit ${z.status}`, zerr);
                continue;
            }
            let ok = sameTrap(rec.trap, ztrap) && zout.length === rec.out.length;
            const nlogs = zout.length - (ztrap ? 0 : f.type.results.length);
            for (let k = 0; ok && k < zout.length; k++)
                ok = sameLine(zout[k], rec.out[k], k >= nlogs ? f.type.results[k - nlogs] : undefined);
            if (!ok) {
                mismatch(`${call}: outputs differ`, `V8:     ${JSON.stringify(rec.out)} ${rec.trap ? 'trap: ' + rec.trap : ''}\n` +
                    `Zenith: ${JSON.stringify(zout)} ${ztrap ? 'trap: ' + ztrap : ''}`);
                continue;
            }
            c.matched++;
            if (ztrap) c.traps++;
            if (zout.some(s => /nan/.test(s))) c.nanCalls++;
        }
        fs.unlinkSync(file);
    }
    console.log(`wasm_diff: ${c.modules} modules (seed ${seed}${denan ? '' : ', NaNs kept'}; ${c.refusedByBinaryen} inputs refused by wasm-opt), ` +
        `${c.calls} calls: ${c.matched} matched (${c.traps} of them the same trap, ${c.nanCalls} with a NaN), ` +
        `${c.resource} resource-limited (not compared), ${c.mismatches} mismatches`);
    return c.mismatches === 0 ? 0 : 1;
}

if (process.argv[2] === '--v8') v8Side(process.argv[3]);
else process.exit(driver(process.argv[2], process.argv[3], +process.argv[4], process.argv[5], process.argv[6] === '--denan'));
EOF
exec node "$OUT/wasm_diff.js" "$OUT" "$OUT/wasm_run" "$N" "$SEED" "$DENAN"
