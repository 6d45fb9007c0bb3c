// Rendering tests of the mini-program's pages (dist/, built by `npm test` first) with
// miniprogram-simulate under jest + jsdom. The `wx` here is a test double for rendering only:
// storage in a Map, requests answered by the test (status 0 = no network) — the real server is
// exercised by test/e2e.mjs. Every page renders in Chinese and English; the entry forms and the
// bind form say what is wrong; the login page turns to the bind form on wechat_not_bound; 我的
// switches the language.
const path = require('path')

const store = new Map()
const calls = []
let answer = () => ({ statusCode: 0 })

global.wx = {
  getStorageSync: (k) => (store.has(k) ? store.get(k) : ''),
  setStorageSync: (k, v) => void store.set(k, v),
  removeStorageSync: (k) => void store.delete(k),
  request(o) {
    calls.push({ method: o.method, url: o.url })
    const r = answer(o)
    setTimeout(() => (r.statusCode ? o.success({ statusCode: r.statusCode, data: r.data }) : o.fail({ errMsg: 'request:fail' })), 0)
  },
  login: (o) => setTimeout(() => o.success({ code: 'test-code' }), 0),
  getLocation: (o) => setTimeout(() => o.success({ longitude: 81.1, latitude: 43.8, accuracy: 20 }), 0),
  scanCode: (o) => setTimeout(() => o.success({ result: ' QAP-0001 ' }), 0),
  switchTab: (o) => calls.push({ switchTab: o.url }),
  navigateTo: (o) => calls.push({ navigateTo: o.url }),
  reLaunch: (o) => calls.push({ reLaunch: o.url }),
  setNavigationBarTitle: () => {},
  setTabBarItem: () => {},
  showModal: (o) => o.success({ confirm: true }),
  onNetworkStatusChange: () => {},
}

const simulate = require('miniprogram-simulate')
const dist = path.join(__dirname, '..', 'dist')
const flush = () => new Promise((r) => setTimeout(r, 20))

const USER = {
  username: 'vd_654022100200', display_name: '村医甲', role: 'village_doctor',
  jurisdiction: '654022100200', jurisdiction_name: '宁古齐牛录村', permissions: ['aggregates', 'case_rows', 'animal_rows'],
}
const VILLAGE = { code: '654022100200', name: '宁古齐牛录村', township_code: '654022100', township_name: '察布查尔镇', lon: 81.15, lat: 43.84, pinyin_initials: 'ngqnlc', pinyin: 'ningguqiniulucun' }

const VET = { ...USER, username: 'vet', display_name: '兽医甲', role: 'vet', jurisdiction: '654022', jurisdiction_name: '察布查尔锡伯自治县', permissions: ['aggregates', 'animal_rows', 'stock'] }

function signedIn(lang, user = USER) {
  store.clear()
  store.set('echinomap.token', 'tok')
  store.set('echinomap.user', JSON.stringify(user))
  store.set('echinomap.villages', JSON.stringify({ savedAt: Date.now() - 3600e3, items: [VILLAGE] }))
  store.set('echinomap.risk', JSON.stringify({
    savedAt: Date.now() - 3600e3,
    items: [{ code: VILLAGE.code, tier: 'high', score: 71, reasons: [{ component: 'deworming_gap' }], components: [{ component: 'deworming_gap', detail: { coverage: 0.5 } }], regime: { regime: 'monthly', basis: 'village_screening' } }],
  }))
  if (lang) store.set('echinomap.lang', lang)
}

// WXML is compiled by WeChat's own compiler (miniprogram-compiler's wcc), as the developer tools do.
// Jest keeps a module once required: each page's definition is loaded once, rendered many times.
const ids = {}
async function open(page, query) {
  ids[page] = ids[page] || simulate.load(path.join(dist, 'pages', page, 'index'), { rootPath: dist })
  const id = ids[page]
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  if (comp.instance.onLoad) comp.instance.onLoad(query || {})
  if (comp.instance.onShow) comp.instance.onShow()
  await flush()
  return comp
}

const text = (comp) => comp.dom.textContent.replace(/\s+/g, ' ')

beforeEach(() => {
  calls.length = 0
  answer = () => ({ statusCode: 0 })
})

