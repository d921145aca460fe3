import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ToolRegistry } from '../core/registry.js'
import { explainLoadFailure, loadToolModule } from './load-tools.js'

describe('loading tool modules', () => {
  it('asks for tsx when a TypeScript module needs it and it is not installed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-notsx-'))
    await writeFile(join(dir, 'tools.ts'), 'export const x = 1\n')
    const missing = Object.assign(new Error("Cannot find package 'tsx' imported from …"), { code: 'ERR_MODULE_NOT_FOUND' })
    const err = await loadToolModule('./tools.ts', dir, new ToolRegistry(), { importTsx: () => Promise.reject(missing) }).catch((e: unknown) => e)
    expect((err as Error).message).toBe('tool module "./tools.ts" is TypeScript, which taskweave loads through tsx, and tsx is not installed. Install it in your project (npm i -D tsx), or compile the module to JavaScript and pass the .js file')
  })

  it('says what to do about the usual load failures', () => {
    const notFound = Object.assign(new Error("Cannot find package 'lodash' imported from /p/tools.ts"), { code: 'ERR_MODULE_NOT_FOUND' })
    expect(explainLoadFailure(notFound)).toMatch(/Install it in your project \(npm i lodash\)$/)
    const cycle = Object.assign(new Error('Cannot require() ES Module /p/tools.ts in a cycle.'), { code: 'ERR_REQUIRE_CYCLE_MODULE' })
    expect(explainLoadFailure(cycle)).toMatch(/loaded as CommonJS; write it with import\/export, or name it \.mts/)
    expect(explainLoadFailure(new SyntaxError('Unexpected token'))).toBe('Unexpected token. Fix the syntax error in the module')
  })
})

describe('a tool module whose tool has the name of one loaded already', () => {
  it('is named in the error, with what it clashes with', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-clash-'))
    const zod = JSON.stringify(new URL('../../node_modules/zod/index.js', import.meta.url).href)
    const tool = new URL('../core/tool.ts', import.meta.url).href
    const body = (value: number): string => `import { z } from ${zod}\nimport { defineTool } from ${JSON.stringify(tool)}\nexport const echo = defineTool({ name: 't.echo', input: z.object({}), run: () => ${value} })\n`
    await writeFile(join(dir, 'a.mjs'), body(1))
    await writeFile(join(dir, 'b.mjs'), body(2))
    const registry = new ToolRegistry()
    await loadToolModule('./a.mjs', dir, registry)
    await expect(loadToolModule('./b.mjs', dir, registry)).rejects.toThrow('tool module "./b.mjs" exports a tool named "t.echo", and a different tool of that name is already loaded (by a built-in or a tool module given before this one: rename one of them)')
  })
})
