// Why the server refused something, in the reader's language. Every error the API sends has a
// stable `code` (and a field error in `details.errors[]` its `code` and `params`); the English
// `message`/`reason` is for files and the command line and never reaches a Chinese screen.
// `reasonText(code, params, field)` words one code, `errorMessage(e)` a whole API error.
// The list of codes is docs/API.md "Reason codes"; tests/tests/reason_codes.rs fails when the
// server emits a code that has no entry here.
import type { ApiError } from './api';
import { lang } from './i18n';
import { LABELS, label, type LabelGroup } from './labels';

type Params = Record<string, unknown>;
type Pair = [zh: string, en: string];

const zhMode = () => lang.value === 'zh';
const pick = (p: Pair) => (zhMode() ? p[0] : p[1]);

/** Every field name of the registers (records/spec.rs), the link fields and the other forms. */
export const FIELDS: Record<string, Pair> = {
  // Link fields.
  village_code: ['村代码', 'village code'], village: ['村', 'village'], township: ['乡镇', 'township'],
  // Stock transfers (date_order on received_on).
  issued_on: ['调拨日期', 'issue date'], received_on: ['接收日期', 'receipt date'],
  used_on: ['发放日期', 'hand-out date'], adjusted_on: ['调整日期', 'adjustment date'],
  lon: ['经度', 'longitude'], lat: ['纬度', 'latitude'], geometry: ['边界', 'boundary'], remote: ['偏远村', 'remote'],
  // Registers.
  action: ['处置方式', 'action'], activity: ['活动内容', 'activity'], address: ['住址', 'address'],
  adherence_pct: ['服药依从性（%）', 'adherence (%)'], adverse_events: ['不良反应', 'adverse events'],
  age_class: ['年龄组', 'age class'], aware: ['知晓人数', 'aware'], batch: ['批号', 'batch'],
  birth_date: ['出生日期', 'birth date'], birth_year: ['出生年份', 'birth year'], camels: ['骆驼', 'camels'],
  campaign: ['免疫计划', 'campaign'], case_id: ['病例', 'case'], case_type: ['病例类型', 'case type'], cattle: ['牛', 'cattle'],
  ce_stage: ['囊型分型（CE）', 'CE stage'], collar_id: ['项圈编号', 'collar id'], diagnosed_on: ['诊断日期', 'diagnosed on'],
  diagnosis_class: ['诊断分类', 'diagnosis class'], discovery_route: ['发现途径', 'discovery route'],
  disposal_done: ['是否已无害化处理', 'disposal done'], disposal_facility: ['无害化处理设施', 'disposal facility'],
  disposal_method: ['处理方式', 'disposal method'], dissected: ['解剖数', 'dissected'], dog_id: ['犬只', 'dog'],
  dog_kind: ['犬只类型', 'dog kind'], dog_tag: ['犬牌号', 'dog tag'], dogs_estimated: ['犬只估计数', 'dogs (estimate)'],
  dosed_on: ['投药日期', 'dosed on'], dose_mg: ['剂量（mg）', 'dose (mg)'], dose_mg_per_kg: ['剂量（mg/kg）', 'dose (mg/kg)'],
  doses: ['用苗量（头份）', 'doses'], drug: ['药物', 'drug'], due_on: ['应随访日期', 'due on'], ended_on: ['结束日期', 'ended on'],
  ends_on: ['结束日期', 'ends on'], ethnicity: ['民族', 'ethnicity'], examined_on: ['检查日期', 'examined on'],
  examiner: ['检查者', 'examiner'], expires_on: ['有效期至', 'expires on'], given_by: ['投药人', 'given by'],
  goats: ['山羊', 'goats'], head_name: ['户主姓名', 'head of household'], held_on: ['活动日期', 'held on'],
  horses: ['马', 'horses'], hospital: ['医院', 'hospital'], household_id: ['户', 'household'],
  household_no: ['户编号', 'household number'], households: ['户数', 'households'], id_number: ['身份证号', 'ID number'],
  immunised: ['免疫数', 'immunised'], infected: ['感染数', 'infected'], inspected_on: ['检疫日期', 'inspected on'],
  inspector: ['检疫员', 'inspector'], item_code: ['物资编码', 'item code'], item_id: ['物资', 'item'],
  item_kind: ['物资类别', 'item kind'], item_name: ['物资名称', 'item name'], kind: ['类型', 'kind'], lab: ['检测单位', 'laboratory'],
  largest_cyst_mm: ['最大囊径（mm）', 'largest cyst (mm)'], licence: ['许可证号', 'licence'], max_age: ['最大年龄', 'maximum age'],
  method: ['方法', 'method'], min_age: ['最小年龄', 'minimum age'], modality: ['检查方式', 'modality'], moved_on: ['出入库日期', 'moved on'],
  movement_kind: ['出入库类型', 'movement kind'], name: ['姓名/名称', 'name'], n_dogs: ['犬只数', 'number of dogs'],
  nndrs_id: ['传染病报告卡编号', 'NNDRS report id'], notes: ['备注', 'notes'], note: ['备注', 'note'],
  occupation: ['职业', 'occupation'], occurred_on: ['发生日期', 'occurred on'], onset_on: ['发病日期', 'onset on'],
  organ: ['感染部位', 'organ'], outcome: ['随访结果', 'outcome'], participants: ['参加人数', 'participants'],
  pastoral: ['牧业户', 'pastoral'], person_id: ['人员', 'person'], phone: ['电话', 'phone'], pnm_m: ['PNM 分期 M', 'PNM M'],
  pnm_n: ['PNM 分期 N', 'PNM N'], pnm_p: ['PNM 分期 P', 'PNM P'], point_code: ['屠宰点编码', 'slaughter point code'],
  point_id: ['屠宰点', 'slaughter point'], point_kind: ['屠宰点类型', 'slaughter point kind'],
  point_name: ['屠宰点名称', 'slaughter point name'], population: ['人口数', 'population'], positives: ['阳性数', 'positives'],
  procedure: ['手术方式', 'procedure'], quantity: ['数量', 'quantity'], registered_on: ['登记日期', 'registered on'],
  reported_by: ['报告人', 'reported by'], reported_on: ['报告日期', 'reported on'], reporting_unit: ['报告单位', 'reporting unit'],
  respondents: ['调查人数', 'respondents'], result: ['检测结果', 'result'], sample_id: ['样品编号', 'sample id'],
  sampled_on: ['采样日期', 'sampled on'], scanned_barcode: ['扫描条码', 'scanned barcode'], screened: ['筛查人数', 'screened'],
  screened_on: ['筛查日期', 'screened on'], sex: ['性别', 'sex'], sheep: ['绵羊', 'sheep'], site: ['地点', 'site'],
  slaughtered: ['屠宰数', 'slaughtered'], species: ['畜种', 'species'], started_on: ['开始日期', 'started on'],
  starts_on: ['开始日期', 'starts on'], status: ['状态', 'status'], status_on: ['状态日期', 'status since'],
  subsidy_yuan: ['补助金额（元）', 'subsidy (yuan)'], surveyed_on: ['调查日期', 'surveyed on'], target: ['应免数', 'target'],
  target_group: ['目标人群', 'target group'], team: ['筛查队', 'team'], tested_on: ['检测日期', 'tested on'],
  trapped: ['捕获数', 'trapped'], ultrasound_done: ['是否B超检查', 'ultrasound done'], unit: ['单位', 'unit'],
  vaccinated_on: ['免疫日期', 'vaccinated on'], vaccine: ['疫苗', 'vaccine'], visited_by: ['随访人', 'visited by'],
  visited_on: ['随访日期', 'visited on'], year: ['年份', 'year'],
  // The stock_movements import's columns.
  store_code: ['库房编码', 'store code'], to_store_code: ['接收库房编码', 'receiving store code'],
  township_code: ['接收乡镇代码', 'receiving township code'], supplier: ['供货单位', 'supplier'],
  reference: ['单据号', 'reference'], reason: ['原因', 'reason'],
  // Accounts, tokens, quality reviews.
  username: ['用户名', 'username'], password: ['密码', 'password'], new_password: ['新密码', 'new password'],
  display_name: ['显示名', 'display name'], role: ['角色', 'role'], jurisdiction: ['辖区', 'jurisdiction'],
  expires_in_days: ['有效天数', 'days valid'],
  // Parameters of lists and imports.
  limit: ['每页条数', 'page size'], from: ['开始日期', 'from'], to: ['结束日期', 'to'], period: ['时期', 'period'],
  format: ['文件格式', 'file format'], mode: ['导入方式', 'mode'], crs: ['坐标系', 'coordinate system'], q: ['搜索', 'search'],
};

