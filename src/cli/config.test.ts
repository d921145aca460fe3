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
