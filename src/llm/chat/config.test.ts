import { describe, expect, it } from 'vitest'
import { DEFAULT_MODEL, OPENAI_BASE_URL, resolveLlmConnection } from './config.js'

describe('resolveLlmConnection', () => {
  it("defaults to OpenAI's endpoint, OPENAI_API_KEY and gpt-4o-mini", () => {
    const c = resolveLlmConnection({}, { OPENAI_API_KEY: 'sk-env' })
    expect(c).toMatchObject({ baseURL: OPENAI_BASE_URL, model: DEFAULT_MODEL, provider: 'openai', apiKeyEnv: 'OPENAI_API_KEY', isOpenAi: true, timeoutMs: 600_000 })
    expect(c.apiKey).toBe('sk-env')
  })

  it('reads OPENAI_BASE_URL, TASKWEAVE_LLM_MODEL and a named key variable', () => {
    const c = resolveLlmConnection({ apiKeyEnv: 'MY_KEY' }, { OPENAI_BASE_URL: 'http://localhost:11434/v1/', TASKWEAVE_LLM_MODEL: 'llama3.2', MY_KEY: 'k', OPENAI_API_KEY: 'not-this' })
    expect(c).toMatchObject({ baseURL: 'http://localhost:11434/v1', model: 'llama3.2', provider: 'localhost:11434', isOpenAi: false })
    expect(c.apiKey).toBe('k')
  })

  it('lets options win over the environment', () => {
    const c = resolveLlmConnection({ baseURL: 'https://llm.example.com/v1', apiKey: 'opt', model: 'm', provider: 'gw' }, { OPENAI_BASE_URL: 'http://x/v1', OPENAI_API_KEY: 'env', TASKWEAVE_LLM_MODEL: 'e' })
    expect(c).toMatchObject({ baseURL: 'https://llm.example.com/v1', model: 'm', provider: 'gw' })
    expect(c.apiKey).toBe('opt')
  })

  it('names a host without a port by its host alone', () => {
    expect(resolveLlmConnection({ baseURL: 'https://llm.example.com/v1' }, {}).provider).toBe('llm.example.com')
  })

  it('allows no key, and reads organization and project only for OpenAI', () => {
    expect(resolveLlmConnection({ baseURL: 'http://127.0.0.1:8080/v1' }, { OPENAI_API_KEY: '' }).apiKey).toBeUndefined()
    expect(resolveLlmConnection({}, { OPENAI_ORG_ID: 'org', OPENAI_PROJECT_ID: 'proj' })).toMatchObject({ organization: 'org', project: 'proj' })
    expect(resolveLlmConnection({ baseURL: 'http://127.0.0.1:8080/v1' }, { OPENAI_ORG_ID: 'org' }).organization).toBeUndefined()
  })

  it('keeps the key out of spreads, keys and JSON', () => {
    const c = resolveLlmConnection({ apiKey: 'sk-secret-123' }, {})
    expect(Object.keys(c)).not.toContain('apiKey')
    expect(JSON.stringify(c)).not.toContain('sk-secret-123')
    expect(JSON.stringify({ ...c })).not.toContain('sk-secret-123')
  })

  it.each([
    [{ baseURL: 'ftp://x/' }, 'llm.baseURL'],
    [{ baseURL: 'not a url' }, 'llm.baseURL'],
    [{ baseURL: 'https://user:sk-secret@x/v1' }, 'llm.baseURL'],
    [{ timeoutMs: 0 }, 'llm.timeoutMs'],
    [{ model: '' }, 'llm.model'],
    [{ apiKeyEnv: 'has space' }, 'llm.apiKeyEnv'],
    [{ headers: { 'x-a': 1 } }, 'llm.headers'],
  ])('refuses %j naming %s', (options, option) => {
    expect(() => resolveLlmConnection(options as never, {})).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', details: expect.objectContaining({ option }) }))
  })

  it('takes the provider of the rate key from TASKWEAVE_LLM_PROVIDER unless the option names one', () => {
    expect(resolveLlmConnection({}, { OPENAI_BASE_URL: 'http://127.0.0.1:8787/v1', TASKWEAVE_LLM_PROVIDER: 'openai' }).provider).toBe('openai')
    expect(resolveLlmConnection({ provider: 'gw' }, { TASKWEAVE_LLM_PROVIDER: 'openai' }).provider).toBe('gw')
  })

  it('quotes a URL without a scheme as written, and says what was meant', () => {
    expect(() => resolveLlmConnection({ baseURL: 'localhost:8787' }, {})).toThrow('option "llm.baseURL" must be an http: or https: URL without credentials, such as "http://localhost:8787"; received "localhost:8787"')
  })

  it('never quotes a key given in the URL', () => {
    try {
      resolveLlmConnection({ baseURL: 'https://user:sk-secret@x/v1' }, {})
      expect.unreachable()
    } catch (err) {
      expect(JSON.stringify(err) + String(err)).not.toContain('sk-secret')
    }
  })
})