/** The registers, as `what` and `register` parameters name them. */
export const REGISTERS: Record<string, Pair> = {
  households: ['户', 'household'], people: ['人员', 'person'], dogs: ['犬只', 'dog'], dewormings: ['驱虫记录', 'deworming'],
  faecal_tests: ['犬粪检测', 'faecal test'], stray_dog_events: ['无主犬处置', 'stray dog event'],
  slaughter_points: ['屠宰点', 'slaughter point'], slaughter_inspections: ['屠宰检疫', 'slaughter inspection'],
  vaccination_campaigns: ['免疫计划', 'vaccination campaign'], vaccinations: ['羊免疫', 'vaccination'],
  livestock_census: ['村年度基数', 'village census'], village_denominators: ['村年度基数', 'village census'],
  rodent_surveys: ['鼠类调查', 'rodent survey'], cases: ['病例', 'case'], imaging_exams: ['影像检查', 'imaging exam'],
  treatments: ['治疗', 'treatment'], followups: ['随访', 'follow-up'], screening_campaigns: ['筛查', 'screening'],
  health_education: ['健康教育', 'health education'], stock_items: ['物资品目', 'stock item'],
  stock_movements: ['物资出入库', 'stock movement'],
};

/** A field's name in the current language (the name itself when unknown). */
export function fieldName(name: unknown): string {
  const p = FIELDS[String(name)];
  return p ? pick(p) : String(name ?? '');
}

