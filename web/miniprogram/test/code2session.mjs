// A stand-in for WeChat's code2Session (`GET /sns/jscode2session`) on 127.0.0.1: the one
// service the end-to-end test cannot reach. It answers as WeChat does — HTTP 200 whatever
// happens, a JSON body sent as `text/plain`, `errcode`/`errmsg` on a refusal — so that the
// server's real client and error mapping are what the test exercises.
//
//   const wechat = await startCode2Session({ appid, secret });
//   const code = wechat.issue('o6_bmjrPTlm6_2sgVt7hMZOPfL2M');  // what wx.login would hand out
//   wechat.issue(openid, { errcode: 45011 })                     // this code meets the rate limit
//   wechat.issue(openid, { errcode: 40226 })                     // a high-risk user
//   wechat.calls                                                  // what the server asked, in order
//   await wechat.stop();
//
// Codes are single use like WeChat's: a code asked for a second time is 40163 "code been used",
// a code never issued is 40029 "invalid code". A wrong appid, secret or grant_type is refused
// with WeChat's own codes, so a misconfigured server fails here as it would in production.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

/** WeChat's answers for the refusals the stand-in gives (errmsg as WeChat words them). */
export const ERRORS = {
  40002: 'invalid grant_type',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'code blocked',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  '-1': 'system error',
};

/** A code shaped like wx.login's: 32 characters of letters and digits. */
function newCode() {
  return randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(32, '0').slice(0, 32);
}

/**
 * Starts the stand-in on 127.0.0.1 and a free port.
 * @param {{ appid: string, secret: string, delayMs?: number }} options `delayMs`: how long every
 *   answer waits (a slow WeChat).
 */
export async function startCode2Session({ appid, secret, delayMs = 0 }) {
  /** @type {Map<string, { openid: string, errcode?: number, used: boolean }>} */
  const codes = new Map();
  /** @type {{ js_code: string|null, errcode: number, openid?: string }[]} */
  const calls = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/sns/jscode2session') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const q = url.searchParams;
    const jsCode = q.get('js_code');
    const answer = (body) => {
      calls.push({ js_code: jsCode, errcode: body.errcode ?? 0, openid: body.openid });
      const rid = randomBytes(6).toString('hex');
      const out = body.errcode ? { errcode: body.errcode, errmsg: `${ERRORS[body.errcode]}, rid: ${rid}` } : body;
      // WeChat sends its JSON as text/plain.
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(JSON.stringify(out));
    };
    if (!q.get('appid')) return answer({ errcode: 41002 });
    if (q.get('appid') !== appid) return answer({ errcode: 40013 });
    if (!q.get('secret')) return answer({ errcode: 41004 });
    if (q.get('secret') !== secret) return answer({ errcode: 40125 });
    if (q.get('grant_type') !== 'authorization_code') return answer({ errcode: 40002 });
    if (!jsCode) return answer({ errcode: 41008 });
    const entry = codes.get(jsCode);
    if (!entry) return answer({ errcode: 40029 });
    if (entry.used) return answer({ errcode: 40163 });
    entry.used = true;
    if (entry.errcode) return answer({ errcode: entry.errcode });
    answer({ session_key: randomBytes(16).toString('base64'), openid: entry.openid });
  });
  await new Promise((res, rej) => { server.once('error', rej); server.listen(0, '127.0.0.1', res); });
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    calls,
    /**
     * A fresh login code for this openid, as wx.login gives one; `errcode` makes WeChat refuse
     * it with that code instead (45011, 40226, -1 …).
     */
    issue(openid, { errcode } = {}) {
      const code = newCode();
      codes.set(code, { openid, errcode, used: false });
      return code;
    },
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
