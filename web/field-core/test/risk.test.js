// A village's risk in plain words.
import test from 'node:test';
import assert from 'node:assert/strict';
import { tierName, reasonText, riskReasons, regimeName, regimeFromScreening } from '../risk.js';

const RISK = {
  tier: 'high', score: 0.71,
  components: [
    { component: 'human_prevalence', detail: { screened: 412, positives: 9 } },
    { component: 'deworming_gap', detail: { coverage: 0.634 } },
    { component: 'dog_positivity', detail: {} },
  ],
  reasons: [
    { component: 'human_prevalence', text: 'human prevalence 2.2%' },
    { component: 'deworming_gap', text: 'coverage 63%' },
    { component: 'dog_positivity', text: 'x' },
    { component: 'new_component', text: 'the server words it' },
  ],
  regime: { regime: 'monthly', basis: 'village_screening' },
};

test('tiers and regimes in words, unknown values as they are', () => {
  assert.equal(tierName('high', 'zh'), '高风险');
  assert.equal(tierName('low', 'en'), 'Low risk');
  assert.equal(tierName('extreme', 'zh'), 'extreme');
  assert.equal(regimeName('slaughter_season', 'zh'), '屠宰季节驱虫');
  assert.equal(regimeName('targeted', 'en'), 'Targeted dogs only');
  assert.equal(regimeName('weekly', 'en'), 'weekly');
});

test('reasons carry their numbers; missing numbers read as a dash; unknown components keep the server\'s text', () => {
  assert.deepEqual(riskReasons(RISK, 'zh'), [
    '人群患病率偏高（筛查 412 人，阳性 9）',
    '犬驱虫覆盖率 63.4%，低于 80% 目标',
    '犬粪抗原阳性（检测 —，阳性 —）',
    'the server words it',
  ]);
  assert.deepEqual(riskReasons(RISK, 'en').slice(0, 2), [
    'High human prevalence (412 screened, 9 positive)',
    'Dog deworming coverage 63.4%, below the 80% target',
  ]);
  assert.equal(reasonText('deworming_gap', null, null, 'zh'), '犬驱虫覆盖率 ?，低于 80% 目标');
  assert.equal(reasonText('mystery', null, null, 'zh'), 'mystery');
  assert.equal(reasonText('hotspot', undefined, 'fallback', 'en'), 'Inside a statistical hotspot');
  assert.deepEqual(riskReasons(null, 'zh'), []);
  assert.deepEqual(riskReasons({ reasons: [{ component: 'new_cases' }], components: [{ name: 'new_cases' }] }, 'zh'), ['近期有新发病例']);
});

test('the regime from screening follows the thresholds: >1% monthly, 0.1–1% slaughter season, <0.1% targeted', () => {
  assert.equal(regimeFromScreening([]), null);
  assert.equal(regimeFromScreening([{ screened: 0, positives: 0 }, { screened: null }]), null);
  assert.deepEqual(regimeFromScreening([{ screened: 300, positives: 2 }, { screened: 100, positives: 3 }]), { regime: 'monthly', prevalence: 5 / 400, screened: 400 });
  assert.equal(regimeFromScreening([{ screened: 1000, positives: 10 }]).regime, 'slaughter_season', 'exactly 1%');
  assert.equal(regimeFromScreening([{ screened: 1000, positives: 1 }]).regime, 'slaughter_season', 'exactly 0.1%');
  assert.equal(regimeFromScreening([{ screened: 2000, positives: 1 }]).regime, 'targeted');
  assert.equal(regimeFromScreening([{ screened: 500, positives: 0 }]).regime, 'targeted');
});
