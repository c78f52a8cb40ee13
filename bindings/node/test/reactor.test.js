'use strict';
// The reactor from Node.js (node --test): an outbound connection to a server on the same loop
// with every byte verified (both backends), a refused connect, timers, posts from worker
// threads, backend choice and info, a UDP echo with receive timestamps, a multicast join on lo,
// and exceptions in callbacks. Loopback only, port 0, every wait bounded.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const z = require('../zenith.js');

const ZENITH_JS = path.join(__dirname, '..', 'zenith.js');
const BACKENDS = ['io_uring', 'epoll'];

function pattern(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

for (const backend of BACKENDS) {
  test(`${backend}: a client connects to a server on the same loop, bytes verified both ways`, () => {
    const got = new Map(); // conn -> Buffer[] (server side)
    const srv = new z.Server({ backend, bufferSize: 4096, bufferCount: 256 }, {
      onData: (s, conn, buf) => { s.send(conn, buf); (got.get(conn) || got.set(conn, []).get(conn)).push(buf); },
    });
    assert.strictEqual(srv.backendInfo().backend, backend);
    srv.start();
    const port = srv.port;
    assert.ok(port > 0);
    const msg = pattern(100000, 3);
    const back = [];
    let status = null, connId = null, closed = null;
    const id = srv.connect({
      address: '127.0.0.1', port, timeoutMs: 2000,
      onConnect: (s, conn, st, err) => { status = st; connId = conn; assert.strictEqual(err, null); s.send(conn, msg); },
      onData: (s, conn, buf) => { back.push(buf); },
      onClose: (s, conn, reason) => { closed = reason; },
    });
    assert.strictEqual(typeof id, 'bigint');
    const received = () => back.reduce((n, b) => n + b.length, 0);
    assert.ok(srv.runUntil(() => received() >= msg.length, 5000), `echoed ${received()} of ${msg.length}`);
    assert.strictEqual(status, 0);
    assert.strictEqual(connId, id);
    assert.ok(Buffer.concat(back).equals(msg), 'the echo is the bytes sent');
    assert.strictEqual(got.size, 1);
    assert.ok(Buffer.concat([...got.values()][0]).equals(msg), 'the server saw the bytes sent');
    assert.ok(!got.has(id), 'the client connection has its own handlers');
    srv.closeConn(id);
    assert.ok(srv.runUntil(() => closed !== null, 2000));
    assert.strictEqual(closed, 1, 'ZENITH_CLOSE_LOCAL');
    const rs = srv.reactorStats();
    assert.strictEqual(Number(rs.connects_started), 1);
    assert.strictEqual(Number(rs.connects_succeeded), 1);
    assert.throws(() => srv.send(id, Buffer.from('x')), z.StaleError);
    srv.close();
    assert.throws(() => srv.port, z.StaleError);
  });

  test(`${backend}: a refused connect reports ECONNREFUSED once, as a SystemError`, () => {
    const probe = new z.Server({ backend }, { onData: () => {} });
    const deadPort = probe.port;
    probe.close(); // nothing listens there now
    const srv = new z.Server({ backend, noListen: true }, { onData: () => {} });
    assert.strictEqual(srv.port, 0);
    srv.start();
    const outcomes = [];
    srv.connect({ address: '127.0.0.1', port: deadPort, onConnect: (s, c, st, err) => outcomes.push([st, err]) });
    assert.ok(srv.runUntil(() => outcomes.length > 0, 5000));
    for (let i = 0; i < 10; i++) srv.runOnce(1);
    assert.strictEqual(outcomes.length, 1);
    const [st, err] = outcomes[0];
    assert.ok(err instanceof z.SystemError && err instanceof z.ZenithError);
    assert.strictEqual(err.name, 'ECONNREFUSED');
    assert.strictEqual(err.code, st);
    assert.strictEqual(err.errno, 111);
    assert.throws(() => srv.connect({ address: 'localhost', port: 1 }), z.InvalidArgumentError, 'names are refused');
    srv.close();
  });
}

test('backend choice and info', () => {
  const e = new z.Server({ backend: 'epoll', noListen: true }, { onData: () => {} });
  const info = e.backendInfo();
  assert.strictEqual(info.backend, 'epoll');
  assert.strictEqual(info.reason, 'config');
  assert.strictEqual(typeof info.why, 'string');
  assert.ok(info.why.length > 0);
  e.close();
  const a = new z.Server({ noListen: true }, { onData: () => {} });
  const ai = a.backendInfo();
  assert.ok(['io_uring', 'epoll'].includes(ai.backend));
  assert.ok(['default', 'fallback', 'env'].includes(ai.reason), ai.reason);
  a.close();
  assert.throws(() => new z.Server({ backend: 'kqueue' }, { onData: () => {} }), TypeError);
  assert.throws(() => new z.Server({ bufferCuont: 3 }, { onData: () => {} }), /unknown option bufferCuont/);
});

test('timers: a one-shot never early, a periodic one until stopped, stop of a fired one is stale', () => {
  const srv = new z.Server({ noListen: true }, { onData: () => {} });
  srv.start();
  const t0 = process.hrtime.bigint();
  let oneAt = null;
  const ticks = [];
  const one = srv.setTimer(30, () => { oneAt = process.hrtime.bigint(); });
  let per = null;
  per = srv.setTimer(5, (s, timer) => {
    assert.strictEqual(timer, per);
    ticks.push(process.hrtime.bigint());
    if (ticks.length === 5) timer.stop();
  }, 5);
  assert.ok(srv.runUntil(() => oneAt !== null && ticks.length >= 5, 3000));
  for (let i = 0; i < 20; i++) srv.runOnce(1); // a stopped timer stays stopped
  assert.strictEqual(ticks.length, 5);
  assert.ok(Number(oneAt - t0) / 1e6 >= 29, `one-shot fired after ${Number(oneAt - t0) / 1e6} ms`);
  assert.ok(Number(ticks[4] - t0) / 1e6 >= 24, 'five 5 ms periods take 25 ms');
  assert.throws(() => one.stop(), z.StaleError);
  assert.throws(() => srv.setTimer(2 ** 30, () => {}), (e) => e.name === 'ZENITH_E_RANGE');
  assert.strictEqual(Number(srv.reactorStats().timers_fired), 6);
  srv.close();
});

test('a callback that throws: runOnce rethrows it, the other callbacks still run, close refused inside', () => {
  const srv = new z.Server({ noListen: true }, { onData: () => {} });
  srv.start();
  let ran = 0;
  let closeInside = null, runInside = null;
  srv.setTimer(1, () => { throw new Error('boom'); });
  srv.setTimer(1, (s) => {
    ran++;
    try { s.close(); } catch (e) { closeInside = e; }
    try { s.runOnce(0); } catch (e) { runInside = e; }
  });
  let thrown = null;
  const end = Date.now() + 2000;
  while (!thrown && Date.now() < end) {
    try { srv.runOnce(5); } catch (e) { thrown = e; }
  }
  assert.ok(thrown && thrown.message === 'boom', String(thrown));
  srv.runUntil(() => ran === 1, 1000);
  assert.strictEqual(ran, 1);
  assert.ok(closeInside instanceof z.StateError, String(closeInside));
  assert.ok(runInside instanceof z.StateError, String(runInside));
  srv.runOnce(0); // usable afterwards
  srv.close();
});

test('posts: from this thread, and 20,000 from two worker threads, in order per worker', async () => {
  const srv = new z.Server({ noListen: true, postQueue: 1024 }, { onData: () => {} });
  srv.start();
  const mine = [];
  srv.post((s, data) => mine.push(data.toString()), Buffer.from('hello'));
  assert.throws(() => srv.post(() => {}, Buffer.alloc(41)), z.InvalidArgumentError);
  const N = 10000;
  const last = [-1, -1];
  let count = 0, disorder = 0;
  const target = srv.postTarget((s, data) => {
    const w = data.readUInt32LE(0), seq = data.readUInt32LE(4);
    if (seq !== last[w] + 1) disorder++;
    last[w] = seq;
    count++;
  });
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const z = require(workerData.zenith);
    const p = new z.Poster(workerData.target);
    const b = Buffer.alloc(8);
    let full = 0;
    for (let i = 0; i < workerData.n; i++) {
      b.writeUInt32LE(workerData.w, 0); b.writeUInt32LE(i, 4);
      const end = Date.now() + 10000;
      while (!p.tryPost(b)) { full++; if (Date.now() > end) throw new Error('queue full for 10 s'); }
    }
    parentPort.postMessage({ full });`;
  const workers = [0, 1].map((w) => new Worker(code, { eval: true, workerData: { zenith: ZENITH_JS, target, n: N, w } }));
  const done = workers.map((w) => new Promise((resolve, reject) => { w.on('message', resolve); w.on('error', reject); }));
  const deadline = Date.now() + 30000;
  while (count < 2 * N && Date.now() < deadline) {
    srv.runOnce(1);
    if (count % 1024 === 0) await new Promise((r) => setImmediate(r)); // let worker messages in
  }
  const results = await Promise.all(done);
  assert.strictEqual(count, 2 * N);
  assert.strictEqual(disorder, 0);
  assert.deepStrictEqual(mine, ['hello']);
  const rs = srv.reactorStats();
  assert.strictEqual(Number(rs.posts_run), 2 * N + 1);
  assert.strictEqual(Number(rs.posts_refused), results.reduce((n, r) => n + r.full, 0));
  const poster = new z.Poster(target);
  srv.close();
  assert.throws(() => poster.post(Buffer.from('late')), z.StaleError, 'a post after close is refused, not a use after free');
  assert.throws(() => new z.Poster({}), TypeError);
});

test('UDP echo with receive timestamps', () => {
  for (const backend of BACKENDS) {
    const srv = new z.Server({ backend, noListen: true }, { onData: () => {} });
    const echo = srv.udpOpen({
      address: '127.0.0.1',
      onRecv: (sock, d) => sock.send(d.data, d.from.address, d.from.port),
    });
    const got = [];
    const client = srv.udpOpen({ address: '127.0.0.1', onRecv: (sock, d) => got.push(d) });
    srv.start();
    const to = new z.Addr('127.0.0.1', echo.port);
    // the kernel switches timestamping on lazily: wait for a stamped datagram first
    let stamped = false;
    for (let i = 0; i < 200 && !stamped; i++) {
      const n0 = got.length;
      client.send(Buffer.from('w'), to);
      assert.ok(srv.runUntil(() => got.length > n0, 2000));
      stamped = got[got.length - 1].tsNs !== 0n;
    }
    assert.ok(stamped, 'the kernel never timestamped a datagram');
    got.length = 0;
    const t0 = BigInt(Date.now()) * 1000000n;
    const sent = [];
    for (let i = 0; i < 50; i++) { sent.push(pattern(1 + i * 37, i)); client.send(sent[i], to); }
    assert.ok(srv.runUntil(() => got.length >= 50, 5000), `${got.length} of 50 back`);
    const t1 = BigInt(Date.now()) * 1000000n;
    for (let i = 0; i < 50; i++) {
      assert.ok(got[i].data.equals(sent[i]), `datagram ${i} intact and in order`);
      assert.strictEqual(got[i].from.address, '127.0.0.1');
      assert.strictEqual(got[i].from.port, echo.port);
      assert.strictEqual(got[i].truncated, false);
      assert.strictEqual(got[i].origLen, sent[i].length);
      assert.ok(got[i].tsNs >= t0 - 1000000000n && got[i].tsNs <= t1 + 1000000000n, `ts ${got[i].tsNs}`);
      assert.strictEqual(got[i].hwTsNs, 0n);
    }
    const info = client.info();
    assert.ok(info.datagrams_in >= 50);
    assert.strictEqual(info.local, `127.0.0.1:${client.port}`);
    assert.strictEqual(info.peer, null);
    assert.ok(info.features & 4, 'software timestamps on');
    assert.throws(() => client.send(Buffer.from('x')), z.InvalidArgumentError, 'no address on an unconnected socket');
    assert.throws(() => new z.Addr('not-an-ip', 1), z.InvalidArgumentError);
    client.close();
    assert.throws(() => client.send(Buffer.from('x'), to), z.StaleError);
    srv.close();
  }
});

test('multicast: nothing before the join on lo, everything after, nothing after the leave', () => {
  const srv = new z.Server({ noListen: true }, { onData: () => {} });
  const mc = [];
  let barriers = 0;
  const rx = srv.udpOpen({
    address: '0.0.0.0',
    onRecv: (sock, d) => { if (d.data[0] === 0x42) barriers++; else mc.push(d); },
  });
  const tx = srv.udpOpen({ address: '127.0.0.1' });
  tx.multicastSendOpts({ ifname: 'lo', ttl: 1, loop: true });
  srv.start();
  const group = `239.${100 + (process.pid % 100)}.${(process.pid >> 8) & 0xff}.${process.pid & 0xff}`;
  const g = new z.Addr(group, rx.port);
  const direct = new z.Addr('127.0.0.1', rx.port);
  const burst = (tag, n) => {
    for (let i = 0; i < n; i++) tx.send(Buffer.from(`M${tag}:${i}`), g);
    const b0 = barriers;
    tx.send(Buffer.from('B'), direct); // unicast after the burst: once it is in, the burst was
    assert.ok(srv.runUntil(() => barriers > b0, 5000), 'barrier');
    for (let i = 0; i < 20; i++) srv.runOnce(1);
  };
  burst('before', 20);
  assert.strictEqual(mc.length, 0, 'no multicast before the join');
  rx.join(group, { ifname: 'lo' });
  burst('joined', 100);
  assert.strictEqual(mc.length, 100);
  mc.forEach((d, i) => {
    assert.strictEqual(d.data.toString(), `Mjoined:${i}`);
    assert.strictEqual(d.from.address, '127.0.0.1');
    assert.strictEqual(d.from.port, tx.port);
  });
  assert.throws(() => rx.join(group, { ifname: 'lo' }), z.ExistsError);
  assert.throws(() => rx.join('10.0.0.1', { ifname: 'lo' }), z.InvalidArgumentError);
  assert.throws(() => rx.join(group, { ifname: 'no-such-if0' }), z.NotFoundError);
  rx.leave(group, { ifname: 'lo' });
  assert.throws(() => rx.leave(group, { ifname: 'lo' }), z.NotFoundError);
  burst('left', 20);
  assert.strictEqual(mc.length, 100, 'no multicast after the leave');
  assert.throws(() => tx.multicastSendOpts({ ttl: 300 }), z.InvalidArgumentError);
  assert.strictEqual(Number(tx.info().send_errors), 0);
  srv.close();
});
