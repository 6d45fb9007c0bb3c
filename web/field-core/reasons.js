// @ts-check
// Why the server refused an entry or a sign-in, in the reader's language. The server's `message`
// is English (for files and the command line); every refusal also carries a stable `code` with
// its parameters (docs/API.md "Reason codes"), which this module words, Chinese first. The
// sentences are the dashboard's own (web/src/reasons.ts), cut to the codes a phone can meet:
// a write to `dewormings`, `stray_dog_events` or `slaughter_inspections` (records/spec.rs) and
// the sign-in of /field and the mini-program. Kept small: /field loads it on 2G, and only when a
// refusal is to be shown. A code not listed here is shown with the server's message.
// tests/tests/reason_codes.rs checks that each code those three registers' write path can
// produce has a sentence here.

/** @typedef {'zh' | 'en'} Lang */
/** @typedef {Record<string, any>} Params */
/** @typedef {[string, string]} Pair  zh, en */
/**
 * The helpers a sentence uses, in the reader's language.
 * @typedef {{
 *   zh: boolean, field: (name: unknown) => string, list: (xs: unknown, f?: (x: any) => string) => string,
 *   num: (v: unknown) => string, village: (v: unknown) => string, register: (name: unknown) => string
 * }} Ctx
 */
/** @typedef {(p: Params, f: string, c: Ctx, field: string | undefined) => Pair} Wording */
/**
 * An outbox entry's refusal (outbox.js) or an API error (`{code, message, details}`, or the body
 * `{error: {…}}` around it).
 * @typedef {{
 *   error?: any, error_code?: string | null, error_field?: string | null,
 *   error_params?: Params | null, error_row?: { code?: string, field?: string | null, params?: Params } | null,
 *   code?: string, message?: string | null, details?: any
 * }} Refusal
 */

/** The fields of the three registers and the link fields (web/src/reasons.ts FIELDS). @type {Record<string, Pair>} */
const FIELDS = {
  village_code: ['村代码', 'village code'], village: ['村', 'village'], township: ['乡镇', 'township'],
  lon: ['经度', 'longitude'], lat: ['纬度', 'latitude'],
  dog_tag: ['犬牌号', 'dog tag'], dosed_on: ['投药日期', 'dosed on'], drug: ['药物', 'drug'], batch: ['批号', 'batch'],
  dose_mg: ['剂量（mg）', 'dose (mg)'], method: ['方法', 'method'], given_by: ['投药人', 'given by'],
  occurred_on: ['发生日期', 'occurred on'], n_dogs: ['犬只数', 'number of dogs'], action: ['处置方式', 'action'],
  reported_by: ['报告人', 'reported by'],
  point_code: ['屠宰点编码', 'slaughter point code'], inspected_on: ['检疫日期', 'inspected on'], species: ['畜种', 'species'],
  age_class: ['年龄组', 'age class'], slaughtered: ['屠宰数', 'slaughtered'], infected: ['感染数', 'infected'],
  organ: ['感染部位', 'organ'], disposal_method: ['处理方式', 'disposal method'],
  disposal_done: ['是否已无害化处理', 'disposal done'], inspector: ['检疫员', 'inspector'],
};

/** The registers a reference names (`what`). @type {Record<string, Pair>} */
const REGISTERS = { dogs: ['犬只', 'dog'], slaughter_points: ['屠宰点', 'slaughter point'] };

/** @param {string} zh @param {string} en @returns {Pair} */
const L = (zh, en) => [zh, en];

/**
 * Every code this module words: `(params, the field's name, helpers, the raw field)` → [zh, en].
 * @type {Record<string, Wording>}
 */
