'use strict';
// The ABI layout check (node --test): every struct the binding mirrors matches the library's
// table (checked at load too), and a deliberately altered copy fails with the exact error.
const test = require('node:test');
const assert = require('node:assert');
const z = require('../zenith.js');

test('every mirrored struct matches the library, field by field', () => {
  const n = z.checkLayouts();
  assert.strictEqual(n, z.layoutRowsChecked);
  const mirrored = Object.keys(z.structs);
  assert.ok(mirrored.includes('zenith_server_config') && mirrored.includes('zenith_udp_info')
    && mirrored.includes('ArrowArray') && mirrored.includes('zenith_plugin_stats'));
  const table = z.layoutTable();
  const rows = table.filter((r) => mirrored.includes(r.type));
  assert.strictEqual(n, rows.length, 'every row of every mirrored struct was checked');
  assert.strictEqual(typeof z.layoutHash(), 'bigint');
  assert.deepStrictEqual(z.layoutFind('zenith_udp_info', 'local'), { offset: 8, size: 32 });
  assert.strictEqual(z.layoutFind('zenith_udp_info', 'no_such_field'), null);
});

test('an altered copy of zenith_server_config fails with one clear error naming the first mismatch', () => {
  const d = z.describe(z.structs.zenith_server_config);
  // the copy forgets `backend`: the fields after it move up by 4
  const altered = { ...d, size: d.size - 4, fields: [] };
  let shift = 0;
  for (const f of d.fields) {
    if (f.name === 'backend') { shift = 4; continue; }
    altered.fields.push({ ...f, offset: f.offset - shift });
  }
  assert.throws(() => z.checkLayouts([z.describe(z.structs.zenith_pool_config), altered]), (e) =>
    e instanceof z.LayoutMismatchError && e instanceof z.ZenithError && e.code === -4
      && e.message === 'zenith: layout mismatch: zenith_server_config.max_udp: binding has offset 76 size 4, library has offset 80 size 4');
});

test('a koffi struct with a field of the wrong size, a wrong total size, a missing field, an unknown struct', () => {
  const { koffi } = z;
  const wrongField = koffi.struct({ sa: koffi.array('uint8_t', 24), len: 'uint32_t' });
  assert.throws(() => z.checkLayouts([z.describe(wrongField, 'zenith_addr')]), {
    message: 'zenith: layout mismatch: zenith_addr.sa: binding has offset 0 size 24, library has offset 0 size 28' });
  const d = z.describe(z.structs.zenith_udp_info);
  assert.throws(() => z.checkLayouts([{ ...d, size: d.size + 8 }]), {
    message: 'zenith: layout mismatch: zenith_udp_info: binding has size 192, library has size 184' });
  assert.throws(() => z.checkLayouts([{ ...d, fields: d.fields.filter((f) => f.name !== 'reserved_') }]), {
    message: 'zenith: layout mismatch: zenith_udp_info.reserved_: binding has no such field, library has offset 180 size 4' });
  assert.throws(() => z.checkLayouts([{ ...d, fields: [...d.fields, { name: 'extra', offset: 184, size: 8 }] }]), {
    message: 'zenith: layout mismatch: zenith_udp_info.extra: binding has offset 184 size 8, library has no such field' });
  assert.throws(() => z.checkLayouts([{ type: 'zenith_nothing', size: 8, fields: [] }]), {
    message: 'zenith: layout mismatch: zenith_nothing: binding has size 8, library has no such struct' });
});
