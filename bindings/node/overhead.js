'use strict';
// Call overhead from Node.js through koffi, one line: `node VERSION_NS PAIR_NS ECHO_NS POST_NS`
//   VERSION_NS  ns per zenith_version()
//   PAIR_NS     ns per pool acquire + release
//   ECHO_NS     ns per 64-byte echo round trip: a client connection to an echo server on the
//               same reactor, both driven by runOnce(0) from JS (mean of 20,000 after 2,000)
//   POST_NS     ns per message: a worker thread posts 200,000 (zenith_server_post, retrying on
//               ZENITH_E_FULL) while this thread runs runOnce until all reached the callback;
//               total wall time / messages
const path = require('path');
const { Worker } = require('worker_threads');
const z = require('./zenith.js');

function versionNs() {
  const ver = z.lib.func('long zenith_version()');
  const n = 2000000;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) ver();
  return Number(process.hrtime.bigint() - t) / n;
}

function pairNs() {
  const n = 2000000;
  const p = new z.Pool({ bufferSize: 4096, bufferCount: 1024 });
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) p.release(p.acquire());
  const ns = Number(process.hrtime.bigint() - t) / n;
  p.close();
  return ns;
}

function echoNs(warm = 2000, n = 20000) {
  const srv = new z.Server({}, { onData: (s, conn, buf) => s.send(conn, buf) });
  srv.start();
  let got = 0, up = false;
  const conn = srv.connect({
    address: '127.0.0.1', port: srv.port,
    onConnect: (s, c, status, err) => { if (err) throw err; up = true; },
    onData: (s, c, buf) => { got += buf.length; },
  });
  if (!srv.runUntil(() => up, 5000)) throw new Error('overhead: connect timed out');
  const msg = Buffer.alloc(64, 0x5a);
  const trip = () => {
    const want = got + 64;
    srv.send(conn, msg);
    const end = Date.now() + 5000;
    while (got < want) {
      srv.runOnce(0);
      if (Date.now() > end) throw new Error('overhead: echo timed out');
    }
  };
  for (let i = 0; i < warm; i++) trip();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) trip();
  const ns = Number(process.hrtime.bigint() - t) / n;
  srv.close();
  return ns;
}

function postNs(n = 200000) {
  const srv = new z.Server({ noListen: true }, { onData: () => {} });
  srv.start();
  let count = 0;
  const target = srv.postTarget(() => { count++; });
  const sync = new Int32Array(new SharedArrayBuffer(8)); // [0] worker ready, [1] go
  const code = `
    const { workerData } = require('worker_threads');
    const z = require(workerData.zenith);
    const p = new z.Poster(workerData.target);
    const sync = new Int32Array(workerData.sync);
    const b = Buffer.alloc(8);
    Atomics.store(sync, 0, 1);
    while (Atomics.load(sync, 1) === 0);
    for (let i = 0; i < workerData.n; i++) { b.writeUInt32LE(i, 0); while (!p.tryPost(b)); }`;
  const w = new Worker(code, { eval: true,
    workerData: { zenith: path.join(__dirname, 'zenith.js'), target, n, sync: sync.buffer } });
  let failed = null;
  w.on('error', (e) => { failed = e; });
  const ready = Date.now() + 10000;
  while (Atomics.load(sync, 0) === 0) if (Date.now() > ready) throw new Error('overhead: worker did not start');
  const t = process.hrtime.bigint();
  Atomics.store(sync, 1, 1);
  const end = Date.now() + 20000;
  while (count < n) {
    srv.runOnce(1);
    if (Date.now() > end) throw new Error(`overhead: ${count} of ${n} posts arrived`);
  }
  const ns = Number(process.hrtime.bigint() - t) / n;
  return new Promise((resolve, reject) => {
    w.on('exit', () => { srv.close(); if (failed) reject(failed); else resolve(ns); });
  });
}

(async () => {
  const v = versionNs();
  const p = pairNs();
  const e = echoNs();
  const q = await postNs();
  console.log(`node ${v.toFixed(1)} ${p.toFixed(1)} ${e.toFixed(1)} ${q.toFixed(1)}`);
})().catch((e) => { console.error(e); process.exit(1); });
