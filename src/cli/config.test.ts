import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadCliConfig } from './config.js'

const dir = mkdtempSync(join(tmpdir(), 'tw-config-'))
const file = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('loadCliConfig', () => {
  it('reads rates, autoscale, concurrency, store and budget from YAML', async () => {
    const path = file('ok.yaml', 'concurrency: 8\nstore: memory\nrates:\n  openai:gpt-4o: { requests: 500/min, tokens: 200000/min }\nautoscale: true\nbudget: { maxTokens: 1000 }\n')
    expect(await loadCliConfig(path)).toEqual({ concurrency: 8, store: 'memory', rates: { 'openai:gpt-4o': { requests: '500/min', tokens: '200000/min' } }, autoscale: true, budget: { maxTokens: 1000 } })
  })

  it('reads the broker: transport and prefix', async () => {
    const path = file('broker.yaml', 'transport: amqp://guest:guest@localhost:5672\nprefix: prod\n')
    expect(await loadCliConfig(path)).toEqual({ transport: 'amqp://guest:guest@localhost:5672', prefix: 'prod' })
  })

  it('reads engine-wide group caps', async () => {
    expect(await loadCliConfig(file('groups.yaml', 'groups: { llm: 8, io: 2 }\n'))).toEqual({ groups: { llm: 8, io: 2 } })
    await expect(loadCliConfig(file('groups-bad.yaml', 'groups: { llm: 0 }\n'))).rejects.toThrow(/groups-bad\.yaml:1:16 groups\.llm: /)
  })

  it('says where each mistake is (line and column), names an unknown setting and hints at what was meant', async () => {
    const path = file('where.yaml', 'concurrency: 4\nstore:\n  kind: sqlite\nlimits:\n  groups: { llm: 2 }\nautoscale: { minn: 1 }\n')
    const error = (await loadCliConfig(path).then(() => new Error('accepted'), (err: unknown) => err as Error))
    expect(error.message.split('\n')).toEqual([
      'invalid configuration (3 problems):',
      `  - ${path}:3:3 store: Invalid input: expected string, received object`,
      `  - ${path}:6:14 autoscale.minn: unknown key`,
      `  - ${path}:4:1 limits: unknown setting (a workflow's \`limits\` do not go here: engine-wide caps are \`groups: { name: n }\`, provider limits \`rates\`); the settings are concurrency, store, rates, autoscale, budget, transport, prefix, groups`,
    ])
    await expect(loadCliConfig(file('broken.yaml', 'concurrency: 4\n  bad: [\n'))).rejects.toThrow(/invalid configuration[\s\S]*broken\.yaml:1:14: /)
  })

  it('takes an empty file (or only comments) as no settings, and says a list is not a configuration', async () => {
    expect(await loadCliConfig(file('empty.yaml', '# concurrency: 8\n# store: memory\n'))).toEqual({})
    expect(await loadCliConfig(file('blank.yaml', ''))).toEqual({})
    await expect(loadCliConfig(file('list.yaml', '- concurrency: 8\n'))).rejects.toThrow(/invalid configuration[\s\S]*list\.yaml: a configuration file must hold a mapping of settings/)
  })

  it('falls back to TASKWEAVE_CONFIG, and to nothing', async () => {
    const path = file('env.json', '{"concurrency": 3}')
    expect(await loadCliConfig(undefined, { TASKWEAVE_CONFIG: path })).toEqual({ concurrency: 3 })
    expect(await loadCliConfig(undefined, {})).toEqual({})
  })

  it('names the file and field of a mistake', async () => {
    const path = file('bad.yaml', 'rates:\n  k: { requests: lots }\n')
    await expect(loadCliConfig(path)).rejects.toThrow(/bad\.yaml.*rates\.k\.requests|rates\.k\.requests.*bad\.yaml/s)
    await expect(loadCliConfig(file('typo.yaml', 'rate: {}\n'))).rejects.toThrow(/rate/)
    await expect(loadCliConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/ENOENT/)
  })
})
