// The register pages' columns and form fields, by the names of the registers API (issue #4):
// bodies use the import's field names; values may be Chinese or English (`"阳性"`, `"positive"`).
export interface FieldDef {
  name: string;
  /** The key of the listed record that holds this field, when it differs. */
  from?: string;
  type: 'text' | 'date' | 'number' | 'select' | 'bool';
  required?: boolean;
  options?: [string, string, string][]; // value, zh, en
  zh: string;
  en: string;
}
export interface RegisterDef {
  name: string;
  zh: string;
  en: string;
  columns: [string, string, string][]; // key, zh, en
  fields: FieldDef[];
  statuses?: [string, string, string][];
}

const SEX: [string, string, string][] = [['male', '公/男', 'male'], ['female', '母/女', 'female'], ['unknown', '不详', 'unknown']];

export const REGISTERS: Record<string, RegisterDef> = {
  dogs: {
    name: 'dogs', zh: '犬只登记', en: 'Dog register',
    columns: [['id', '#', '#'], ['dog_tag', '犬牌号', 'Tag'], ['kind', '类型', 'Kind'], ['sex', '性别', 'Sex'], ['status', '状态', 'Status'],
      ['registered_on', '登记日期', 'Registered'], ['household_no', '户编号', 'Household'], ['village_name', '村', 'Village']],
    statuses: [['alive', '在养', 'alive'], ['dead', '死亡', 'dead'], ['moved', '迁出', 'moved'], ['culled', '扑杀', 'culled']],
    fields: [
      { name: 'dog_tag', type: 'text', required: true, zh: '犬牌号', en: 'Tag' },
      { name: 'dog_kind', from: 'kind', type: 'select', required: true, zh: '类型', en: 'Kind',
        options: [['domestic_tethered', '拴养家犬', 'tethered'], ['domestic_semi', '半拴养', 'semi-tethered'], ['herding', '牧犬', 'herding'], ['stray', '流浪犬', 'stray']] },
      { name: 'sex', type: 'select', options: SEX, zh: '性别', en: 'Sex' },
      { name: 'birth_year', type: 'number', zh: '出生年份', en: 'Birth year' },
      { name: 'status', type: 'select', zh: '状态', en: 'Status',
        options: [['alive', '在养', 'alive'], ['dead', '死亡', 'dead'], ['moved', '迁出', 'moved'], ['culled', '扑杀', 'culled']] },
      { name: 'status_on', type: 'date', zh: '状态日期', en: 'Status since' },
      { name: 'registered_on', type: 'date', required: true, zh: '登记日期', en: 'Registered on' },
      { name: 'household_no', type: 'text', zh: '户编号', en: 'Household no.' },
      { name: 'village_code', type: 'text', zh: '村代码（12位）', en: 'Village code (12 digits)' },
      { name: 'collar_id', type: 'text', zh: '项圈编号', en: 'Collar id' },
    ],
  },
  slaughter_inspections: {
    name: 'slaughter_inspections', zh: '屠宰检疫', en: 'Slaughter inspections',
    columns: [['id', '#', '#'], ['inspected_on', '检疫日期', 'Date'], ['point_code', '屠宰点', 'Point'], ['species', '畜种', 'Species'],
      ['age_class', '年龄', 'Age'], ['slaughtered', '屠宰数', 'Slaughtered'], ['infected', '感染数', 'Infected'], ['organ', '脏器', 'Organ'],
      ['disposal_method', '处理方式', 'Disposal'], ['disposal_done', '已处理', 'Done'], ['origin_village_name', '来源村', 'Origin village']],
    statuses: [['sheep', '绵羊', 'sheep'], ['goat', '山羊', 'goat'], ['cattle', '牛', 'cattle'], ['camel', '骆驼', 'camel'], ['horse', '马', 'horse']],
    fields: [
      { name: 'point_code', type: 'text', required: true, zh: '屠宰点编号', en: 'Slaughter point code' },
      { name: 'inspected_on', type: 'date', required: true, zh: '检疫日期', en: 'Inspected on' },
      { name: 'species', type: 'select', required: true, zh: '畜种', en: 'Species',
        options: [['sheep', '绵羊', 'sheep'], ['goat', '山羊', 'goat'], ['cattle', '牛', 'cattle'], ['camel', '骆驼', 'camel'], ['horse', '马', 'horse'], ['yak', '牦牛', 'yak'], ['other', '其他', 'other']] },
      { name: 'age_class', type: 'select', zh: '年龄', en: 'Age class', options: [['under_2y', '2岁以下', 'under 2 years'], ['over_2y', '2岁及以上', '2 years or more'], ['unknown', '不详', 'unknown']] },
      { name: 'slaughtered', type: 'number', required: true, zh: '屠宰数', en: 'Slaughtered' },
      { name: 'infected', type: 'number', required: true, zh: '感染数（有囊）', en: 'Infected (cysts)' },
      { name: 'organ', type: 'select', required: true, zh: '感染脏器', en: 'Organ',
        options: [['none', '无', 'none'], ['liver', '肝', 'liver'], ['lung', '肺', 'lung'], ['liver_and_lung', '肝和肺', 'liver and lung'], ['other', '其他', 'other']] },
      { name: 'disposal_method', type: 'select', required: true, zh: '脏器处理方式', en: 'Offal disposal',
        options: [['incineration', '焚烧', 'incineration'], ['deep_burial', '深埋', 'deep burial'], ['pit', '化尸池', 'pit'], ['chemical', '化学处理', 'chemical'], ['none', '未处理', 'none']] },
      { name: 'disposal_done', type: 'bool', required: true, zh: '已无害化处理', en: 'Disposal done' },
      { name: 'inspector', type: 'text', zh: '检疫员', en: 'Inspector' },
      { name: 'village_code', from: 'origin_village_code', type: 'text', zh: '来源村代码', en: 'Origin village code' },
    ],
  },
};