export const REASONS = {
  // One value.
  required: (_, f) => L(`请填写${f}`, `${f} is required`),
  too_long: (p, f, c) => L(`${f}不能超过 ${c.num(p.max)} 个字`, `${f} is longer than ${c.num(p.max)} characters`),
  not_a_number: (_, f) => L(`${f}应为数字`, `${f} must be a number`),
  not_whole: (_, f) => L(`${f}应为整数`, `${f} must be a whole number`),
  out_of_range: (p, f, c) => L(`${f}应在 ${c.num(p.min)} 到 ${c.num(p.max)} 之间`, `${f} must be between ${c.num(p.min)} and ${c.num(p.max)}`),
  bad_date: (_, f) => L(`${f}不是有效日期（例如 2024-03-05）`, `${f} is not a date (e.g. 2024-03-05)`),
  bad_bool: (_, f) => L(`${f}应为“是”或“否”`, `${f} must be yes or no`),
  bad_enum: (p, f, c) => L(`${f}的值无效，可选：${c.list(p.expected)}`, `${f} is not one of: ${c.list(p.expected)}`),
  // The position and the village.
  lat_without_lon: () => L('只填了纬度，请同时填写经度', 'latitude without longitude: give both'),
  lon_without_lat: () => L('只填了经度，请同时填写纬度', 'longitude without latitude: give both'),
  position_required: () => L('请填写位置（经度和纬度）', 'a position (longitude and latitude) is required'),
  bad_coordinate: (p, _, c) => {
    const axis = p.axis === 'lat' ? L('纬度', 'latitude') : L('经度', 'longitude');
    return L(`${axis[0]}应在 ${c.num(p.min)} 到 ${c.num(p.max)} 之间`, `${axis[1]} must be between ${c.num(p.min)} and ${c.num(p.max)}`);
  },
  outside_county: (p) => L(`该位置（经度 ${p.lon ?? ''}，纬度 ${p.lat ?? ''}）不在本县范围内`, `the point (lon ${p.lon ?? ''}, lat ${p.lat ?? ''}) lies outside the county`),
  village_too_far: (p, _, c) => L(
    `该位置 ${c.num(p.max_distance_m)} 米内没有村，最近的是${c.village(p.nearest)}，相距 ${c.num(p.distance_m)} 米`,
    `no village within ${c.num(p.max_distance_m)} m: the nearest, ${c.village(p.nearest)}, is ${c.num(p.distance_m)} m away`,
  ),
  no_villages: () => L('系统中还没有村的数据，无法匹配村', 'there are no villages to link to yet'),
  bad_code: (p, f, c) => L(`${f}应为 ${c.num(p.digits)} 位数字`, `${f} must be ${c.num(p.digits)} digits`),
  village_not_found: (p, _, c) => {
    if (p.code) return L(`没有代码为 ${p.code} 的村`, `no village has code ${p.code}`);
    const inTown = p.township ? L(`（在${p.township}）`, ` (in ${p.township})`) : L('', '');
    const closest = p.closest ? L(`；是否为${c.village(p.closest)}？`, `; did you mean ${c.village(p.closest)}?`) : L('', '');
    const elsewhere = Array.isArray(p.elsewhere) && p.elsewhere.length
      ? L(`；其他乡镇有同名村：${c.list(p.elsewhere, c.village)}`, `; villages of that name elsewhere: ${c.list(p.elsewhere, c.village)}`)
      : L('', '');
    return L(`找不到村“${p.name ?? ''}”${inTown[0]}${closest[0]}${elsewhere[0]}`, `no village named “${p.name ?? ''}”${inTown[1]}${closest[1]}${elsewhere[1]}`);
  },
  township_not_found: (p) => L(`找不到乡镇“${p.township ?? ''}”`, `no township has code or name “${p.township ?? ''}”`),
  village_ambiguous: (p, _, c) => L(
    `村名“${p.name ?? ''}”对应多个村：${c.list(p.candidates, c.village)}；请同时填写乡镇或改填村代码`,
    `the village name “${p.name ?? ''}” is ambiguous: ${c.list(p.candidates, c.village)}; give the township or the village code`,
  ),
  village_required: () => L('请选择村（村代码，或村名和乡镇，或经纬度）', 'the village is required: give its code, its name (and township) or a position'),
  outside_jurisdiction: (p) => L(`村 ${p.village ?? ''} 不在您的辖区（${p.jurisdiction ?? ''}）内`, `village ${p.village ?? ''} lies outside your jurisdiction ${p.jurisdiction ?? ''}`),
  // What the database knows.
  reference_not_found: (p, _, c) => (p.value === null || p.value === undefined
    ? L(`未能找到对应的${c.register(p.what)}：请填写${c.field(p.key)}`, `no ${c.register(p.what)} given: fill in ${c.field(p.key)}`)
    : L(`找不到${c.field(p.key)}为“${p.value}”的${c.register(p.what)}`, `no ${c.register(p.what)} with ${c.field(p.key)} “${p.value}”`)),
  reference_ambiguous: (p, _, c) => L(
    `${c.field(p.key)}“${p.value ?? ''}”同时属于 ${p.n ?? 2} 条${c.register(p.what)}记录：请县级先合并重复记录`,
    `${p.n ?? 2} ${c.register(p.what)} records have ${c.field(p.key)} “${p.value ?? ''}”: the county merges them first`,
  ),
  // A JSON body.
  unknown_field: (_, f) => L(`该登记没有字段“${f}”`, `this register has no field “${f}”`),
  bad_json_value: (_, f) => L(`${f}的值应为文字、数字或是/否`, `${f} must be text, a number or yes/no`),
  // Rules across fields (the slaughter inspection's).
  not_more: (p, _, c) => L(`${c.field(p.part)}不能大于${c.field(p.whole)}`, `${c.field(p.part)} cannot exceed ${c.field(p.whole)}`),
  organ_matches_infected: () => L('有感染（感染数大于0）时须填写感染脏器；无感染时脏器填“无”', 'with infected animals give the organ; with none infected the organ is “none”'),
  disposal_done_needs_method: () => L('已无害化处理时须填写处理方式（不能为“未处理”）', 'a disposal done needs its method (not “none”)'),

  // Top-level errors of a write.
  bad_request: () => L('请求无效', 'the request is not valid'),
  invalid_parameter: (_, f, __, field) => (field ? L(`参数“${f}”无效`, `the parameter “${f}” is not valid`) : L('请求参数无效', 'a parameter is not valid')),
  invalid_json: () => L('提交的内容不是有效的 JSON', 'the body is not valid JSON'),
  invalid_body: () => L('提交的内容格式不正确', 'the body is not in the expected form'),
  invalid_text: () => L('内容含有无法保存的字符，请删除后重试', 'a value contains a character that cannot be stored'),
  invalid_field: (_, f, __, field) => (field ? L(`${f}的值无效`, `the value of ${f} is not valid`) : L('有字段的值无效', 'a value is not valid')),
  invalid_record: () => L('记录有误，请修改标出的字段', 'the record has errors: correct the marked fields'),
  invalid_idempotency_key: () => L('请求编号（Idempotency-Key）应为 8–128 个字符', 'the Idempotency-Key is 8 to 128 characters'),
  request_timeout: () => L('请求超时，请重试', 'the request timed out: try again'),
  body_too_large: () => L('提交的内容过大', 'the body is too large'),
  unsupported_media_type: () => L('不支持此内容类型', 'this content type is not supported'),
  duplicate_record: () => L('已有关键信息相同的记录，请修改该记录而不是新增', 'a record with the same key exists: edit it instead'),
  // Access and sign-in.
  login_required: () => L('请先登录', 'please log in'),
  invalid_credentials: () => L('登录已失效，请重新登录', 'your login is no longer valid: log in again'),
  invalid_login: () => L('用户名或密码错误，请检查后重试', 'wrong username or password'),
  locked: () => L('此用户名在本机登录失败次数过多，请稍后再试', 'too many failed logins for this name: try again later'),
  too_many_attempts: () => L('本机登录尝试过多，请稍后再试', 'too many login attempts from this address: try again later'),
  password_expired: () => L('密码已过期，请修改密码或联系管理员重置', 'the password has expired: change it or ask an administrator'),
  password_change_required: () => L('管理员已重置您的密码：请先设置新密码', 'an administrator reset your password: choose a new one first'),
  csrf: () => L('页面已过期，请刷新后重试', 'the page is out of date: reload it and try again'),
  forbidden: () => L('您的角色或辖区无权进行此操作', 'your role or jurisdiction does not allow this'),
  account_disabled: () => L('该账号已停用，请联系管理员', 'this account is disabled: ask an administrator'),
  // WeChat sign-in and binding (server/src/http/wechat.rs).
  wechat_not_configured: () => L('本服务器未配置微信小程序（AppID 和 AppSecret），请联系管理员', 'WeChat sign-in is not set up on this server (AppID and AppSecret): tell the administrator'),
  wechat_not_bound: () => L(
    '该微信尚未绑定平台账号：请在电脑端或现场页（/field）获取 6 位绑定码后绑定',
    'this WeChat is not bound to an account: get a 6-digit binding code on the desk or the field page (/field), then bind',
  ),
  wechat_code_invalid: () => L('微信登录凭证无效或已使用，请重新打开小程序再试', 'the WeChat login code is invalid or used: reopen the mini-program and try again'),
  wechat_rate_limited: () => L('微信登录过于频繁，请 1 分钟后再试', 'too many WeChat sign-ins: try again in a minute'),
  wechat_high_risk: () => L('微信判定该账号存在风险，暂时不能登录；请在微信中完成安全验证后再试', 'WeChat flags this user as high-risk: complete WeChat\'s security check, then try again'),
  wechat_error: (p) => L(`微信服务返回错误${p.errcode !== undefined ? `（${p.errcode}）` : ''}，请稍后再试`, `WeChat answered with an error${p.errcode !== undefined ? ` (${p.errcode})` : ''}: try again later`),
  wechat_unreachable: () => L('暂时无法连接微信服务器，请稍后再试', 'WeChat\'s server cannot be reached: try again later'),
  wechat_already_bound: () => L('此微信已绑定另一个平台账号：请先在该账号中解除绑定', 'this WeChat is bound to another account: unbind it there first'),
  binding_locked: (p) => L(
    `绑定码错误次数过多，已锁定${p.retry_after_seconds ? ` ${Math.ceil(Number(p.retry_after_seconds) / 60)} 分钟` : ' 15 分钟'}，请稍后再试`,
    `too many wrong binding codes: locked for${p.retry_after_seconds ? ` ${Math.ceil(Number(p.retry_after_seconds) / 60)} minutes` : ' 15 minutes'}, try again later`,
  ),
  binding_code_wrong: (p) => L(
    `用户名或绑定码不正确${p.tries_left !== undefined ? `，还可尝试 ${p.tries_left} 次` : ''}`,
    `wrong username or binding code${p.tries_left !== undefined ? `: ${p.tries_left} tries left` : ''}`,
  ),
  binding_code_expired: () => L('绑定码已过期（10 分钟内有效）或已被新的绑定码取代，请重新获取', 'the binding code has expired (valid 10 minutes) or a newer one replaced it: ask for a new one'),
  binding_code_used: () => L('绑定码已使用过，请重新获取', 'the binding code was used already: ask for a new one'),
  // The server.
  internal: () => L('服务器出错，请稍后重试；如仍失败请联系管理员。', 'internal error; try again later, or ask the administrator'),
  database_unavailable: () => L('数据库暂时无法连接，请稍后重试', 'the database is not reachable: try again shortly'),
  disk_full: () => L('数据库磁盘已满，未保存任何内容；请联系管理员', 'the database disk is full: nothing was saved; tell the administrator'),
  insufficient_resources: () => L('数据库资源不足，未保存任何内容；请稍后重试', 'the database is short of resources: nothing was saved; try again shortly'),
};

