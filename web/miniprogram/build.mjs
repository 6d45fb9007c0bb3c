// Builds the mini-program into dist/ (project.config.json's miniprogramRoot), the folder WeChat's
// tools and miniprogram-ci upload. WeChat runs CommonJS, so every TypeScript file of src/ and the
// shared field core (../field-core/*.js, plain ES modules) are transpiled one by one with
// TypeScript's transpileModule: no bundler, the output maps file for file onto the sources.
// Type checking is `tsc --noEmit` first, so a type error stops the build.
//
//   src/**/*.ts               → dist/**/*.js
//   ../field-core/*.js        → dist/core/*.js
//   ../src/stock/barcode.ts   → dist/core/barcode.js
//   src/**/*.{wxml,wxss,json} → copied
//
// `@core/x` and `@barcode` (tsconfig.json's paths) become relative requires. The server address
// is fixed at build time from ECHINOMAP_MP_SERVER (src/lib/config.ts). The main package must stay
// under WeChat's 2 MB: the build fails at 2 MB.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const here = dirname(fileURLToPath(import.meta.url))
const src = join(here, 'src')
const dist = join(here, 'dist')
const coreDir = resolve(here, '../field-core')
const barcode = resolve(here, '../src/stock/barcode.ts')
const MAX_PACKAGE_BYTES = 2 * 1024 * 1024
const SERVER_PLACEHOLDER = "'__ECHINOMAP_MP_SERVER__'"

// `--no-check` skips the type check (a quick rebuild while editing WXML).
if (!process.argv.includes('--no-check')) {
  const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', here], { stdio: 'inherit' })
  } catch {
    console.error('build: tsc --noEmit failed')
    process.exit(1)
  }
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

/** `./x` style path from the folder of `fromFile` to `toFile` without its extension. */
function relativeRequire(fromFile, toFile) {
  let r = relative(dirname(fromFile), toFile).split(sep).join('/').replace(/\.(ts|js)$/, '')
  if (!r.startsWith('.')) r = './' + r
  return r
}

function transpile(file, out) {
  const input = readFileSync(file, 'utf8')
  const { outputText, diagnostics } = ts.transpileModule(input, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2018,
      allowJs: true,
      esModuleInterop: false,
      removeComments: false,
    },
  })
  if (diagnostics?.length) {
    for (const d of diagnostics) console.error(`${file}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
    process.exit(1)
  }
  let js = outputText
    .replace(/require\("@core\/([\w.-]+?)(?:\.js)?"\)/g, (_, name) => `require("${relativeRequire(out, join(dist, 'core', name))}")`)
    .replace(/require\("@barcode"\)/g, () => `require("${relativeRequire(out, join(dist, 'core', 'barcode'))}")`)
  if (process.env.ECHINOMAP_MP_SERVER && js.includes(SERVER_PLACEHOLDER.replace(/'/g, '"'))) {
    js = js.replace(SERVER_PLACEHOLDER.replace(/'/g, '"'), JSON.stringify(process.env.ECHINOMAP_MP_SERVER))
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, js)
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })

for (const file of walk(src)) {
  const rel = relative(src, file)
  if (file.endsWith('.d.ts')) continue
  if (file.endsWith('.ts')) transpile(file, join(dist, rel.replace(/\.ts$/, '.js')))
  else if (/\.(wxml|wxss|json|png|svg)$/.test(file)) {
    mkdirSync(dirname(join(dist, rel)), { recursive: true })
    cpSync(file, join(dist, rel))
  }
}

if (!existsSync(coreDir)) {
  console.error(`build: the field core is missing (${coreDir})`)
  process.exit(1)
}
for (const name of readdirSync(coreDir)) {
  if (name.endsWith('.js') && statSync(join(coreDir, name)).isFile()) {
    transpile(join(coreDir, name), join(dist, 'core', name))
  }
}
transpile(barcode, join(dist, 'core', 'barcode.js'))

const bytes = walk(dist).reduce((n, f) => n + statSync(f).size, 0)
console.log(`build: dist/ ${walk(dist).length} files, ${(bytes / 1024).toFixed(1)} kB (main package limit 2048 kB)`)
if (bytes >= MAX_PACKAGE_BYTES) {
  console.error('build: the main package is 2 MB or more: WeChat refuses it')
  process.exit(1)
}
