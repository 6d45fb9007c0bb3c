// The client's unit tests (`node web/unit/run.mjs`, in `make test`): compiles each module of
// web/src/stock/ that has a test here (web/unit/NAME.test.mjs tests web/src/stock/NAME.ts) with
// the project's TypeScript into target/web-unit/, then runs `node --test` over the tests, which
// import the compiled JavaScript. Pure modules only: no Vue, no bundler, no browser.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const unit = join(root, 'web', 'unit')
const sources = join(root, 'web', 'src', 'stock')
const out = join(root, 'target', 'web-unit')
const tsc = join(root, 'web', 'node_modules', '.bin', 'tsc')

const tests = readdirSync(unit).filter((f) => f.endsWith('.test.mjs')).sort()
const modules = tests
  .map((t) => join(sources, t.replace(/\.test\.mjs$/, '.ts')))
  .filter((f) => existsSync(f))
if (!existsSync(tsc)) {
  console.error(`web/unit/run.mjs: ${tsc} is missing: run \`npm --prefix web ci\` first`)
  process.exit(1)
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
// The compiled files are ES modules.
writeFileSync(join(out, 'package.json'), '{"type":"module"}\n')
writeFileSync(
  join(out, 'tsconfig.json'),
  JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'ES2022',
        lib: ['ES2022', 'DOM'],
        strict: true,
        skipLibCheck: true,
        types: [],
        noEmitOnError: true,
        rootDir: sources,
        outDir: out,
      },
      files: modules,
    },
    null,
    1,
  ),
)
const compiled = spawnSync(tsc, ['-p', join(out, 'tsconfig.json')], { stdio: 'inherit' })
if (compiled.status !== 0) {
  console.error('web/unit/run.mjs: TypeScript did not compile')
  process.exit(compiled.status ?? 1)
}

const run = spawnSync(process.execPath, ['--test', ...tests.map((t) => join(unit, t))], {
  stdio: 'inherit',
  cwd: root,
})
process.exit(run.status ?? 1)