/** @param {Lang} lang @returns {Ctx} */
function ctx(lang) {
  const zh = lang !== 'en';
  /** @param {Pair} p */
  const pick = (p) => (zh ? p[0] : p[1]);
  /** @param {Record<string, Pair>} names @param {unknown} name */
  const named = (names, name) => {
    const p = Object.prototype.hasOwnProperty.call(names, String(name)) ? names[String(name)] : null;
    return p ? pick(p) : String(name ?? '');
  };
  return {
    zh,
    field: (name) => named(FIELDS, name),
    register: (name) => named(REGISTERS, name),
    list: (xs, f = String) => (Array.isArray(xs) ? xs : []).map(f).join(zh ? '、' : ', '),
    // Thousands separators only where they help (100,000), not in years (1990).
    num: (v) => (typeof v === 'number' && Math.abs(v) >= 10000 ? v.toLocaleString(zh ? 'zh-CN' : 'en') : String(v ?? '')),
    village: (v) => {
      const x = v && typeof v === 'object' ? /** @type {Params} */ (v) : {};
      return zh ? `${x.name ?? ''}（${x.township_name ?? ''}，${x.code ?? ''}）` : `${x.name ?? ''} (${x.township_name ?? ''}, ${x.code ?? ''})`;
    },
  };
}