// What each page must show in each language, with the network off and the lists saved.
const PAGES = {
  where: { zh: ['我在哪个村？', '宁古齐牛录村'], en: ['Which village am I in?', 'villages of your area'] },
  village: { zh: ['宁古齐牛录村', '高风险', '犬驱虫覆盖率 50.0%', '每月驱虫', '离线'], en: ['High risk', 'Dog deworming coverage 50.0%', 'Monthly', 'Offline'] },
  due: { zh: ['待办', '逾期随访：需联网查看'], en: ['Due here', 'online only'] },
  entry: { zh: ['驱虫', '无主犬', '保存（有信号时自动上传）', '扫犬牌'], en: ['Deworming', 'Stray dogs', 'Save (uploads when there is signal)', 'Scan a dog tag'] },
  sync: { zh: ['录入记录', '立即上传', '暂无记录', '尚未上传'], en: ['Entries', 'Upload now', 'No entries yet', 'Nothing uploaded yet'] },
  search: { zh: ['查找村庄'], en: ['Find a village'] },
  me: { zh: ['村医甲', '村医', '退出登录', '解除绑定', '中文', 'English'], en: ['village doctor', 'Log out', 'Unlink WeChat'] },
}

describe.each(['zh', 'en'])('every page renders in %s', (lang) => {
  test.each(Object.keys(PAGES))('%s', async (page) => {
    signedIn(lang)
    const comp = await open(page, { code: VILLAGE.code })
    for (const s of PAGES[page][lang]) expect(text(comp)).toContain(s)
  })

  // Slaughter inspection is the vets' form: a village doctor does not see it, a vet does.
  test('entry: the slaughter form for vets only', async () => {
    signedIn(lang)
    expect(text(await open('entry', { code: VILLAGE.code }))).not.toContain(lang === 'zh' ? '屠宰检疫' : 'Slaughter inspection')
    signedIn(lang, VET)
    expect(text(await open('entry', { code: VILLAGE.code }))).toContain(lang === 'zh' ? '屠宰检疫' : 'Slaughter inspection')
  })

  test('login', async () => {
    store.clear()
    store.set('echinomap.lang', lang)
    answer = () => ({ statusCode: 500, data: { error: { code: 'internal', message: '内部错误 / internal error' } } })
    const comp = await open('login')
    expect(text(comp)).toContain(lang === 'zh' ? '用微信登录' : 'Sign in with WeChat')
    expect(text(comp)).toContain('内部错误')
  })
})

describe('the login page', () => {
  test('switches to the bind form when this WeChat is not bound, and checks it', async () => {
    store.clear()
    answer = (o) => (o.url.endsWith('/api/auth/wechat')
      ? { statusCode: 403, data: { error: { code: 'wechat_not_bound', message: '该微信尚未绑定平台账号 / not bound' } } }
      : { statusCode: 0 })
    const comp = await open('login')
    expect(comp.instance.data.mode).toBe('bind')
    expect(text(comp)).toContain('绑定平台账号')
    expect(text(comp)).toContain('6 位绑定码')
    expect(text(comp)).toContain('该微信尚未绑定平台账号')

    comp.instance.setData({ bindForm: { username: '', code: '12ab' } })
    expect(await comp.instance.submitBind()).toBe(null)
    await flush()
    expect(comp.querySelector('#err-username').dom.textContent).toBe('请填写用户名')
    expect(comp.querySelector('#err-code').dom.textContent).toBe('绑定码为 6 位数字')
  })

  test('shows how many tries are left after a wrong binding code, then signs in', async () => {
    store.clear()
    let bound = false
    answer = (o) => {
      if (o.url.endsWith('/api/auth/wechat')) return { statusCode: 403, data: { error: { code: 'wechat_not_bound', message: '未绑定' } } }
      if (o.url.endsWith('/api/auth/wechat/bind')) {
        if (o.data.binding_code !== '123456') return { statusCode: 422, data: { error: { code: 'binding_code_wrong', message: '绑定码不正确 / wrong code', details: { tries_left: 4 } } } }
        bound = true
        return { statusCode: 200, data: { token: 'tok2', token_id: 9, idle_days: 30, binding_id: 3, user: USER } }
      }
      return { statusCode: 0 }
    }
    const comp = await open('login')
    comp.instance.setData({ bindForm: { username: 'vd_654022100200', code: '000000' } })
    await comp.instance.submitBind()
    await flush()
    expect(comp.querySelector('#error').dom.textContent).toContain('还可尝试 4 次')
    comp.instance.setData({ bindForm: { username: 'vd_654022100200', code: '123456' } })
    const r = await comp.instance.submitBind()
    expect(r.ok).toBe(true)
    expect(bound).toBe(true)
    expect(store.get('echinomap.token')).toBe('tok2')
    expect(JSON.parse(store.get('echinomap.user')).binding_id).toBe(3)
    expect(calls).toContainEqual({ switchTab: '/pages/where/index' })
  })
})

