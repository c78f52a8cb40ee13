'use strict';
// Plugins and the engine's new names (node --test): price_filter.wasm loaded from bytes selects
// the rows of a float64 "price" batch in [lo, hi]; its stats and result; a refused module's
// reason; the zenith_engine_* names and the design's aliases through the raw functions.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const z = require('../zenith.js');

const BUILD = process.env.ZENITH_BUILD || path.join(__dirname, '..', '..', '..', 'build');
const PRICE_FILTER = path.join(BUILD, 'plugins', 'price_filter.wasm');

test('a plugin loaded from bytes filters a batch: selection, stats, result', () => {
  const wasm = fs.readFileSync(PRICE_FILTER);
  const e = new z.Engine(16);
  const plugin = e.loadPlugin(wasm, { params: [95.0, 105.0], instances: 1 });
  assert.ok(plugin instanceof z.Plugin);
  assert.ok(plugin.id >= 0);
  const prices = [90, 95, 100.5, null, 104.99, 105, 105.01, 120, Number.NaN, 99, 101, 80];
  const want = prices.map((p) => p !== null && p >= 95 && p <= 105);
  const x = z.float64Array(prices, { name: 'price' });
  assert.strictEqual(e.publish(x, 7, 1), 0, 'queued with a selection');
  assert.ok(z.isReleased(x));
  const b = e.pollSelection();
  assert.ok(b);
  assert.strictEqual(b.name, 'price');
  assert.strictEqual(b.format, 'g');
  assert.strictEqual(b.selected, want.filter(Boolean).length);
  assert.deepStrictEqual(prices.map((_, i) => b.passes(i)), want);
  const vals = b.float64Values();
  assert.strictEqual(vals[3], null);
  assert.strictEqual(vals[2], 100.5);
  b.release();
  z.freeArrow(x);
  const st = plugin.stats();
  assert.strictEqual(Number(st.calls), 1);
  assert.strictEqual(Number(st.rows_in), prices.length);
  assert.strictEqual(Number(st.rows_out), want.filter(Boolean).length);
  assert.strictEqual(Number(st.selected), 1);
  assert.strictEqual(Number(st.skipped), 0);
  assert.strictEqual(st.disabled, 0);
  // a batch without a "price" column is skipped: passed on whole
  const other = z.int64Array([1, 2, 3], { name: 'qty' });
  assert.strictEqual(e.publish(other, 7, 2), 0);
  const b2 = e.pollSelection();
  assert.strictEqual(b2.selected, -1);
  assert.ok(b2.passes(0) && b2.passes(2));
  assert.deepStrictEqual(b2.int64Values(), [1, 2, 3]);
  b2.release();
  z.freeArrow(other);
  const st2 = plugin.stats();
  assert.strictEqual(Number(st2.skipped), 1);
  assert.strictEqual(Number(st2.calls), 1, 'not run on a batch it cannot read');
  assert.strictEqual(Number(st2.rows_out), Number(st.rows_out) + 3, 'passed on whole');
  assert.deepStrictEqual(plugin.result(), [want.filter(Boolean).length]);
  plugin.unload();
  assert.throws(() => plugin.stats(), z.StaleError);
  assert.throws(() => e.unloadPlugin(plugin.id), z.StaleError);
  e.close();
  assert.throws(() => e.poll(), z.StaleError);
});

test('a selection of no row drops the batch: publish returns 1, released already', () => {
  const e = new z.Engine(8);
  e.loadPlugin(fs.readFileSync(PRICE_FILTER), { params: [1000, 2000] });
  const before = z.released.arrays;
  const x = z.float64Array([1, 2, 3], { name: 'price' });
  assert.strictEqual(e.publish(x, 1, 1), 1);
  assert.ok(z.isReleased(x));
  assert.strictEqual(z.released.arrays - before, 1);
  assert.strictEqual(e.pollSelection(), null);
  z.freeArrow(x);
  e.close();
});

test('a module that is not a plugin: PluginError with the reason; the engine is unchanged', () => {
  const e = new z.Engine(8);
  assert.throws(() => e.loadPlugin(Buffer.from('\0asm\x01\0\0\0')), (err) =>
    err instanceof z.PluginError && err.code === -3 && err.name === 'ZENITH_E_PLUGIN' && err.reason.length > 0
      && err.message.includes(err.reason));
  assert.throws(() => e.loadPlugin(fs.readFileSync(PRICE_FILTER), { params: [1, 2, 3] }), (err) =>
    err instanceof z.PluginError && /init/.test(err.reason), 'price_filter refuses 24 bytes of params');
  assert.throws(() => e.loadPlugin(fs.readFileSync(PRICE_FILTER), { instances: 65 }), z.InvalidArgumentError);
  assert.throws(() => e.loadPlugin(fs.readFileSync(PRICE_FILTER), { fuelPerRoe: 1 }), TypeError);
  const x = z.int64Array([5]);
  assert.strictEqual(e.publish(x), 0);
  const b = e.pollSelection();
  assert.strictEqual(b.selected, -1, 'no plugin attached');
  b.release();
  z.freeArrow(x);
  // capacity 1 is a ring of two in the library (a ring of one overwrote its slot)
  const full = new z.Engine(1);
  assert.strictEqual(Number(full.stats().capacity), 2);
  const a = z.int64Array([1]), a2 = z.int64Array([2]), c = z.int64Array([3]);
  assert.strictEqual(full.tryPublish(a), true);
  assert.strictEqual(full.tryPublish(a2), true);
  assert.strictEqual(full.tryPublish(c), false);
  assert.throws(() => full.publish(c), z.FullError);
  assert.ok(!z.isReleased(c));
  for (const want of [[1], [2]]) { const bb = full.poll(); assert.deepStrictEqual(bb.int64Values(), want); bb.release(); }
  assert.strictEqual(full.poll(), null);
  full.close();
  z.freeArrow(a); z.freeArrow(a2); z.freeArrow(c);
  e.close();
});

test('the engine under its new names and the design aliases', () => {
  const { raw } = z;
  for (const [eng, pub, poll, load, free] of [
    [raw.zenith_engine_create, raw.zenith_engine_publish, raw.zenith_engine_poll, raw.zenith_engine_load_plugin,
      raw.zenith_engine_destroy],
    [raw.zenith_init, raw.zenith_publish, raw.zenith_poll, raw.zenith_load_plugin, raw.zenith_free]]) {
    const e = eng(4);
    assert.ok(e);
    const wasm = fs.readFileSync(PRICE_FILTER);
    assert.ok(load(e, wasm, wasm.length) >= 0);
    const x = z.float64Array([1, 2], { name: 'price' });
    assert.strictEqual(pub(e, x.array, x.schema, 3, 4), 0);
    const mem = z.koffi.alloc(z.structs.zenith_batch, 1);
    assert.strictEqual(poll(e, mem), 1);
    const b = new z.Batch(mem);
    assert.strictEqual(Number(b.seqNo), 4);
    b.release();
    assert.strictEqual(poll(e, z.koffi.alloc(z.structs.zenith_batch, 1)), 0);
    free(e);
    z.freeArrow(x);
  }
});
