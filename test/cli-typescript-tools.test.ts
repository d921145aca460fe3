import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bin, ensureBuilt, root } from './cli-bin.js'

beforeAll(ensureBuilt, 120_000)

describe('--tools ./tools.ts in a default npm init project', () => {
  it('loads a TypeScript module written as the docs show (CommonJS package.json, no "type")', async () => {
    const project = await mkdtemp(join(tmpdir(), 'tw-cjs-project-'))
    // What `npm init -y` writes: no "type", so Node and tsx would treat tools.ts as CommonJS.
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-project', version: '1.0.0', main: 'index.js', license: 'ISC' }))
    await mkdir(join(project, 'node_modules'))
    await symlink(root, join(project, 'node_modules/taskweave'))
    await symlink(join(root, 'node_modules/zod'), join(project, 'node_modules/zod'))
    await writeFile(join(project, 'shout.ts'), 'export const shout = (text: string): string => text.toUpperCase()\n')
    await writeFile(
      join(project, 'tools.ts'),
      "import { z } from 'zod'\nimport { defineTool } from 'taskweave'\nimport { shout } from './shout.ts'\n\n" +
        "export const loud = defineTool({\n  name: 'my.shout',\n  input: z.object({ text: z.string() }),\n  run: ({ text }: { text: string }) => shout(text),\n})\n",
    )
    await writeFile(join(project, 'flow.yaml'), 'id: w\ntasks:\n  - id: s\n    tool: my.shout\n    input: { text: hello }\n')
    // Before the fix: "Cannot require() ES Module … tools.ts in a cycle" (exit 2).
    const result = await bin(['run', 'flow.yaml', '--tools', './tools.ts', '--json'], { cwd: project })
    expect(result.stderr).not.toMatch(/cannot load/)
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).tasks.s.output).toBe('HELLO')
  })
})
