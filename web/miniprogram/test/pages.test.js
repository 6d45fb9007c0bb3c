// Rendering tests of the mini-program's pages (dist/, built by `npm test` first) with
// miniprogram-simulate under jest + jsdom. The `wx` here is a test double for rendering only:
// storage in a Map, requests answered by the test (status 0 = no network) — the real server is
// exercised by test/e2e.mjs. Every page renders in Chinese and English; the entry forms and the
// bind form say what is wrong; the login page turns to the bind form on wechat_not_bound; 我的
// switches the language, and changes the server only when nothing waits to be uploaded.
const path = require('path')

const store = new Map()
const calls = []
let answer = () => ({ statusCode: 0 })
let modalAnswer = true

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
  setTabBarItem: (o) => calls.push({ tab: o.index, text: o.text }),
  showModal: (o) => {
    calls.push({ modal: o.title, content: o.content })
    o.success({ confirm: modalAnswer, cancel: !modalAnswer })
  },
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
  modalAnswer = true
})

/** Runs `fn` while every wx.setStorageSync throws `error` (WeChat's words vary). */
async function withStorageFailing(error, fn) {
  const set = wx.setStorageSync
  wx.setStorageSync = () => { throw error }
  try {
    return await fn()
  } finally {
    wx.setStorageSync = set
  }
}

/** A queued entry as the outbox stores it. */
const queued = (state, over = {}) => ({
  id: `id-${state}-${Math.random().toString(16).slice(2)}`, user: USER.username, created: Date.now(), state,
  register: 'dewormings', label: '驱虫 QAP-0009', village: VILLAGE.code,
  body: { dog_tag: 'QAP-0009', dosed_on: '2026-12-01', village_code: VILLAGE.code }, ...over,
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
    // Worded from the code in the page's language, not the server's message.
    expect(text(comp)).toContain(lang === 'zh' ? '服务器出错，请稍后重试' : 'internal error; try again later')
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
    expect(comp.querySelector('#error').dom.textContent).toBe('用户名或绑定码不正确，还可尝试 4 次')
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
    expect(await comp.instance.saveServer()).toBe(false)
    await flush()
    expect(comp.querySelector('#error').dom.textContent).toBe('地址须以 https:// 开头')
  })
})

describe('a scanned dog tag', () => {
  const { tagFromScan } = require(path.join(dist, 'lib', 'scan'))
  test('is the serial (AI 21) of a GS1 code', () => {
    expect(tagFromScan(' ]d2010950600013435221DOG-0042 ')).toBe('DOG-0042')
    expect(tagFromScan('(01)09506000134352(21)D77')).toBe('D77')
  })
  // EAN/UPC-looking numbers are padded to 14-digit GTINs by the barcode parser: not the tag.
  test('is a numeric tag as printed, even when its last digit passes as a check digit', () => {
    for (const tag of ['12345670', '036000291452', '4006381333931', '09506000134352', '6540221002']) {
      expect(tagFromScan(` ${tag}\n`)).toBe(tag)
    }
  })
  // The GTIN names the product, the same on every collar of a batch.
  test('is the scanned text of a GS1 code without a serial', () => {
    expect(tagFromScan('(01)09506000134352(17)201231(10)ABC123')).toBe('(01)09506000134352(17)201231(10)ABC123')
    expect(tagFromScan(' 0109506000134352 ')).toBe('0109506000134352')
  })
  test('is any other text itself, trimmed', () => {
    expect(tagFromScan(' 654022100200-D0001\n')).toBe('654022100200-D0001')
    expect(tagFromScan('   ')).toBe('')
  })
})

describe('the ids of queued entries (Idempotency-Key) without Web Crypto', () => {
  const { fallbackRandom } = require(path.join(dist, 'lib', 'queue'))
  const { uuid } = require(path.join(dist, 'core', 'uuid'))
  test('are version-4-shaped, never repeat on the phone, and start with the time', () => {
    const before = Date.now()
    const ids = Array.from({ length: 5000 }, () => uuid(fallbackRandom))
    const after = Date.now()
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const ms = parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16)
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(ms).toBeLessThanOrEqual(after)
  })
})

describe('the tab bar', () => {
  // WeChat refuses wx.setTabBarItem before a tab page shows: each tab page sets it on onShow,
  // so a cold start in English gets English tabs.
  test.each(['where', 'search', 'entry', 'sync', 'me'])('is set in English by %s on onShow', async (page) => {
    signedIn('en')
    await open(page)
    expect(calls.filter((c) => 'tab' in c).map((c) => c.text)).toEqual(['Where', 'Find', 'Record', 'Upload', 'Me'])
  })
})