function registerName(name: unknown): string {
  const p = REGISTERS[String(name)];
  return p ? pick(p) : String(name ?? '');
}

/** An enumeration value in words, when labels.ts knows its type. */
function enumValue(type: unknown, value: unknown): string {
  const t = String(type ?? '');
  return t in LABELS ? label(t as LabelGroup, value) : String(value);
}

const list = (xs: unknown, f: (x: unknown) => string = String) =>
  (Array.isArray(xs) ? xs : []).map(f).join(zhMode() ? '、' : ', ');

type Candidate = { code?: string; name?: string; township_name?: string };
const villageText = (c: unknown) => {
  const v = (c ?? {}) as Candidate;
  return zhMode() ? `${v.name ?? ''}（${v.township_name ?? ''}，${v.code ?? ''}）` : `${v.name ?? ''} (${v.township_name ?? ''}, ${v.code ?? ''})`;
};
// Thousands separators only where they help (100,000,000), not in years (1990).
const num = (v: unknown) =>
  typeof v === 'number' && Math.abs(v) >= 10000 ? v.toLocaleString(zhMode() ? 'zh-CN' : 'en') : String(v ?? '');

/** Words for one code: (params, the field's name in words, the raw field name). */
type Wording = (p: Params, f: string, field: string | undefined) => Pair;

const L = (zh: string, en: string): Pair => [zh, en];

