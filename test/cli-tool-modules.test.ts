import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { captureIo } from './cli-io.js'

const toolModule = (marker: string): string =>
  `import { writeFileSync } from 'node:fs'\nimport { z } from 'zod'\nimport { defineTool } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)}\n` +
  `writeFileSync(${JSON.stringify(marker)}, 'ran')\nexport const t = defineTool({ name: 'mine.echo', input: z.object({ text: z.string() }), run: ({ text }) => text })\n`

/** A workflow in `<tmp>/flows/flow.yaml` naming `<tmp>/outside/tools.ts` by `modulePath`. */
async function setup(modulePath: (outside: string) => string): Promise<{ dir: string; file: string; marker: string; outside: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-toolpaths-'))
  const outside = join(dir, 'outside')
  await mkdir(outside)
  await mkdir(join(dir, 'flows'))
  const marker = join(dir, 'ran.txt')
  await writeFile(join(outside, 'tools.ts'), toolModule(marker))
  const file = join(dir, 'flows', 'flow.yaml')
  await writeFile(file, `id: w\ntools: [${JSON.stringify(modulePath(outside))}]\ntasks:\n  - id: a\n    tool: mine.echo\n    input: { text: hi }\n`)
  return { dir, file, marker, outside }
}

describe('tool modules named in a workflow file', () => {
  it('validate and viz run no code from the file, and say which modules and tools went unchecked', async () => {
    for (const form of [(outside: string) => join(outside, 'tools.ts'), () => '../outside/tools.ts']) {
      const { file, marker } = await setup(form)
      const validate = captureIo()
      expect(await main(['validate', file], validate)).toBe(0)
      expect(validate.out.join('\n')).toContain('valid workflow "w" with 1 task')
      expect(validate.err.join('\n')).toMatch(/tool module ".*tools\.ts" named in the file was not loaded .*tools not checked: mine\.echo/)
      const json = captureIo()
      expect(await main(['validate', file, '--json'], json)).toBe(0)
      expect(JSON.parse(json.out.join(''))).toMatchObject({ valid: true, unchecked: { tools: ['mine.echo'] } })
      const viz = captureIo()
      expect(await main(['viz', file], viz)).toBe(0)
      expect(viz.out.join('\n')).toContain('mine.echo')
      expect(existsSync(marker)).toBe(false)
    }
  })

  it('validate --tools with the module the file names checks its tools, and calls nothing unchecked', async () => {
    const { file, outside } = await setup(() => '../outside/tools.ts')
    const io = captureIo()
    expect(await main(['validate', file, '--tools', join(outside, 'tools.ts'), '--json'], io)).toBe(0)
    expect(JSON.parse(io.out.join(''))).toEqual({ valid: true, workflowId: 'w', tasks: 1, hash: expect.any(String) as unknown })
    expect(io.err.join('\n')).not.toContain('not loaded')
  })

  it('a module the file names and another of the same name given with --tools from elsewhere are both loaded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-toolpaths-'))
    await mkdir(join(dir, 'sub'))
    const module = (name: string): string => `import { z } from 'zod'\nimport { defineTool } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)}\nexport const t = defineTool({ name: ${JSON.stringify(name)}, input: z.object({}), run: () => 1 })\n`
    await writeFile(join(dir, 'tools.mjs'), module('a.one'))
    await writeFile(join(dir, 'sub', 'tools.mjs'), module('b.two'))
    await writeFile(join(dir, 'sub', 'flow.yaml'), 'id: w\ntools: [tools.mjs]\ntasks:\n  - { id: a, tool: a.one }\n  - { id: b, tool: b.two }\n')
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      const io = captureIo()
      expect(await main(['run', 'sub/flow.yaml', '--tools', 'tools.mjs', '--store', 'memory', '--quiet'], io), io.text()).toBe(0)
    } finally {
      process.chdir(cwd)
    }
  })

  it('validate still rejects an unknown tool when the file names no module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-toolpaths-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\ntasks:\n  - id: a\n    tool: mine.echo\n')
    const io = captureIo()
    expect(await main(['validate', file], io)).toBe(2)
    expect(io.text()).toContain('unknown tool "mine.echo"')
  })

  it('run says plainly that an empty tools entry or a directory names no module', async () => {
    for (const [entry, expected] of [
      ['', /an entry of "tools" is empty; each names a tool module file/],
      ['  ', /an entry of "tools" is empty/],
      ['.', /tool module "\." names a directory .*, not a module file/],
    ] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'tw-toolpaths-'))
      const file = join(dir, 'flow.yaml')
      await writeFile(file, `id: w\ntools: [${JSON.stringify(entry)}]\ntasks:\n  - id: a\n    tool: echo\n`)
      const io = captureIo()
      expect(await main(['run', file, '--quiet'], io)).toBe(2)
      expect(io.err.join('\n')).toMatch(expected)
      expect(io.err.join('\n')).not.toContain('--allow-tools-from')
    }
  })

  it('run refuses a module outside the workflow directory unless --allow-tools-from allows it', async () => {
    for (const form of [(outside: string) => join(outside, 'tools.ts'), () => '../outside/tools.ts']) {
      const { file, marker, outside } = await setup(form)
      const refused = captureIo()
      expect(await main(['run', file, '--quiet'], refused)).toBe(2)
      expect(refused.err.join('\n')).toMatch(/tool module ".*tools\.ts" is outside the workflow's directory .* --allow-tools-from/)
      expect(existsSync(marker)).toBe(false)
      const allowed = captureIo()
      expect(await main(['run', file, '--quiet', '--json', '--allow-tools-from', outside], allowed)).toBe(0)
      expect(JSON.parse(allowed.out.join('\n')).tasks.a.output).toBe('hi')
      expect(existsSync(marker)).toBe(true)
    }
  })
})
