// @ts-check
// The words of the field logic, Chinese first, shared by the phone page (/field) and the WeChat
// mini-program: one dictionary, so that a message reads the same on both. Words only the
// mini-program shows (the slaughter inspection, 重新发送) are in its own text
// (web/miniprogram/src/lib/text.ts): /field loads this file on 2G before its first view. A value is a string or
// a function of its arguments; nested groups (tier, regimes, …) are reached with dotted keys
// (`t('tier.high')`). Numbers and dates are formatted by the caller (time.js, metres).

/** @typedef {'zh' | 'en'} Lang */
/** @typedef {(key: string, ...args: any[]) => string} Translate */
/** @typedef {{ [key: string]: string | ((...args: any[]) => string) | Dict }} Dict */

/** @type {Lang[]} */
export const LANGS = ['zh', 'en'];

/** @param {number | null | undefined} x */
const pct = (x) => (x == null ? '?' : `${(x * 100).toFixed(1)}%`);
/** @param {unknown} x */
const n = (x) => (x ?? '—');

/**
 * Keys are shared by both clients; a value is a string, a function of its arguments, or a group.
 * @type {Record<Lang, Dict>}
 */
export const TEXT = {
  zh: {
    title: '包虫病防控 · 现场', login: '登录', username: '用户名', password: '密码', locate: '我在哪个村？',
    search: '查找村庄', searchHint: '村名、拼音首字母（如 ngqnl）或代码', deworming: '驱虫', stray: '无主犬', date: '日期',
    dose: '剂量（毫克/只，可不填）', dogsDosed: '本次投药的犬（勾选）', allDue: '全选本月未驱虫的犬', showAll: (k) => `显示全部 ${k} 只犬`, moreTags: '其他犬牌号（空格或逗号分隔）',
    queueIt: '保存（有信号时自动上传）', nDogs: '犬数', action: '处置', observed: '发现', captured: '捕获', sheltered: '收容',
    euthanised: '安乐死', adopted: '领养', queue: '录入记录', syncNow: '立即上传', logout: '退出登录',
    navWhere: '位置', navSearch: '查找', navEntry: '✎ 录入', online: '在线', offline: '离线',
    pending: (k) => `待传 ${k}`, locating: '正在获取位置…', noGeo: '无法获取位置：', noVillage: '附近 3 公里内没有您辖区的村庄',
    outside: '此位置的村庄不在您的辖区内', inside: '您在该村范围内', near: (m) => `距村中心约 ${m}`,
    offlineNearest: (m) => `离线估算：离您最近的村（按村中心点，约 ${m}）`, code: '代码', township: '乡镇',
    risk: '风险', tier: { high: '高风险', medium: '中风险', low: '低风险' }, riskNA: '风险评估尚未提供（risk not available yet）',
    riskNotCached: '风险：离线，本机未保存', reasons: '原因', noReasons: '各项指标均未超出阈值', score: (s) => `评分 ${s}`,
    reason: {
      human_prevalence: (d) => `人群患病率偏高（筛查 ${n(d.screened)} 人，阳性 ${n(d.positives)}）`,
      new_cases: () => '近期有新发病例',
      dog_positivity: (d) => `犬粪抗原阳性（检测 ${n(d.tested)}，阳性 ${n(d.positive)}）`,
      deworming_gap: (d) => `犬驱虫覆盖率 ${pct(d.coverage)}，低于 80% 目标`,
      strays: (d) => `有无主犬 ${d.ownerless_dogs ?? ''} 只`,
      slaughter_without_disposal: () => '附近屠宰点病害脏器未无害化处理',
      livestock_infection: (d) => `2 岁以下家畜检出包虫囊（${n(d.infected)}/${n(d.inspected)}）`,
      hotspot: () => '位于统计热点区',
    },
    regime: '建议驱虫方案', regimes: { monthly: '每月驱虫（犬犬投药、月月驱虫）', slaughter_season: '屠宰季节驱虫', targeted: '重点犬只驱虫' },
    basis: { village_screening: '本村筛查', township_screening: '乡镇筛查', no_screening: '无筛查数据' },
    fromRisk: (b) => `来源：风险评估（${b}）`,
    fromDomain: (p, k) => `来源：风险评估尚未提供，按方案阈值（人群患病率 >1% 每月，0.1–1% 屠宰季，<0.1% 重点）由本村近 3 年筛查估算：${p}（筛查 ${k} 人）`,
    noScreening: '无筛查数据，按全国方案默认每月驱虫', screeningHidden: '无权查看筛查数据，按全国方案默认每月驱虫',
    due: '待办', dueDw: (k, m) => `本月（${m}）未驱虫的犬：${k} 只`, dueDwNone: (m) => `本月（${m}）登记犬均已驱虫`,
    dueFaecal: '犬粪采样已到期', dueFu: (k) => `逾期随访患者：${k} 人`, dueFuNone: '无逾期随访', dueFuOff: '逾期随访：需联网查看（患者信息不存本机）',
    lastDose: (d) => `上次 ${d}`, noRecentDose: '近两月无记录', moreDogs: (k) => `…另有 ${k} 只`, dueNA: '待办：离线，本机未保存',
    mustChange: '管理员已重置您的密码：请先在电脑上登录平台设置新密码，再用新密码登录。',
    contacts: '负责人', roles: { village_doctor: '村医', township_staff: '乡镇防治人员' }, noContacts: '未登记村医账号',
    saved: (a) => `数据保存于 ${a}`, fresh: (a) => `数据已更新 ${a}`, offlineData: (a) => `离线：显示本机保存的数据（${a}）`,
    ago: { now: '刚刚', min: (k) => `${k} 分钟前`, h: (k) => `${k} 小时前`, d: (k) => `${k} 天前` },
    listAge: (k, a) => `辖区 ${k} 个村已存本机（${a}）`, noResults: '没有找到', pickVillage: '请先定位或查找村庄',
    entryFor: (v) => `村：${v}`, queued: (k) => `已保存 ${k} 条，有信号时自动上传`, noTags: '请勾选或填写犬牌号',
    gps: (lon, lat, acc) => `位置：GPS ${lon}, ${lat}（±${acc} 米）`, gpsNone: (v) => `位置：${v}（无 GPS，按村记录）`,
    st: { pending: '待上传', synced: '已上传', failed: '未通过' }, empty: '暂无记录', reLogin: '登录已过期，请重新登录后上传',
    dwLabel: (tag, d) => `驱虫 ${tag} · ${d}`, strayLabel: (k, a, d) => `无主犬 ${k} 只 · ${a} · ${d}`,
    who: (u, j) => `${u} · ${j}`, logoutPending: (k) => `还有 ${k} 条未上传，仍保存在本机，下次以同一账号登录后上传。`,
    needOnline: '首次使用需联网登录', dosedThisMonth: '本月已驱虫', recordNo: (id) => `记录号 ${id}`,
    storageFull: '手机存储已满：本条未保存，已保存的记录未受影响。请先上传或清理空间。',
    // Validation: the server's own rules, said before sending.
    errDate: '请填写日期', errDateFuture: '日期不能晚于今天', errDose: '剂量应在 1–5000 毫克之间',
    errN: '犬数应在 1–500 之间', errAction: '请选择处置方式',
    // WeChat mini-program binding, asked for on /field and the dashboard.
    bindWechat: '绑定微信小程序', bindHint: '在小程序「登录」页输入用户名和此绑定码（10 分钟内有效）',
    bindUntil: (a) => `有效期至 ${a}`, bindFailed: '未能获取绑定码：', bindUser: (u) => `用户名：${u}`,
  },
  en: {
    title: 'Echinococcosis · Field', login: 'Log in', username: 'Username', password: 'Password', locate: 'Which village am I in?',
    search: 'Find a village', searchHint: 'Name, pinyin initials (e.g. ngqnl) or code', deworming: 'Deworming', stray: 'Stray dogs', date: 'Date',
    dose: 'Dose (mg per dog, optional)', dogsDosed: 'Dogs dosed now (tick)', allDue: 'Tick every dog not dosed this month', showAll: (k) => `Show all ${k} dogs`, moreTags: 'Other dog tags (space or comma separated)',
    queueIt: 'Save (uploads when there is signal)', nDogs: 'Number of dogs', action: 'Action', observed: 'observed', captured: 'captured',
    sheltered: 'sheltered', euthanised: 'euthanised', adopted: 'adopted', queue: 'Entries', syncNow: 'Upload now', logout: 'Log out',
    navWhere: 'Where', navSearch: 'Find', navEntry: '✎ Record', online: 'online', offline: 'offline',
    pending: (k) => `${k} to send`, locating: 'Getting your position…', noGeo: 'No position: ', noVillage: 'No village of your area within 3 km',
    outside: 'The village here is outside your jurisdiction', inside: 'You are inside this village', near: (m) => `About ${m} from the village centre`,
    offlineNearest: (m) => `Offline estimate: the nearest village (by its centre, about ${m})`, code: 'Code', township: 'Township',
    risk: 'Risk', tier: { high: 'High risk', medium: 'Medium risk', low: 'Low risk' }, riskNA: 'Risk not available yet (风险评估尚未提供)',
    riskNotCached: 'Risk: offline, not saved on this phone', reasons: 'Why', noReasons: 'No indicator above its threshold', score: (s) => `score ${s}`,
    reason: {
      human_prevalence: (d) => `High human prevalence (${n(d.screened)} screened, ${n(d.positives)} positive)`,
      new_cases: () => 'New human cases recently',
      dog_positivity: (d) => `Dog faecal antigen positive (${n(d.positive)} of ${n(d.tested)})`,
      deworming_gap: (d) => `Dog deworming coverage ${pct(d.coverage)}, below the 80% target`,
      strays: (d) => `Ownerless dogs seen: ${d.ownerless_dogs ?? ''}`,
      slaughter_without_disposal: () => 'A slaughter point nearby without offal disposal',
      livestock_infection: (d) => `Cysts in livestock under 2 years (${n(d.infected)}/${n(d.inspected)})`,
      hotspot: () => 'Inside a statistical hotspot',
    },
    regime: 'Recommended deworming', regimes: { monthly: 'Monthly: every dog, every month', slaughter_season: 'In the slaughter season', targeted: 'Targeted dogs only' },
    basis: { village_screening: 'village screening', township_screening: 'township screening', no_screening: 'no screening data' },
    fromRisk: (b) => `Source: risk assessment (${b})`,
    fromDomain: (p, k) => `Source: risk not available yet; programme thresholds (human prevalence >1% monthly, 0.1–1% slaughter season, <0.1% targeted) applied to this village's screening of the last 3 years: ${p} (${k} screened)`,
    noScreening: 'No screening data: monthly by default (national plan)', screeningHidden: 'No access to screening data: monthly by default (national plan)',
    due: 'Due here', dueDw: (k, m) => `Dogs not dosed this month (${m}): ${k}`, dueDwNone: (m) => `Every registered dog dosed this month (${m})`,
    dueFaecal: 'Faecal sampling is due', dueFu: (k) => `Patients with an overdue follow-up: ${k}`, dueFuNone: 'No overdue follow-up', dueFuOff: 'Overdue follow-ups: online only (patients are not stored on the phone)',
    lastDose: (d) => `last ${d}`, noRecentDose: 'none in 2 months', moreDogs: (k) => `…and ${k} more`, dueNA: 'Due: offline, not saved on this phone',
    mustChange: 'An administrator reset your password: choose a new one on the dashboard first, then log in with it.',
    contacts: 'Responsible', roles: { village_doctor: 'village doctor', township_staff: 'township staff' }, noContacts: 'No village doctor account',
    saved: (a) => `Data saved ${a}`, fresh: (a) => `Data updated ${a}`, offlineData: (a) => `Offline: data saved on this phone (${a})`,
    ago: { now: 'just now', min: (k) => `${k} min ago`, h: (k) => `${k} h ago`, d: (k) => `${k} days ago` },
    listAge: (k, a) => `${k} villages of your area saved on this phone (${a})`, noResults: 'Nothing found', pickVillage: 'Locate or find a village first',
    entryFor: (v) => `Village: ${v}`, queued: (k) => `${k} saved; they upload when there is signal`, noTags: 'Tick or type at least one dog tag',
    gps: (lon, lat, acc) => `Place: GPS ${lon}, ${lat} (±${acc} m)`, gpsNone: (v) => `Place: ${v} (no GPS, by village)`,
    st: { pending: 'to send', synced: 'sent', failed: 'refused' }, empty: 'No entries yet', reLogin: 'Session expired: log in again to upload',
    dwLabel: (tag, d) => `Deworming ${tag} · ${d}`, strayLabel: (k, a, d) => `Stray dogs ${k} · ${a} · ${d}`,
    who: (u, j) => `${u} · ${j}`, logoutPending: (k) => `${k} entries not sent yet stay on this phone and upload at the next login of the same account.`,
    needOnline: 'The first login needs a connection', dosedThisMonth: 'dosed this month', recordNo: (id) => `record ${id}`,
    storageFull: 'Phone storage is full: this entry was not saved; the entries already saved are untouched. Upload or free some space first.',
    errDate: 'Enter the date', errDateFuture: 'The date cannot be after today', errDose: 'The dose must be 1–5000 mg',
    errN: 'The number of dogs must be 1–500', errAction: 'Choose an action',
    bindWechat: 'Link the WeChat mini-program', bindHint: 'Enter your username and this code on the mini-program\'s login page (valid 10 minutes)',
    bindUntil: (a) => `valid until ${a}`, bindFailed: 'No binding code: ', bindUser: (u) => `Username: ${u}`,
  },
};