export const REASONS: Record<string, Wording> = {
  // One value.
  required: (_, f) => L(`请填写${f}`, `${f} is required`),
  too_long: (p, f) => L(`${f}不能超过 ${num(p.max)} 个字`, `${f} is longer than ${num(p.max)} characters`),
  not_a_number: (_, f) => L(`${f}应为数字`, `${f} must be a number`),
  not_whole: (_, f) => L(`${f}应为整数`, `${f} must be a whole number`),
  out_of_range: (p, f) => L(`${f}应在 ${num(p.min)} 到 ${num(p.max)} 之间`, `${f} must be between ${num(p.min)} and ${num(p.max)}`),
  bad_date: (_, f) => L(`${f}不是有效日期（例如 2024-03-05）`, `${f} is not a date (e.g. 2024-03-05)`),
  bad_bool: (_, f) => L(`${f}应为“是”或“否”`, `${f} must be yes or no`),
  bad_enum: (p, f) => L(
    `${f}的值无效，可选：${list(p.expected, (v) => enumValue(p.type, v))}`,
    `${f} is not one of: ${list(p.expected, (v) => enumValue(p.type, v))}`,
  ),
  id_number_length: (p) => L(`身份证号应为 18 位（17 位数字加校验位 0–9 或 X），现为 ${num(p.length)} 位`, `an ID number has 18 characters (17 digits and a check character), not ${num(p.length)}`),
  id_number_checksum: () => L('身份证号校验位不正确，请核对号码', 'the ID number\'s check character is wrong: check the number'),
  id_number_birth_date: () => L('身份证号中的出生日期无效', 'the birth date in the ID number is not a date'),
  id_number_region: (p) => L(`身份证号前两位 ${p.region ?? ''} 不是省级行政区划代码，请核对号码`, `the ID number starts with ${p.region ?? ''}, which is no province's code: check the number`),
  bad_phone: (p) => L(`电话号码应为 ${num(p.min)}–${num(p.max)} 位数字（可含空格、+、-）`, `a phone number is ${num(p.min)} to ${num(p.max)} digits, spaces, + or -`),
  // The position and the village.
  lat_without_lon: () => L('只填了纬度，请同时填写经度', 'latitude without longitude: give both'),
  lon_without_lat: () => L('只填了经度，请同时填写纬度', 'longitude without latitude: give both'),
  position_required: () => L('请填写位置（经度和纬度）', 'a position (longitude and latitude) is required'),
  bad_coordinate: (p) => {
    const axis = p.axis === 'lat' ? L('纬度', 'latitude') : L('经度', 'longitude');
    return L(`${axis[0]}应在 ${num(p.min)} 到 ${num(p.max)} 之间`, `${axis[1]} must be between ${num(p.min)} and ${num(p.max)}`);
  },
  outside_county: (p) => L(`该位置（经度 ${p.lon}，纬度 ${p.lat}）不在本县范围内`, `the point (lon ${p.lon}, lat ${p.lat}) lies outside the county`),
  village_too_far: (p) => L(
    `该位置 ${num(p.max_distance_m)} 米内没有村，最近的是${villageText(p.nearest)}，相距 ${num(p.distance_m)} 米`,
    `no village within ${num(p.max_distance_m)} m: the nearest, ${villageText(p.nearest)}, is ${num(p.distance_m)} m away`,
  ),
  no_villages: () => L('系统中还没有村的数据，无法匹配村', 'there are no villages to link to yet'),
  bad_code: (p, f) => L(`${f}应为 ${num(p.digits)} 位数字`, `${f} must be ${num(p.digits)} digits`),
  village_not_found: (p) => {
    if (p.code) return L(`没有代码为 ${p.code} 的村`, `no village has code ${p.code}`);
    const inTown = p.township ? L(`（在${p.township}）`, ` (in ${p.township})`) : L('', '');
    const closest = p.closest ? L(`；是否为${villageText(p.closest)}？`, `; did you mean ${villageText(p.closest)}?`) : L('', '');
    const elsewhere = Array.isArray(p.elsewhere) && p.elsewhere.length
      ? L(`；其他乡镇有同名村：${list(p.elsewhere, villageText)}`, `; villages of that name elsewhere: ${list(p.elsewhere, villageText)}`)
      : L('', '');
    return L(`找不到村“${p.name ?? ''}”${inTown[0]}${closest[0]}${elsewhere[0]}`, `no village named “${p.name ?? ''}”${inTown[1]}${closest[1]}${elsewhere[1]}`);
  },
  township_not_found: (p) => L(`找不到乡镇“${p.township ?? ''}”`, `no township has code or name “${p.township ?? ''}”`),
  village_ambiguous: (p) => L(
    `村名“${p.name ?? ''}”对应多个村：${list(p.candidates, villageText)}；请同时填写乡镇或改填村代码`,
    `the village name “${p.name ?? ''}” is ambiguous: ${list(p.candidates, villageText)}; give the township or the village code`,
  ),
  village_required: () => L('请选择村（村代码，或村名和乡镇，或经纬度）', 'the village is required: give its code, its name (and township) or a position'),
  outside_jurisdiction: (p) => L(`村 ${p.village ?? ''} 不在您的辖区（${p.jurisdiction ?? ''}）内`, `village ${p.village ?? ''} lies outside your jurisdiction ${p.jurisdiction ?? ''}`),
  bad_geometry: () => L('边界不是有效的 GeoJSON 多边形', 'the boundary is not a GeoJSON polygon'),
  // What the database knows.
  reference_not_found: (p) => p.value === null || p.value === undefined
    ? L(`未能找到对应的${registerName(p.what)}：请填写${fieldName(p.key)}`, `no ${registerName(p.what)} given: fill in ${fieldName(p.key)}`)
    : L(`找不到${fieldName(p.key)}为“${p.value}”的${registerName(p.what)}`, `no ${registerName(p.what)} with ${fieldName(p.key)} “${p.value}”`),
  reference_ambiguous: (p) => L(
    `${fieldName(p.key)}“${p.value ?? ''}”同时属于 ${p.n ?? 2} 条${registerName(p.what)}记录：请县级先合并重复记录`,
    `${p.n ?? 2} ${registerName(p.what)} records have ${fieldName(p.key)} “${p.value ?? ''}”: the county merges them first`,
  ),
  record_not_found: (p) => L(
    `找不到${p.id !== undefined ? `编号 ${p.id} 的` : '该'}记录（可能已删除，或不在您的辖区内）`,
    `no record${p.id !== undefined ? ` with id ${p.id}` : ''} (deleted, or outside your jurisdiction)`,
  ),
  duplicate: (p) => L(`已有关键信息相同的记录（编号 ${p.id ?? ''}），请修改该记录`, `a record with the same key exists (id ${p.id ?? ''}): edit it instead`),
  duplicate_in_file: (p) => L(`与第 ${p.row ?? ''} 行是同一条记录（关键信息相同）`, `the same record as row ${p.row ?? ''}`),
  // A JSON body.
  unknown_field: (_, f) => L(`该登记没有字段“${f}”`, `this register has no field “${f}”`),
  bad_json_value: (_, f) => L(`${f}的值应为文字、数字或是/否`, `${f} must be text, a number or yes/no`),
  person_field: (_, f) => L(`${f}属于人员信息，请在人员记录中修改`, `${f} belongs to the person: change it on the person's record`),
  // Rules across fields.
  date_order: (p) => L(`${fieldName(p.second)}不能早于${fieldName(p.first)}`, `${fieldName(p.second)} cannot be before ${fieldName(p.first)}`),
  not_more: (p) => L(`${fieldName(p.part)}不能大于${fieldName(p.whole)}`, `${fieldName(p.part)} cannot exceed ${fieldName(p.whole)}`),
  needs: (p) => L(
    `${fieldName(p.if_field)}为${list(p.if_values, (v) => enumValue(p.type, v))}时须填写${fieldName(p.field)}`,
    `${fieldName(p.field)} is required when ${fieldName(p.if_field)} is ${list(p.if_values, (v) => enumValue(p.type, v))}`,
  ),
  together: (p) => {
    const fields = Array.isArray(p.fields) ? p.fields : [];
    const names = fields.length === 2 ? L(`${fieldName(fields[0])}和${fieldName(fields[1])}`, `${fieldName(fields[0])} and ${fieldName(fields[1])}`)[zhMode() ? 0 : 1] : list(fields, fieldName);
    return L(`${names}须同时填写或同时不填`, `${names} go together: give all or none`);
  },
  dog_status_on: () => L('犬只不再在养（死亡、迁出、扑杀）时须填写状态日期', 'a dog that is no longer alive needs the date since when'),
  person_sex_birth_date: () => L('没有身份证号时须填写性别和出生日期', 'without an ID number, sex and birth date are required'),
  stage_ce_or_pnm: () => L('囊型填写 CE 分型，泡型填写 PNM 的 P、N、M 三项；二者只填其一', 'give either the CE stage (CE) or all of P, N and M (AE), not both'),
  issue_needs_village: () => L('出库须填写接收库房、乡镇代码或村；使用须填写村', 'an issue names where it goes (receiving store, township code or village); a use names the village'),
  only_adjustment_negative: () => L('数量不能为0，只有“调整”可以填负数', 'a quantity is never zero, and only an adjustment may be negative'),
  organ_matches_infected: () => L('有感染（感染数大于0）时须填写感染脏器；无感染时脏器填“无”', 'with infected animals give the organ; with none infected the organ is “none”'),
  disposal_done_needs_method: () => L('已无害化处理时须填写处理方式（不能为“未处理”）', 'a disposal done needs its method (not “none”)'),

  // Top-level errors: requests and parameters.
  bad_request: () => L('请求无效', 'the request is not valid'),
  invalid_parameter: (_, f, field) => (field ? L(`参数“${f}”无效`, `the parameter “${f}” is not valid`) : L('请求参数无效', 'a parameter is not valid')),
  invalid_query: () => L('网址中的查询参数无效', 'the query parameters are not valid'),
  invalid_path: () => L('网址无效', 'the address is not valid'),
  invalid_json: () => L('提交的内容不是有效的 JSON', 'the body is not valid JSON'),
  invalid_body: () => L('提交的内容格式不正确', 'the body is not in the expected form'),
  invalid_text: () => L('内容含有无法保存的字符，请删除后重试', 'a value contains a character that cannot be stored'),
  invalid_field: (_, f, field) => (field ? L(`${f}的值无效`, `the value of ${f} is not valid`) : L('有字段的值无效', 'a value is not valid')),
  invalid_record: () => L('记录有误，请修改标出的字段', 'the record has errors: correct the marked fields'),
  invalid_idempotency_key: () => L('请求编号（Idempotency-Key）应为 8–128 个字符', 'the Idempotency-Key is 8 to 128 characters'),
  method_not_allowed: () => L('不支持此操作', 'this method is not allowed here'),
  request_timeout: () => L('请求超时，请重试', 'the request timed out: try again'),
  body_too_large: () => L('提交的内容过大', 'the body is too large'),
  uri_too_long: () => L('网址过长', 'the address is too long'),
  unsupported_media_type: () => L('不支持此内容类型', 'this content type is not supported'),
  // Access.
  login_required: () => L('请先登录', 'please log in'),
  invalid_credentials: () => L('登录已失效，请重新登录', 'your login is no longer valid: log in again'),
  invalid_login: () => L('用户名或密码错误，请检查后重试', 'wrong username or password'),
  locked: () => L('此用户名在本机登录失败次数过多，请稍后再试', 'too many failed logins for this name: try again later'),
  too_many_attempts: () => L('本机登录尝试过多，请稍后再试', 'too many login attempts from this address: try again later'),
  password_expired: () => L('密码已过期，请修改密码或联系管理员重置', 'the password has expired: change it or ask an administrator'),
  csrf: () => L('页面已过期，请刷新后重试', 'the page is out of date: reload it and try again'),
  forbidden: () => L('您的角色或辖区无权进行此操作', 'your role or jurisdiction does not allow this'),
  county_register: () => L('此登记属于全县，只有县级账号可以修改', 'this register belongs to the whole county: only county accounts change it'),
  quality_reviewer: () => L('数据质量问题由流行病学专业人员或系统管理员标记为已审核', 'findings are marked as reviewed by epidemiologists and administrators'),
  // Not found.
  not_found: () => L('找不到所请求的内容', 'not found'),
  case_not_found: () => L('找不到该病例（可能已删除，或不在您的辖区内）', 'no such case (deleted, or outside your jurisdiction)'),
  duplicate_not_found: () => L('找不到该疑似重复记录', 'no such possible duplicate'),
  finding_not_found: () => L('找不到该数据质量问题', 'no such finding'),
  review_not_found: () => L('找不到该审核记录', 'no such review'),
  import_not_found: () => L('找不到该导入（错误清单只保留最近的导入，服务器重启后清空）', 'no such import (error sheets are kept for recent imports until the server restarts)'),
  template_not_found: () => L('找不到该导入模板', 'no such import template'),
  report_not_found: () => L('找不到该报表', 'no such report'),
  token_not_found: () => L('找不到该令牌', 'no such token'),
  unit_not_found: () => L('找不到该地区', 'no such area'),
  user_not_found: () => L('找不到该用户', 'no such user'),
  worklist_not_found: () => L('找不到该工作清单', 'no such work list'),
  unknown_export: () => L('没有这种导出', 'no such export'),
  unknown_register: () => L('没有这个登记', 'no such register'),
  unknown_layer: () => L('没有这个图层', 'no such layer'),
  no_data_for_period: () => L('该时期没有数据', 'no data for this period'),
  // Conflicts.
  duplicate_record: () => L('已有关键信息相同的记录，请修改该记录而不是新增', 'a record with the same key exists: edit it instead'),
  record_in_use: () => L('该记录被其他记录引用，不能删除', 'other records refer to this record: it cannot be deleted'),
  merge_conflict: () => L('这两条记录无法合并', 'these records cannot be merged'),
  user_exists: () => L('该用户名已存在', 'this username exists'),
  last_admin: () => L('不能停用或降级最后一个系统管理员', 'the last administrator cannot be disabled or demoted'),
  cannot_disable_self: () => L('不能停用自己的账号', 'you cannot disable your own account'),
  password_change_required: () => L('管理员已重置您的密码：请先设置新密码', 'an administrator reset your password: choose a new one first'),
  weak_password: () => L('密码不符合要求：至少 10 个字符，且不能是常见密码或与用户名相同', 'the password is too weak: at least 10 characters, not a common password, not the username'),
  // WeChat sign-in and binding (server/src/http/wechat.rs, issue 21).
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
  binding_not_found: () => L('找不到该微信绑定（可能已解除）', 'no such WeChat binding (unbound already?)'),
  not_a_wechat_session: () => L('当前登录不是小程序会话', 'this is not a mini-program session'),
  account_disabled: () => L('该账号已停用，请联系管理员', 'this account is disabled: ask an administrator'),
  // Imports.
  import_refused: (p) => L(
    `${num(p.rejected)} 行有错误（共 ${num(p.read)} 行），未写入任何记录。请下载错误清单修改后重新上传，或选择只写入无误的行。`,
    `${num(p.rejected)} of ${num(p.read)} rows have errors; nothing was written. Fix them and upload again, or import the valid rows only.`,
  ),
  bad_headers: (p) => Array.isArray(p.missing)
    ? L(`文件缺少必需的列：${list(p.missing, fieldName)}`, `the file lacks required columns: ${list(p.missing, fieldName)}`)
    : L(`两列对应同一字段${p.field ? `“${fieldName(p.field)}”` : ''}：${list(p.columns)}`, `two columns mean the same field${p.field ? ` ${fieldName(p.field)}` : ''}: ${list(p.columns)}`),
  not_the_format: () => L('文件格式与所选格式不符（CSV、XLSX 或 GeoJSON）', 'the file is not in the format chosen (CSV, XLSX or GeoJSON)'),
  file_too_large: () => L('文件过大（上限 200 MB），请拆分后上传', 'the file is too large (limit 200 MiB): split it'),
  wrong_encoding: (p) => L(`文件既不是 UTF-8 也不是 GBK 编码${p.row ? `（第 ${p.row} 行）` : ''}，请另存为“CSV UTF-8”`, `the file is neither UTF-8 nor GBK${p.row ? ` (line ${p.row})` : ''}: save it as CSV UTF-8`),
  unknown_sheet: () => L('工作簿中没有指定的工作表', 'the workbook has no such sheet'),
  empty_file: () => L('文件是空的', 'the file is empty'),
  malformed_file: (p) => L(`文件无法读取${p.row ? `（第 ${p.row} 行）` : ''}`, `the file cannot be read${p.row ? ` (row ${p.row})` : ''}`),
  unknown_kind: () => L('没有这种导入类型', 'no such import kind'),
  invalid_upload: () => L('上传的文件无法读取（上限 200 MB）', 'the upload could not be read (limit 200 MiB)'),
  export_too_large: () => L('导出的数据过多，请缩小范围（时期或地区）', 'the export is too large: narrow it (period or area)'),
  not_computable: () => L('数据不足，无法计算', 'not enough data to compute this'),
  // The server.
  internal: () => L('服务器出错，请稍后重试；如仍失败请联系管理员。', 'internal error; try again later, or ask the administrator'),
  database_unavailable: () => L('数据库暂时无法连接，请稍后重试', 'the database is not reachable: try again shortly'),
  query_timeout: () => L('查询时间过长，请缩小范围（较短的时期或较小的地区）或稍后重试', 'the query took too long: narrow it or try again later'),
  disk_full: () => L('数据库磁盘已满，未保存任何内容；请联系管理员', 'the database disk is full: nothing was saved; tell the administrator'),
  insufficient_resources: () => L('数据库资源不足，未保存任何内容；请稍后重试', 'the database is short of resources: nothing was saved; try again shortly'),
  network: () => L('无法连接服务器，请检查网络后重试。', 'cannot reach the server: check the network and try again.'),
  // Stock: the ledger's own refusals (programme/src/stock/mod.rs).
  stock_negative: (p) => {
    const batch = String(p.batch ?? '');
    return batch
      ? L(`库存不足：批号 ${batch} 现有 ${num(p.available)}，不够出库 ${num(p.asked)}`, `not enough stock: lot ${batch} holds ${num(p.available)}, ${num(p.asked)} cannot be taken out`)
      : L(`库存不足：该库房没有可发出的未过期批次（需要 ${num(p.asked)}）`, `not enough stock: no unexpired lot in this store (${num(p.asked)} asked)`);
  },
  lot_expired: (p) => L(`批号 ${p.batch ?? ''} 已于 ${p.expires_on ?? ''} 过期，过期批次不能发出`, `lot ${p.batch ?? ''} expired on ${p.expires_on ?? ''}: an expired lot cannot be issued`),
  store_outside_jurisdiction: () => L('该库房不在您的辖区内，不能在此操作', 'this store lies outside your jurisdiction'),
  store_not_found: () => L('找不到该库房', 'no such store'),
  ledger_append_only: () => L('出入库台账不能修改或删除；更正请新增一条调整记录', 'the stock ledger is append-only: a correction is a new movement'),
  // Stock: the catalogue and the ledger (programme/src/stock/catalogue.rs, ledger.rs).
  item_not_found: () => L('找不到该物资品目', 'no such stock item'),
  item_inactive: () => L('该物资品目已停用，不能再出入库', 'this stock item is no longer in use'),
  item_exists: () => L('已有相同编码的物资品目', 'an item has this code already'),
  barcode_exists: () => L('该条码已对应其他品目或批次', 'this code is mapped already'),
  barcode_not_found: () => L('找不到该条码', 'no such barcode'),
  lot_not_found: () => L('找不到该批次（或该批次不在本次调拨中）', 'no such lot (or it was not sent with this transfer)'),
  lot_expiry_mismatch: (p) => L(
    `批号 ${p.batch ?? ''} 已登记的有效期为 ${p.expires_on ?? '（无）'}，与填写的 ${p.given ?? ''} 不符`,
    `lot ${p.batch ?? ''} is recorded as expiring on ${p.expires_on ?? '(none)'}, not ${p.given ?? ''}`,
  ),
  transfer_not_found: () => L('找不到该调拨单', 'no such transfer'),
  transfer_received: (p) => L(`该调拨单已于 ${p.received_on ?? ''} 接收，不能重复接收`, `this transfer was received on ${p.received_on ?? ''} already`),
  difference_needs_note: () => L('实收数量与发出数量不符，请在备注中说明原因', 'what was received differs from what was sent: say why in the note'),
  store_inactive: (p) => L(`库房 ${p.code ?? ''} 已停用，不能出入库`, `the store ${p.code ?? ''} is closed: no movements`),
  store_exists: () => L('已有相同编码的库房', 'a store has this code already'),
  village_outside_store: (p) => L(
    `村 ${p.code ?? ''} 不在库房 ${p.store ?? ''} 的服务范围内（或不在您的辖区内）`,
    `the village ${p.code ?? ''} is not served by the store ${p.store ?? ''} (or lies outside your jurisdiction)`,
  ),
  date_in_future: (p) => L(`日期 ${p.date ?? ''} 晚于今天（${p.today ?? ''}），不能登记`, `the date ${p.date ?? ''} is after today (${p.today ?? ''})`),
  idempotency_key_reused: () => L('该请求编号（Idempotency-Key）已用于另一项操作，请使用新的编号', 'this Idempotency-Key was used for another write: use a new one'),
  barcode_conflict: () => L('该条码正在被同时登记，请重试', 'this code is being mapped at the same moment: try again'),
  // The stock_movements import (programme/src/stock/import.rs).
  same_store: (p) => L(`库房 ${p.store ?? ''} 不能调拨给自己`, `the store ${p.store ?? ''} cannot issue to itself`),
  // Stock counts (programme/src/stock/count.rs).
  count_open: (p) => L(`该库房已有未完成的盘点${p.count_id ? `（编号 ${p.count_id}）` : ''}，请先完成或取消`, `this store has an open count${p.count_id ? ` (${p.count_id})` : ''}: finalise or cancel it first`),
  count_not_found: () => L('找不到该盘点', 'no such stock count'),
  count_finalised: () => L('该盘点已完成，不能再修改', 'this count is finalised: it takes no more changes'),
  count_cancelled: () => L('该盘点已取消，不能再修改', 'this count was cancelled: it takes no more changes'),
  count_recount: (p) => L(
    `盘点期间有 ${Array.isArray(p.lines) ? p.lines.length : ''} 个批次发生了出入库，请重新盘点标出的行`,
    `stock moved during the count: count the ${Array.isArray(p.lines) ? p.lines.length : ''} marked line(s) again`,
  ),
  reason_required: (p) => L(
    `有 ${Array.isArray(p.lines) ? p.lines.length : ''} 行实盘数与账面数不符，请先为每行选择差异原因`,
    `${Array.isArray(p.lines) ? p.lines.length : ''} line(s) differ from the book: give each a reason first`,
  ),
  lot_ambiguous: (p) => L(
    `该条码只标明了品目${(p.item as { name?: string } | undefined)?.name ?? ''}，未标明批号：请选择批次`,
    `the code names the item ${(p.item as { name?: string } | undefined)?.name ?? ''} but not its lot: choose the lot`,
  ),
  // A scan that is not a barcode echinomap reads (domain/src/barcode.rs; params: ai, position, value).
  barcode_empty: () => L('没有读到条码内容，请重新扫描', 'the scan was empty: scan again'),
  barcode_bad_character: (p) => L(`条码第 ${num(Number(p.position ?? 0) + 1)} 位有不能识别的字符，请重新扫描`, `the code has a character it cannot have at position ${num(Number(p.position ?? 0) + 1)}: scan again`),
  barcode_check_digit: () => L('条码校验位不对（商品条码 GTIN 的最后一位），可能扫错或条码损坏，请重新扫描', 'the GTIN\'s check digit is wrong: a misread or a damaged label, scan again'),
  barcode_unknown_ai: (p) => L(`条码含有不认识的 GS1 应用标识符 (${p.ai ?? ''})`, `the code holds a GS1 application identifier echinomap does not read (${p.ai ?? ''})`),
  barcode_truncated: (p) => L(`条码不完整：应用标识符 (${p.ai ?? ''}) 的内容被截断，请重新扫描`, `the code is cut short: the value of (${p.ai ?? ''}) is incomplete, scan again`),
  barcode_bad_date: (p) => L(`条码中的日期 (${p.ai ?? ''}) ${p.value ?? ''} 不是有效日期`, `the date (${p.ai ?? ''}) ${p.value ?? ''} in the code is not a valid date`),
  barcode_unknown_format: () => L('不是可识别的条码：GS1 码、商品条码、20 位药品追溯码或 24 位兽药追溯码', 'not a code echinomap reads: GS1, EAN/GTIN, a 20-digit drug or a 24-digit veterinary drug traceability code'),
  barcode_missing_gtin: () => L('GS1 条码里没有商品代码 (01)，无法确定品目', 'the GS1 code holds no GTIN (01): the item cannot be told'),
  barcode_unknown: (p) => L(`条码 ${p.code ?? ''} 尚未对应任何品目，请管理员在“品目与条码”中添加`, `no item has the code ${p.code ?? ''}: an administrator can map it to an item`),
};

