// Names, not codes: the words a reader sees for the values the API sends (enumerations, roles,
// statistic classes, import kinds and states, H3 cells), Chinese first, English second.
// `label(group, value)` gives the word in the current language, or the value itself when the
// group does not know it (a new value shows up as itself rather than as nothing).
import { lang } from './i18n';

type Words = Record<string, [zh: string, en: string]>;

export const LABELS = {
  case_type: { CE: ['囊型', 'cystic (CE)'], AE: ['泡型', 'alveolar (AE)'] },
  case_status: {
    under_treatment: ['治疗中', 'under treatment'], watch_and_wait: ['观察等待', 'watch and wait'], cured: ['治愈', 'cured'],
    died: ['死亡', 'died'], lost_to_follow_up: ['失访', 'lost to follow-up'], lost: ['失访', 'lost to follow-up'],
    under_followup: ['随访中', 'under follow-up'],
  },
  diagnosis_class: { suspected: ['疑似', 'suspected'], clinical: ['临床诊断', 'clinical'], confirmed: ['确诊', 'confirmed'] },
  discovery_route: { screening: ['筛查', 'screening'], hospital_report: ['医院报告', 'hospital report'], follow_up: ['随访', 'follow-up'], other: ['其他', 'other'] },
  case_organ: {
    liver: ['肝', 'liver'], lung: ['肺', 'lung'], brain: ['脑', 'brain'], bone: ['骨', 'bone'], kidney: ['肾', 'kidney'],
    spleen: ['脾', 'spleen'], multiple: ['多器官', 'several organs'], other: ['其他', 'other'],
  },
  sex: { male: ['男', 'male'], female: ['女', 'female'], unknown: ['不详', 'unknown'] },
  animal_sex: { male: ['公', 'male'], female: ['母', 'female'], unknown: ['不详', 'unknown'] },
  imaging_modality: { ultrasound: ['B超', 'ultrasound'], ct: ['CT', 'CT'], mri: ['磁共振', 'MRI'], xray: ['X线', 'X-ray'] },
  treatment_kind: { albendazole: ['阿苯达唑', 'albendazole'], surgery: ['手术', 'surgery'], percutaneous: ['经皮治疗', 'percutaneous'] },
  followup_outcome: {
    stable: ['稳定', 'stable'], improved: ['好转', 'improved'], progressed: ['进展', 'progressed'], cured: ['治愈', 'cured'],
    died: ['死亡', 'died'], not_found: ['未找到', 'not found'],
  },
  role: {
    admin: ['系统管理员', 'administrator'], epidemiologist: ['流行病学专业人员', 'epidemiologist'],
    township_staff: ['乡镇防治人员', 'township staff'], village_doctor: ['村医', 'village doctor'], vet: ['兽医', 'veterinarian'],
    planner: ['规划人员', 'planner'], viewer: ['只读用户', 'viewer'],
    stock_keeper: ['库管员', 'stock keeper'],
  },
  lisa_cluster: {
    HH: ['高-高聚集（热点）', 'high-high cluster (hot spot)'], LL: ['低-低聚集（冷点）', 'low-low cluster (cold spot)'],
    HL: ['高-低异常（高值被低值包围）', 'high-low outlier'], LH: ['低-高异常（低值被高值包围）', 'low-high outlier'],
    ns: ['不显著', 'not significant'],
  },
  gi_star_bin: {
    '-3': ['冷点（99% 置信）', 'cold spot (99% confidence)'], '-2': ['冷点（95% 置信）', 'cold spot (95% confidence)'],
    '-1': ['冷点（90% 置信）', 'cold spot (90% confidence)'], '0': ['不显著', 'not significant'],
    '1': ['热点（90% 置信）', 'hot spot (90% confidence)'], '2': ['热点（95% 置信）', 'hot spot (95% confidence)'],
    '3': ['热点（99% 置信）', 'hot spot (99% confidence)'],
  },
  import_kind: {
    households: ['户', 'households'], people: ['人员', 'people'], dogs: ['犬只', 'dogs'], dewormings: ['驱虫', 'dewormings'],
    faecal_tests: ['犬粪检测', 'faecal tests'], stray_dog_events: ['流浪犬处置', 'stray dog events'],
    slaughter_points: ['屠宰点', 'slaughter points'], slaughter_inspections: ['屠宰检疫', 'slaughter inspections'],
    vaccination_campaigns: ['免疫活动', 'vaccination campaigns'], vaccinations: ['羊免疫', 'sheep vaccinations'],
    livestock_census: ['家畜存栏', 'livestock census'], rodent_surveys: ['鼠类调查', 'rodent surveys'], cases: ['病例', 'cases'],
    imaging_exams: ['影像检查', 'imaging exams'], treatments: ['治疗', 'treatments'], followups: ['随访', 'follow-ups'],
    screening_campaigns: ['筛查', 'screening'], health_education: ['健康教育', 'health education'],
    stock_items: ['物资', 'stock items'], stock_movements: ['物资出入库', 'stock movements'], villages: ['村（管理员）', 'villages (admin)'],
  },
  import_status: {
    succeeded: ['导入成功', 'imported'], refused: ['已拒绝：未写入任何记录', 'refused: nothing written'],
    dry_run: ['试导入（未写入）', 'dry run (nothing written)'], running: ['导入中…', 'importing…'], failed: ['失败', 'failed'],
    partial: ['部分写入', 'partly written'],
  },
  slaughter_point_kind: { designated: ['定点屠宰', 'designated'], informal: ['非定点屠宰', 'informal'] },
  dog_kind: { domestic_tethered: ['拴养家犬', 'tethered'], domestic_semi: ['半拴养犬', 'semi-free'], herding: ['牧犬', 'herding'], stray: ['流浪犬', 'stray'] },
  dog_status: { alive: ['在养', 'alive'], dead: ['死亡', 'dead'], moved: ['迁出', 'moved away'], culled: ['扑杀', 'culled'] },
  quality_check: {
    far_from_village: ['位置远离所属村', 'far from its village'], swapped_lat_lon: ['经纬度颠倒', 'latitude and longitude swapped'],
    future_date: ['日期晚于今天', 'date in the future'], id_number_mismatch: ['身份证号不符', 'ID number does not match'],
    duplicate_person: ['疑似重复人员', 'possible duplicate person'], dead_dog_dewormed: ['死亡/迁出犬仍有驱虫记录', 'dose after the dog died or left'],
    infected_over_slaughtered: ['感染数多于屠宰数', 'more infected than slaughtered'],
  },
  worklist: {
    followups: ['随访', 'follow-ups'], deworming: ['本月未驱虫犬只', 'dogs not dosed this month'],
    faecal_sampling: ['犬粪采样', 'faecal sampling'], vaccination: ['羊免疫进度', 'vaccination behind target'],
  },
  stage: {
    not_controlled: ['未达疫情控制', 'not yet controlled'], epidemic_control: ['疫情控制', 'epidemic control'],
    transmission_control: ['传播控制', 'transmission control'], transmission_interrupted: ['传播阻断', 'transmission interrupted'],
    eliminated: ['消除', 'eliminated'],
  },
  indicator: {
    human_prevalence: ['人群患病率', 'human prevalence'], dog_faecal_positivity: ['犬粪抗原阳性率', 'dog faecal antigen positivity'],
    livestock_infection: ['家畜患病率', 'livestock infection'], child_seropositivity: ['儿童血清阳性率', 'child seropositivity'],
    rodent_infection: ['鼠类感染率', 'rodent infection'], new_child_cases: ['新发儿童病例数', 'new child cases'],
    new_cases: ['新发本地病例数', 'new local cases'],
  },
  // Stock (issue 20).
  stock_item_kind: {
    praziquantel: ['吡喹酮', 'praziquantel'], albendazole: ['阿苯达唑', 'albendazole'], vaccine: ['疫苗', 'vaccine'],
    elisa_kit: ['检测试剂盒', 'ELISA kit'], other: ['其他', 'other'],
  },
  stock_store_kind: {
    county_cdc: ['县疾控中心', 'county CDC'], vet_station: ['畜牧兽医站', 'veterinary station'],
    township_centre: ['乡镇卫生院', 'township health centre'], village_clinic: ['村卫生室', 'village clinic'],
  },
  stock_movement_kind: {
    receipt: ['入库', 'receipt'], transfer_out: ['调拨出库', 'transfer out'], transfer_in: ['调拨入库', 'transfer in'],
    use: ['发放使用', 'use'], adjustment: ['调整', 'adjustment'], stocktake: ['盘点（旧）', 'stock-take (old)'],
  },
  stock_reason: {
    count_correction: ['盘点更正', 'count correction'], expired: ['过期', 'expired'], damaged: ['破损', 'damaged'],
    lost: ['丢失', 'lost'], returned: ['退回', 'returned'],
  },
  expiry_status: { expired: ['已过期', 'expired'], soon: ['临期', 'expiring soon'], ok: ['正常', 'ok'], unknown: ['无有效期', 'no expiry'] },
  stock_code_kind: { gtin: ['商品条码（GTIN）', 'GTIN'], cn_drug: ['药品追溯码', 'drug traceability code'], vet_drug: ['兽药追溯码', 'veterinary drug code'] },
  transfer_state: { in_transit: ['在途', 'in transit'], received: ['已接收', 'received'] },
  count_state: { open: ['进行中', 'open'], finalised: ['已完成', 'finalised'], cancelled: ['已取消', 'cancelled'] },
  recon_flag: {
    issued_above_recorded: ['发放远多于登记', 'issued far above recorded'], recorded_above_issued: ['登记多于发放（数据错误）', 'recorded above issued (data error)'],
    dosing_without_stock: ['无药发放却有投药记录', 'dosing without stock'],
  },
} satisfies Record<string, Words>;

