// `npm run mp:upload`: builds the mini-program and uploads it to WeChat with miniprogram-ci, as a
// development version that an administrator then submits for review (docs/MINIPROGRAM.md §4).
//
//   ECHINOMAP_MP_APPID=wx…  ECHINOMAP_MP_PRIVATE_KEY_PATH=/secure/private.wx….key \
//   ECHINOMAP_MP_SERVER=https://echinomap.county.gov.cn  npm --prefix web/miniprogram run mp:upload
//
// Optional: ECHINOMAP_MP_DESC (the version note shown in the WeChat console), ECHINOMAP_MP_ROBOT
// (1–30, which CI robot uploads; default 1). `--check` (npm run mp:upload -- --check) does
// everything but the upload: the environment, the build, the project miniprogram-ci would send.
//
// Nothing is guessed: without the AppID, the key or the server's HTTPS address the script stops
// before building, and says what is missing. The version is the workspace's (root Cargo.toml), so
// the mini-program, the binary and /healthz name the same release.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const project = path.resolve(here, '..');
const root = path.resolve(project, '../..');

function refuse(zh, en) {
  console.error(`mp:upload: ${zh}\nmp:upload: ${en}`);
  process.exit(2);
}

/** The `[workspace.package] version` of the root Cargo.toml (one flat key: no TOML parser needed). */
export function workspaceVersion(cargoToml) {
  const section = cargoToml.split(/^\[/m).find((s) => s.startsWith('workspace.package]'));
  const m = section?.match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) throw new Error('no [workspace.package] version in Cargo.toml');
  return m[1];
}

/** What is wrong with the environment, as [zh, en] pairs; empty when the upload can go ahead. */
export function checkEnvironment(env) {
  const problems = [];
  const appid = env.ECHINOMAP_MP_APPID ?? '';
  if (!appid) problems.push(['未设置 ECHINOMAP_MP_APPID（小程序 AppID，在微信公众平台「开发管理 → 开发设置」查看）。', 'ECHINOMAP_MP_APPID is not set (the mini-program AppID, from the WeChat console: Development → Settings).']);
  else if (!/^wx[0-9a-f]{16}$/.test(appid)) problems.push([`ECHINOMAP_MP_APPID 不像小程序 AppID（应为 wx 加 16 位十六进制）：${appid}`, `ECHINOMAP_MP_APPID does not look like an AppID (wx + 16 hex digits): ${appid}`]);
  const key = env.ECHINOMAP_MP_PRIVATE_KEY_PATH ?? '';
  if (!key) problems.push(['未设置 ECHINOMAP_MP_PRIVATE_KEY_PATH（代码上传密钥文件的路径，见 docs/MINIPROGRAM.md）。', 'ECHINOMAP_MP_PRIVATE_KEY_PATH is not set (the path of the code upload key, see docs/MINIPROGRAM.md).']);
  else if (!existsSync(key) || !statSync(key).isFile()) problems.push([`代码上传密钥文件不存在：${key}`, `The code upload key file does not exist: ${key}`]);
  const server = env.ECHINOMAP_MP_SERVER ?? '';
  let url = null;
  try { url = new URL(server); } catch { /* reported below */ }
  if (!server) problems.push(['未设置 ECHINOMAP_MP_SERVER（服务器的 HTTPS 地址，须已在「服务器域名」中登记并完成 ICP 备案）。', 'ECHINOMAP_MP_SERVER is not set (the server\'s HTTPS address, registered as a request domain, ICP-filed).']);
  else if (!url || url.protocol !== 'https:' || net.isIP(url.hostname.replace(/^\[|\]$/g, '')) || url.hostname === 'localhost' || url.pathname !== '/' || url.search) {
    problems.push([`ECHINOMAP_MP_SERVER 必须是 https:// 加域名（不能是 IP、localhost 或带路径）：${server}`, `ECHINOMAP_MP_SERVER must be https:// and a domain name (no IP, localhost or path): ${server}`]);
  } else if (url.hostname.endsWith('.example.cn') || url.hostname.endsWith('.example.com')) {
    problems.push([`ECHINOMAP_MP_SERVER 仍是示例地址：${server}`, `ECHINOMAP_MP_SERVER is still the example address: ${server}`]);
  }
  const robot = env.ECHINOMAP_MP_ROBOT;
  if (robot !== undefined && !(Number.isInteger(Number(robot)) && Number(robot) >= 1 && Number(robot) <= 30)) {
    problems.push([`ECHINOMAP_MP_ROBOT 应为 1–30：${robot}`, `ECHINOMAP_MP_ROBOT must be 1–30: ${robot}`]);
  }
  return problems;
}