/**
 * The sentence for `code`, or null when this module does not know the code.
 * @param {string} code
 * @param {Params | null | undefined} params
 * @param {string | null | undefined} field
 * @param {Lang} lang
 * @returns {string | null}
 */
export function reasonText(code, params, field, lang) {
  if (!Object.prototype.hasOwnProperty.call(REASONS, code)) return null;
  const c = ctx(lang);
  const f = field ? c.field(field) : c.zh ? '该项' : 'this value';
  const pair = REASONS[code](params && typeof params === 'object' ? params : {}, f, c, field ?? undefined);
  return c.zh ? pair[0] : pair[1];
}

/**
 * A refusal in words: an outbox entry's (`error_code`, `error_params`, `error_field`,
 * `error_row`, `error`) or an API error's (`{code, message, details}` or `{error: {…}}`). A
 * `422 invalid_record` is worded by its first row error. A code this module does not know comes
 * back as the server's message.
 * @param {Refusal | null | undefined} x
 * @param {Lang} lang
 * @returns {string}
 */
export function errorText(x, lang) {
  if (!x) return '';
  const api = x.error && typeof x.error === 'object' ? x.error : x;
  const isEntry = 'error_code' in x || 'error_row' in x || 'error_params' in x;
  /** @type {Params} */
  const details = (isEntry ? x.error_params : api.details) || {};
  const code = String((isEntry ? x.error_code : api.code) || '');
  const field = isEntry ? x.error_field : typeof details.field === 'string' ? details.field : null;
  const row = isEntry ? x.error_row : Array.isArray(details.errors) ? details.errors[0] : null;
  const message = isEntry ? (typeof x.error === 'string' ? x.error : '') : String(api.message || '');
  if (code === 'invalid_record' && row?.code) {
    return reasonText(row.code, row.params, row.field, lang) || message || row.code;
  }
  if (code === 'invalid_record' && field && Object.prototype.hasOwnProperty.call(FIELDS, field)) {
    // A constraint of the table, or an entry kept before the row was: the field it names.
    return reasonText('invalid_field', {}, field, lang) || message;
  }
  return reasonText(code, details, field, lang) || message || code;
}