/**
 * The dictionary's entry for `key` (dotted for nested groups), or undefined.
 * @param {Lang} lang
 * @param {string} key
 * @returns {unknown}
 */
export function lookup(lang, key) {
  /** @type {any} */
  let v = TEXT[lang] ?? TEXT.zh;
  for (const part of key.split('.')) {
    if (v == null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

/**
 * `t(key, ...args)` for one language: functions are called with the arguments, strings returned
 * as they are; an unknown key comes back as itself (visible, never a crash).
 * @param {Lang} lang
 * @returns {Translate}
 */
export function translator(lang) {
  return (key, ...args) => {
    const v = lookup(lang, key);
    if (typeof v === 'function') return String(v(...args));
    return typeof v === 'string' ? v : key;
  };
}

/**
 * The word for a value in a group (`label('zh', 'species', 'sheep')` → 绵羊), or the value itself
 * when the dictionary has none (a new server value still shows).
 * @param {Lang} lang
 * @param {string} group
 * @param {string} key
 */
export function label(lang, group, key) {
  const v = lookup(lang, group + '.' + key);
  return typeof v === 'string' ? v : key;
}

/**
 * An entry of the outbox in words, in the language of `t` (so that switching language re-words
 * the queue): from its register and body; the label stored when it was made for a register
 * this dictionary has no wording for.
 * @param {{ register: string, label?: string, body: Record<string, any> }} entry
 * @param {Translate} t
 * @returns {string}
 */
export function entryLabel(entry, t) {
  const b = entry.body || {};
  /** @type {[string, ...unknown[]] | null} */
  const words =
    entry.register === 'dewormings' ? ['dwLabel', b.dog_tag, b.dosed_on]
      : entry.register === 'stray_dog_events' ? ['strayLabel', b.n_dogs, t(b.action), b.occurred_on]
        : entry.register === 'slaughter_inspections'
          ? ['slaughterLabel', b.point_code, t('species.' + b.species), b.slaughtered, b.inspected_on]
          : null;
  if (!words) return entry.label || entry.register;
  const text = t(...words);
  return text === words[0] ? entry.label || entry.register : text;
}

/**
 * Chinese text takes full-width punctuation, English half-width.
 * @param {Lang} lang
 */
export const colon = (lang) => (lang === 'zh' ? '：' : ': ');

/**
 * @param {Lang} lang
 * @param {string} x
 */
export const paren = (lang, x) => (lang === 'zh' ? `（${x}）` : ` (${x})`);