export type LabelGroup = keyof typeof LABELS;

/** The word for `value` of `group` in the current language; the value itself when unknown. */
export function label(group: LabelGroup, value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const w = (LABELS[group] as Words)[String(value)];
  return w ? w[lang.value === 'zh' ? 0 : 1] : String(value);
}

export const caseType = (v: unknown) => label('case_type', v);
export const caseStatus = (v: unknown) => label('case_status', v);
export const diagnosisClass = (v: unknown) => label('diagnosis_class', v);
export const roleName = (v: unknown) => label('role', v);
export const giBin = (v: unknown) => label('gi_star_bin', v);
export const lisaCluster = (v: unknown) => label('lisa_cluster', v);
export const importKind = (v: unknown) => label('import_kind', v);
export const importStatus = (v: unknown) => label('import_status', v);

/** An H3 cell in a table: 网格 and the villages in it (or its short id when it holds none). */
export function h3CellText(cell: unknown, villageNames: string[] = []): string {
  const zh = lang.value === 'zh';
  const id = String(cell ?? '');
  if (villageNames.length) {
    const shown = villageNames.slice(0, 3).join(zh ? '、' : ', ');
    const more = villageNames.length > 3 ? (zh ? ` 等 ${villageNames.length} 村` : ` and ${villageNames.length - 3} more`) : '';
    return zh ? `网格（${shown}${more}）` : `Grid cell (${shown}${more})`;
  }
  return zh ? `网格 ${id.slice(-6)}（无登记村）` : `Grid cell …${id.slice(-6)} (no village)`;
}

/** Whether a point lies inside a polygon ring ([lon, lat] pairs): the villages of an H3 cell. */
export function pointInRing(lon: number, lat: number, ring: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
