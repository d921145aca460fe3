import { copyFile, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bin, binPath, collect, ensureBuilt, root } from './cli-bin.js'
import { spawn } from 'node:child_process'

beforeAll(ensureBuilt, 120_000)

const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version

describe('the taskweave bin', () => {
  it('says where a JavaScript tool module fails to parse, an ES module too, and what to do about import/export in a CommonJS package', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-syntax-'))
    await writeFile(join(dir, 'package.json'), '{"name":"p","type":"commonjs"}')
    await writeFile(join(dir, 'broken.mjs'), 'export const a = 1\nexport const b = { x: 1,, }\n')
    await writeFile(join(dir, 'esm.js'), 'export const a = 1\n')
    await writeFile(join(dir, 'flow.yaml'), 'id: s\ntasks:\n  - id: a\n    tool: x\n')
    const broken = await bin(['validate', 'flow.yaml', '--tools', './broken.mjs'], { cwd: dir })
    expect([broken.code, broken.stderr.trim()]).toEqual([2, 'error: cannot load tool module "./broken.mjs": ./broken.mjs:2:25: Unexpected token \',\'. Fix the syntax error in the module'])
    const esm = await bin(['validate', 'flow.yaml', '--tools', './esm.js'], { cwd: dir })
    expect(esm.code).toBe(2)
    expect(esm.stderr).toMatch(/cannot load tool module "\.\/esm\.js": \.\/esm\.js:1: .*Node loads it as CommonJS .* Name it \.mjs, or add "type": "module" to the package\.json/)
    // An ES module's own mistake before an export is a syntax error, not a CommonJS one.
    await writeFile(join(dir, 'brace.mjs'), 'const a = {\n  x: 1,\n\nexport const b = 2\n')
    const brace = await bin(['validate', 'flow.yaml', '--tools', './brace.mjs'], { cwd: dir })
    expect(brace.stderr).toMatch(/\.\/brace\.mjs:4:\d+: Unexpected token '\w+'\. Fix the syntax error in the module/)
    expect(brace.stderr).not.toContain('CommonJS')
    await writeFile(join(dir, 'esm.cjs'), "import { x } from 'y'\n")
    const cjs = await bin(['validate', 'flow.yaml', '--tools', './esm.cjs'], { cwd: dir })
    expect(cjs.stderr).toMatch(/is a \.cjs file, which Node loads as CommonJS\. Name it \.mjs/)
  })

  it('prints the package version with --version and -v', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await bin([flag])
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(version)
    }
  })

  it('runs as an installed dependency does: through node_modules/.bin, from another project', async () => {
    const project = await mkdtemp(join(tmpdir(), 'tw-installed-'))
    await mkdir(join(project, 'node_modules/.bin'), { recursive: true })
    await symlink(root, join(project, 'node_modules/taskweave'))
    await symlink('../taskweave/bin/taskweave.js', join(project, 'node_modules/.bin/taskweave'))
    // Executed through its shebang, as npx and npm scripts do.
    const child = spawn(join(project, 'node_modules/.bin/taskweave'), ['--version'], { cwd: project })
    child.stdin.end()
    const result = await collect(child, 20_000)
    expect(result.stderr).toBe('')
    expect(result.stdout.trim()).toBe(version)
  })

  it('says the compiled CLI is missing, and how to build it, instead of a stack', async () => {
    const pkg = await mkdtemp(join(tmpdir(), 'tw-unbuilt-'))
    await mkdir(join(pkg, 'bin'))
    await copyFile(binPath, join(pkg, 'bin/taskweave.js'))
    const child = spawn(process.execPath, [join(pkg, 'bin/taskweave.js'), '--version'])
    child.stdin.end()
    const result = await collect(child, 20_000)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`taskweave: the compiled CLI is missing (${join(pkg, 'dist/bin/cli.js')})`)
    expect(result.stderr).toContain('npm run build')
    expect(result.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|\n\s+at /)
  })
})