/** The sentence for `code` with its `params`, about `field` if given, in the current language. */
export function reasonText(code: string, params: Params = {}, field?: string): string {
  const words = REASONS[code];
  const f = field ? fieldName(field) : L('该项', 'this value')[zhMode() ? 0 : 1];
  if (words) return pick(words(params ?? {}, f, field));
  // A code this client does not know yet: a general sentence, never the server's English.
  const tag = code ? ` (${code})` : '';
  return zhMode()
    ? field ? `${f}的值无法接受${tag}` : `操作未能完成${tag}`
    : field ? `the value of ${f} is not accepted${tag}` : `the request was refused${tag}`;
}

type RowErrorJson = { field?: string | null; code?: string; params?: Params; reason?: string };

/** The row errors of a 422 (`details.errors[]`). */
export function rowErrors(e: ApiError): RowErrorJson[] {
  const d = e.details as { errors?: RowErrorJson[] } | null;
  return d && typeof d === 'object' && Array.isArray(d.errors) ? d.errors : [];
}

/** One row error in words (field errors next to their field). */
export function rowErrorText(x: RowErrorJson): string {
  return x.code ? reasonText(x.code, x.params ?? {}, x.field ?? undefined) : reasonText('invalid_field', {}, x.field ?? undefined);
}

/** An API error in the current language: its code and details, never its English message (in
 *  English mode the message is used only for a code this client does not know). */
export function errorMessage(e: ApiError): string {
  const details = (e.details && typeof e.details === 'object' ? e.details : {}) as Params;
  const field = typeof details.field === 'string' ? details.field : undefined;
  if (e.code === 'invalid_record') {
    const first = rowErrors(e)[0];
    if (first) return rowErrorText(first);
  }
  if (REASONS[e.code]) return reasonText(e.code, details, field);
  if (!zhMode() && e.message) return e.message;
  if (e.status >= 500) return reasonText('internal');
  return reasonText(e.code || 'bad_request', details, field);
}