async function main() {
  const problems = checkEnvironment(process.env);
  if (problems.length) {
    refuse(problems.map(([zh]) => zh).join('\nmp:upload: '), problems.map(([, en]) => en).join('\nmp:upload: '));
  }
  const version = workspaceVersion(readFileSync(path.join(root, 'Cargo.toml'), 'utf8'));
  const appid = /** @type {string} */ (process.env.ECHINOMAP_MP_APPID);
  const server = new URL(/** @type {string} */ (process.env.ECHINOMAP_MP_SERVER)).origin;

  // Build first: the upload takes dist/ as it is (project.config.json: miniprogramRoot).
  console.log(`mp:upload: 构建 / building ${version} for ${server}`);
  const build = spawnSync(process.execPath, ['build.mjs'], { cwd: project, stdio: 'inherit', env: { ...process.env, ECHINOMAP_MP_SERVER: server } });
  if (build.status !== 0) refuse('构建失败，未上传。', 'The build failed; nothing was uploaded.');

  const { default: ci } = await import('miniprogram-ci');
  const config = JSON.parse(readFileSync(path.join(project, 'project.config.json'), 'utf8'));
  const ciProject = new ci.Project({
    appid,
    type: 'miniProgram',
    projectPath: project,
    privateKeyPath: process.env.ECHINOMAP_MP_PRIVATE_KEY_PATH,
    ignores: ['node_modules/**/*', 'src/**/*', 'test/**/*', 'scripts/**/*'],
  });
  const desc = process.env.ECHINOMAP_MP_DESC || `echinomap ${version}`;
  if (process.argv.includes('--check')) {
    console.log(`mp:upload: --check：环境与构建正常，未上传 / environment and build fine, nothing uploaded (${ciProject.appid} ${version} “${desc}”, ${path.relative(root, path.join(project, config.miniprogramRoot ?? ''))})`);
    return;
  }
  console.log(`mp:upload: 上传 / uploading ${appid} ${version} (“${desc}”)`);
  try {
    const result = await ci.upload({
      project: ciProject,
      version,
      desc,
      robot: Number(process.env.ECHINOMAP_MP_ROBOT ?? 1),
      // The build already transpiled to ES2018 and the pages are small: the same switches as the
      // developer tools' project settings, so that what was tested is what is uploaded.
      setting: { es6: !!config.setting?.es6, es7: false, minify: !!config.setting?.minified, autoPrefixWXSS: true },
      onProgressUpdate: () => {},
    });
    const sizes = (result.subPackageInfo ?? []).map((p) => `${p.name} ${(p.size / 1024).toFixed(1)} KiB`).join(', ');
    console.log(`mp:upload: 已上传为开发版本，请在微信公众平台「版本管理」提交审核 / uploaded as a development version; submit it for review in the console. ${sizes}`);
  } catch (e) {
    // miniprogram-ci's errors carry errCode/errMsg; -10008 is the IP whitelist.
    const err = /** @type {any} */ (e);
    const hint = /invalid ip/i.test(String(err?.message ?? err)) || err?.errCode === -10008
      ? '\nmp:upload: 本机 IP 不在「小程序代码上传」的 IP 白名单中 / this machine\'s IP is not on the upload IP whitelist.'
      : '';
    refuse(`上传失败：${err?.errMsg ?? err?.message ?? err}${hint}`, 'The upload failed (see above).');
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