describe('a phone whose storage refuses a write', () => {
  // Whatever WeChat's words (they differ between phones, tools and base libraries), the page
  // says the phone is full and what was saved stays as it was.
  test.each([
    new Error('setStorageSync:fail exceed storage max size 10MB'),
    new Error('setStorageSync:fail internal error'),
    { errMsg: 'setStorageSync:fail:entry size limit reached' },
  ])('keeps the queue and says the storage is full (%p)', async (error) => {
    signedIn('zh')
    const { setCurrentVillage } = require(path.join(dist, 'lib', 'places'))
    setCurrentVillage(VILLAGE)
    const comp = await open('entry')
    const before = store.get('echinomap.field.queue')
    comp.instance.setData({ 'dw.tagsText': 'QAP-0003' })
    await withStorageFailing(error, () => expect(comp.instance.submitDeworming()).toBe(false))
    await flush()
    expect(store.get('echinomap.field.queue')).toBe(before)
    expect(comp.querySelector('#error').dom.textContent).toContain('手机存储已满')
  })

  test('still shows the fresh village list on 我在哪个村, with the storage-full note', async () => {
    signedIn('zh')
    answer = (o) => (o.url.includes('/api/villages') ? { statusCode: 200, data: { items: [VILLAGE] } }
      : o.url.includes('/api/risk') ? { statusCode: 200, data: { items: [] } } : { statusCode: 0 })
    const comp = await open('where')
    await withStorageFailing(new Error('setStorageSync:fail something new'), () => comp.instance.refreshLists())
    await flush()
    expect(text(comp)).toContain('手机存储已满')
  })
})

describe('同步', () => {
  test('a sync that fails (the phone full while noting the answers) ends, says so, keeps the entry', async () => {
    signedIn('zh')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending')]))
    answer = (o) => (o.method === 'POST' ? { statusCode: 201, data: { id: 77 } } : { statusCode: 0 })
    const comp = await open('sync')
    const r = await withStorageFailing(new Error('setStorageSync:fail quota'), () => comp.instance.syncNow())
    await flush()
    expect(r).toBe(null)
    expect(comp.instance.data.syncing).toBe(false)
    expect(comp.querySelector('#status').dom.textContent).toContain('手机存储已满')
    expect(JSON.parse(store.get('echinomap.field.queue'))[0].state).toBe('pending')
    // The button works again: the next sync, with room, notes the answer.
    expect((await comp.instance.syncNow()).sent).toBe(1)
    expect(JSON.parse(store.get('echinomap.field.queue'))[0].state).toBe('synced')
  })

  test('the queue is worded in the language shown, whatever it was made in', async () => {
    signedIn('en')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending')]))
    const comp = await open('sync')
    expect(text(comp)).toContain('Deworming QAP-0009 · 2026-12-01')
    expect(text(comp)).not.toContain('驱虫 QAP-0009')
  })

  test('a password an administrator reset stops the sync with its own message; the entry waits', async () => {
    signedIn('zh')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending')]))
    answer = (o) => (o.method === 'POST'
      ? { statusCode: 403, data: { error: { code: 'password_change_required', message: 'choose a new password first' } } }
      : { statusCode: 0 })
    const comp = await open('sync')
    const r = await comp.instance.syncNow()
    await flush()
    expect(r.stopped).toBe('password')
    expect(comp.querySelector('#status').dom.textContent).toContain('管理员已重置您的密码')
    expect(comp.querySelector('#status').dom.textContent).toContain('记录仍保存在本机')
    expect(JSON.parse(store.get('echinomap.field.queue'))[0].state).toBe('pending')
  })

  test('the app\'s background sync does not leave a rejection unhandled', async () => {
    signedIn('zh')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending')]))
    answer = (o) => (o.method === 'POST' ? { statusCode: 201, data: { id: 78 } } : { statusCode: 0 })
    let app = null
    global.App = (def) => { app = def }
    jest.isolateModules(() => require(path.join(dist, 'app')))
    const unhandled = []
    const seen = (e) => unhandled.push(e)
    process.on('unhandledRejection', seen)
    try {
      await withStorageFailing(new Error('setStorageSync:fail'), async () => {
        app.onShow()
        await flush()
      })
      await flush()
    } finally {
      process.off('unhandledRejection', seen)
    }
    expect(unhandled).toEqual([])
  })
})

describe('待办 offline', () => {
  test('says nothing is saved for offline use, and shows no data age', async () => {
    signedIn('zh')
    const comp = await open('due', { code: VILLAGE.code })
    expect(text(comp)).toContain('待办：离线，本机未保存')
    expect(text(comp)).not.toContain('数据保存于')
    expect(text(comp)).not.toContain('数据已更新')
    expect(comp.querySelector('#data-age')).toBeFalsy()
  })
})