describe('the entry forms', () => {
  async function entry(lang, user = USER) {
    signedIn(lang, user)
    const { setCurrentVillage } = require(path.join(dist, 'lib', 'places'))
    setCurrentVillage(VILLAGE)
    return open('entry')
  }

  test('a deworming round without a dog tag says so and queues nothing', async () => {
    const comp = await entry('zh')
    expect(comp.instance.submitDeworming()).toBe(false)
    await flush()
    expect(comp.querySelector('#err-tags').dom.textContent).toBe('请勾选或填写犬牌号')
    expect(store.get('echinomap.field.queue')).toBeUndefined()
  })

  test('a date in the future is refused, in English too', async () => {
    const comp = await entry('en')
    comp.instance.setData({ dw: { date: '2999-01-01', dose: '', tagsText: 'QAP-0001' } })
    expect(comp.instance.submitDeworming()).toBe(false)
    await flush()
    expect(comp.querySelector('#err-dosed_on').dom.textContent).toBe('The date cannot be after today')
    expect(text(comp)).toContain('Correct the fields in red first')
  })

  test('a stray-dog sighting of 0 dogs is refused', async () => {
    const comp = await entry('zh')
    comp.instance.setKind('stray')
    comp.instance.setData({ 'st.n': '0' })
    expect(comp.instance.submitStray()).toBe(false)
    await flush()
    expect(comp.querySelector('#err-n_dogs').dom.textContent).toBe('犬数应在 1–500 之间')
  })

  test('a slaughter inspection with more infected than slaughtered is refused', async () => {
    const comp = await entry('zh', VET)
    comp.instance.setKind('slaughter')
    comp.instance.setData({ 'sl.point_code': 'SP-01', 'sl.slaughtered': '3', 'sl.infected': '5', 'sl.organ': 'liver' })
    expect(comp.instance.submitSlaughter()).toBe(false)
    await flush()
    expect(comp.querySelector('#err-infected').dom.textContent).toBe('感染数应在 0 到屠宰数之间')
  })

  test('a valid round is queued offline, one entry per dog, scanned tag included', async () => {
    const comp = await entry('zh')
    await comp.instance.scan()
    comp.instance.setData({ 'dw.tagsText': comp.instance.data.dw.tagsText + '，QAP-0002' })
    expect(comp.instance.submitDeworming()).toBe(true)
    await flush()
    const q = JSON.parse(store.get('echinomap.field.queue'))
    expect(q.map((e) => e.body.dog_tag)).toEqual(['QAP-0001', 'QAP-0002'])
    expect(q.every((e) => e.state === 'pending' && e.register === 'dewormings' && e.user === USER.username)).toBe(true)
    expect(text(comp)).toContain('已保存 2 条，有信号时自动上传')
  })

  test('a full phone keeps the queue as it was and says so', async () => {
    const comp = await entry('zh')
    const before = store.get('echinomap.field.queue')
    const set = wx.setStorageSync
    wx.setStorageSync = () => { throw new Error('setStorageSync:fail exceed storage max size 10MB') }
    try {
      comp.instance.setData({ 'dw.tagsText': 'QAP-0003' })
      expect(comp.instance.submitDeworming()).toBe(false)
    } finally {
      wx.setStorageSync = set
    }
    await flush()
    expect(store.get('echinomap.field.queue')).toBe(before)
    expect(comp.querySelector('#error').dom.textContent).toContain('手机存储已满')
  })
})

describe('我的', () => {
  test('switches the language of the page and of the others', async () => {
    signedIn('zh')
    const comp = await open('me')
    expect(text(comp)).toContain('退出登录')
    comp.instance.switchLang('en')
    await flush()
    expect(store.get('echinomap.lang')).toBe('en')
    expect(text(comp)).toContain('Log out')
    expect(text(comp)).not.toContain('退出登录')
    const sync = await open('sync')
    expect(text(sync)).toContain('Upload now')
    comp.instance.switchLang('zh')
    await flush()
    expect(text(comp)).toContain('退出登录')
  })

  test('refuses a server address that is not https', async () => {
    signedIn('zh')
    const comp = await open('me')
    comp.instance.setData({ server: 'http://example.cn' })
    expect(comp.instance.saveServer()).toBe(false)
    await flush()
    expect(comp.querySelector('#error').dom.textContent).toBe('地址须以 https:// 开头')
  })
})

describe('a scanned dog tag', () => {
  const { tagFromScan } = require(path.join(dist, 'lib', 'scan'))
  test('is the serial of a GS1 code, the GTIN of a plain one, else the text itself', () => {
    expect(tagFromScan(' ]d2010950600013435221DOG-0042 ')).toBe('DOG-0042')
    expect(tagFromScan('(01)09506000134352(17)201231(10)ABC123')).toBe('09506000134352')
    expect(tagFromScan(' 654022100200-D0001\n')).toBe('654022100200-D0001')
  })
})
