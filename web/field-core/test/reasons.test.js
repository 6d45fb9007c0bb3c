// A refusal reads in the phone user's language: every code reasons.js knows has a Chinese and an
// English sentence, and a refusal as the server sends it is worded from its code, not shown
// with the server's English message.
import test from 'node:test';
import assert from 'node:assert/strict';
import { REASONS, errorText, reasonText } from '../reasons.js';
import { Outbox } from '../outbox.js';

const CJK = /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/;

// What `POST /api/stray_dog_events` answered (422) to vd_654022100200 (jurisdiction 宁古齐牛录村
// 654022100200) for a sighting at 乌珠牛录村 (654022101200, 爱新色里镇), from
// `target/debug/echinomap serve --demo` and curl, pasted as it came.
const OUTSIDE = JSON.parse(String.raw`{"error":{"code":"invalid_record","details":{"errors":[{"code":"outside_jurisdiction","column":"lon","field":"lon","params":{"jurisdiction":"654022100200","village":"654022101200"},"reason":"village 654022101200 lies outside your jurisdiction 654022100200","row":1,"value":"80.705304"}],"field":"lon"},"message":"lon: village 654022101200 lies outside your jurisdiction 654022100200"}}`);
// The same server, a deworming of a dog tag the village does not have.
const NO_DOG = JSON.parse(String.raw`{"error":{"code":"invalid_record","details":{"errors":[{"code":"reference_not_found","column":"dog_tag","field":"dog_tag","params":{"key":"dog_tag","value":"NO-SUCH-TAG","what":"dogs"},"reason":"no dog with tag \"NO-SUCH-TAG\"","row":1,"value":"NO-SUCH-TAG"}],"field":"dog_tag"},"message":"dog_tag: no dog with tag \"NO-SUCH-TAG\""}}`);

/** Parameters that make every sentence take its longest form. */
const FULL = {
  max: 500, min: 1, expected: ['observed', 'captured'], axis: 'lat', lon: 80.1, lat: 43.9, max_distance_m: 3000,
  distance_m: 4200, nearest: { code: '654022100200', name: '宁古齐牛录村', township_name: '察布查尔镇' }, digits: 12,
  name: 'x', township: 'y', closest: { code: '1', name: 'n', township_name: 't' }, elsewhere: [{ code: '2', name: 'n', township_name: 't' }],
  candidates: [{ code: '3', name: 'n', township_name: 't' }], village: '654022101200', jurisdiction: '654022100200',
  what: 'dogs', key: 'dog_tag', value: 'D-1', n: 2, part: 'infected', whole: 'slaughtered', errcode: -1,
  retry_after_seconds: 900, tries_left: 3,
};

test('every code has a Chinese and an English sentence, with no Chinese in the English one', () => {
  const codes = Object.keys(REASONS);
  assert.ok(codes.length >= 60, `${codes.length} codes`);
  for (const code of codes) {
    for (const [params, field] of [[{}, undefined], [FULL, 'dog_tag'], [{ ...FULL, value: null, code: '654022100200' }, 'n_dogs']]) {
      const zh = reasonText(code, params, field, 'zh');
      const en = reasonText(code, params, field, 'en');
      assert.ok(zh && CJK.test(zh), `${code}: zh ${zh}`);
      assert.ok(en && en.length > 3, `${code}: en ${en}`);
      // The English sentence may quote a Chinese value it was given (a village's name), no more.
      const quoted = en.replace(/宁古齐牛录村|察布查尔镇|“[^”]*”/g, '');
      assert.ok(!CJK.test(quoted), `${code}: Chinese in the English sentence: ${en}`);
      assert.ok(!/undefined|\[object/.test(zh + en), `${code}: ${zh} / ${en}`);
    }
  }
});

test('a sighting outside the jurisdiction, as the server refuses it, reads in Chinese and in English', () => {
  assert.equal(errorText(OUTSIDE, 'zh'), '村 654022101200 不在您的辖区（654022100200）内');
  assert.match(errorText(OUTSIDE, 'zh'), /不在您的辖区/);
  assert.equal(errorText(OUTSIDE.error, 'en'), 'village 654022101200 lies outside your jurisdiction 654022100200');
  assert.equal(errorText(NO_DOG, 'zh'), '找不到犬牌号为“NO-SUCH-TAG”的犬只');
  assert.equal(errorText(NO_DOG, 'en'), 'no dog with dog tag “NO-SUCH-TAG”');
});

test('an entry the outbox keeps refused is worded at display time, in the language shown then', async () => {
  let stored = null;
  const box = new Outbox({
    storage: { get: () => stored, set: (_, v) => { stored = v; } },
    send: async () => ({ status: 422, data: OUTSIDE }),
    uuid: () => 'id-00000001',
  });
  box.enqueue('vd', [{ register: 'stray_dog_events', label: 'x', body: {} }]);
  assert.deepEqual(await box.sync('vd'), { sent: 0, failed: 1, stopped: null });
  const [e] = box.all();
  // The server's message is kept as it was; the code and its parameters beside it.
  assert.equal(e.error, OUTSIDE.error.message);
  assert.equal(e.error_code, 'invalid_record');
  assert.equal(e.error_field, 'lon');
  assert.deepEqual(e.error_params, { field: 'lon' });
  assert.deepEqual(e.error_row, { code: 'outside_jurisdiction', field: 'lon', params: { jurisdiction: '654022100200', village: '654022101200' } });
  assert.equal(errorText(e, 'zh'), '村 654022101200 不在您的辖区（654022100200）内');
  assert.equal(errorText(e, 'en'), 'village 654022101200 lies outside your jurisdiction 654022100200');
  // Sent again: the refusal is gone with its parameters.
  box.resend(e.id);
  const [again] = box.all();
  assert.equal(again.state, 'pending');
  assert.equal(again.error_row, null);
  assert.equal(again.error_params, null);
});

test('top-level codes use their details; an unknown code shows the server\'s message', () => {
  const wrong = { code: 'binding_code_wrong', message: '用户名或绑定码不正确，还可尝试 4 次 / wrong …', details: { field: 'binding_code', tries_left: 4 } };
  assert.equal(errorText(wrong, 'zh'), '用户名或绑定码不正确，还可尝试 4 次');
  assert.equal(errorText(wrong, 'en'), 'wrong username or binding code: 4 tries left');
  assert.equal(errorText({ code: 'binding_locked', details: { retry_after_seconds: 840 } }, 'zh'), '绑定码错误次数过多，已锁定 14 分钟，请稍后再试');
  assert.equal(errorText({ error: { code: 'invalid_login', message: 'wrong username or password' } }, 'zh'), '用户名或密码错误，请检查后重试');
  assert.equal(errorText({ code: 'unknown_field', details: { field: 'n_dogs', known: [] } }, 'zh'), '该登记没有字段“犬只数”');
  assert.equal(errorText({ code: 'no_such_code_yet', message: '服务器的话 / the server\'s words' }, 'zh'), '服务器的话 / the server\'s words');
  // An entry kept before its row error was: the field, in words.
  const old = { error: 'dog_tag: no dog with tag "X"', error_code: 'invalid_record', error_field: 'dog_tag' };
  assert.equal(errorText(old, 'zh'), '犬牌号的值无效');
  // A row code unknown here: the server's message.
  assert.equal(errorText({ code: 'invalid_record', message: 'm', details: { errors: [{ code: 'new_rule', params: {} }] } }, 'en'), 'm');
  assert.equal(errorText(null, 'zh'), '');
});