describe('查找', () => {
  test('asks the server once the typing pauses, with the tiers of the saved risk list read once', async () => {
    signedIn('zh')
    const other = { ...VILLAGE, code: '654022100201', name: '宁古齐村' }
    answer = (o) => (o.url.includes('/api/villages?q=') ? { statusCode: 200, data: { items: [VILLAGE, other] } } : { statusCode: 0 })
    const comp = await open('search')
    const get = wx.getStorageSync
    let riskReads = 0
    wx.getStorageSync = (k) => { if (k === 'echinomap.risk') riskReads++; return get(k) }
    let results
    try {
      const typed = ['n', 'ni', 'nin'].map((q) => comp.instance.onInput({ detail: { value: q } }))
      results = await Promise.all(typed)
    } finally {
      wx.getStorageSync = get
    }
    expect(results.slice(0, 2)).toEqual([null, null])
    expect(results[2].map((h) => [h.code, h.tier])).toEqual([[VILLAGE.code, 'high'], [other.code, '']])
    expect(calls.filter((c) => c.url && c.url.includes('/api/villages?q=')).map((c) => c.url)).toEqual([
      expect.stringMatching(/\/api\/villages\?q=nin$/),
    ])
    expect(riskReads).toBe(0)
    expect(text(comp)).toContain('高风险')
  })
})

describe('我的 and the server address', () => {
  function onServer(a) {
    signedIn('zh')
    store.set('echinomap.server', a)
    store.set('echinomap.lastSync', JSON.stringify({ at: Date.now(), sent: 1, failed: 0, stopped: null }))
  }

  test('refuses another server while entries wait to be uploaded, and keeps the session', async () => {
    onServer('https://a.example.cn')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending'), queued('synced', { record_id: 5 })]))
    const comp = await open('me')
    comp.instance.setData({ server: 'https://b.example.cn' })
    expect(await comp.instance.saveServer()).toBe(false)
    await flush()
    expect(comp.querySelector('#error').dom.textContent).toContain('还有 1 条记录未上传到当前服务器')
    expect(store.get('echinomap.server')).toBe('https://a.example.cn')
    expect(store.get('echinomap.token')).toBe('tok')
    expect(JSON.parse(store.get('echinomap.field.queue'))).toHaveLength(2)
    expect(calls.some((c) => c.url || c.reLaunch)).toBe(false)
  })

  test('otherwise signs out on the old server and forgets what came from it', async () => {
    onServer('https://a.example.cn')
    store.set('echinomap.field.queue', JSON.stringify([queued('synced', { record_id: 5 }), queued('failed', { error: '不在辖区' })]))
    answer = (o) => (o.url.endsWith('/api/auth/wechat/logout') ? { statusCode: 200, data: { ok: true } } : { statusCode: 0 })
    const comp = await open('me')
    comp.instance.setData({ server: 'https://b.example.cn/' })
    expect(await comp.instance.saveServer()).toBe(true)
    expect(calls.find((c) => c.modal)?.content).toContain('更换服务器将退出登录')
    expect(calls.filter((c) => c.url).map((c) => [c.method, c.url])).toEqual([['POST', 'https://a.example.cn/api/auth/wechat/logout']])
    expect(store.get('echinomap.server')).toBe('https://b.example.cn')
    for (const k of ['echinomap.token', 'echinomap.user', 'echinomap.villages', 'echinomap.risk', 'echinomap.field.queue', 'echinomap.lastSync']) {
      expect(store.has(k)).toBe(false)
    }
    expect(calls).toContainEqual({ reLaunch: '/pages/login/index' })
  })

  test('changes nothing when the change is not confirmed', async () => {
    onServer('https://a.example.cn')
    modalAnswer = false
    const comp = await open('me')
    comp.instance.setData({ server: 'https://b.example.cn' })
    expect(await comp.instance.saveServer()).toBe(false)
    expect(store.get('echinomap.server')).toBe('https://a.example.cn')
    expect(store.get('echinomap.token')).toBe('tok')
    expect(comp.instance.data.server).toBe('https://a.example.cn')
  })
})

describe('我的 → 退出登录', () => {
  test('with entries still queued, says they stay on the phone before leaving', async () => {
    signedIn('zh')
    store.set('echinomap.field.queue', JSON.stringify([queued('pending'), queued('pending')]))
    answer = () => ({ statusCode: 200, data: { ok: true } })
    const comp = await open('me')
    modalAnswer = false
    expect(await comp.instance.logout()).toBe(false)
    expect(calls.find((c) => c.modal)?.content).toContain('还有 2 条未上传，仍保存在本机')
    expect(store.get('echinomap.token')).toBe('tok')
    modalAnswer = true
    expect(await comp.instance.logout()).toBe(true)
    expect(store.has('echinomap.token')).toBe(false)
    expect(JSON.parse(store.get('echinomap.field.queue'))).toHaveLength(2)
    expect(calls).toContainEqual({ reLaunch: '/pages/login/index' })
  })

  test('with nothing queued, signs out without asking', async () => {
    signedIn('zh')
    answer = () => ({ statusCode: 200, data: { ok: true } })
    const comp = await open('me')
    expect(await comp.instance.logout()).toBe(true)
    expect(calls.some((c) => c.modal)).toBe(false)
  })
})
