'use strict';
// Call overhead from Node.js through koffi: ns per zenith_version() and per pool pair.
const z = require('./zenith.js');
const ver = z.lib.func('long zenith_version()');
const n = 2000000;
let t = process.hrtime.bigint();
for (let i = 0; i < n; i++) ver();
const v = Number(process.hrtime.bigint() - t) / n;
const p = new z.Pool({ bufferSize: 4096, bufferCount: 1024 });
t = process.hrtime.bigint();
for (let i = 0; i < n; i++) p.release(p.acquire());
const pp = Number(process.hrtime.bigint() - t) / n;
p.close();
console.log(`node ${v.toFixed(1)} ${pp.toFixed(1)}`);
