/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core): the runs list,
 * a run followed live as its tasks finish, the timeline and graph, a task's detail, the new-run
 * form with its errors, cancelling, and the token prompt. No console error and no CSP violation.
 */
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import type { Engine } from '../../src/engine/engine.js'
import { startServer } from '../../src/server/server.js'
import { MemoryRunStore } from '../../src/stores/memory.js'
import type { TaskweaveServer } from '../../src/server/server.js'
import { send } from './http-client.js'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'dashboard-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }

/** Gates opened by the test, one per name. */
const gates = new Map<string, () => void>()
const waiting = new Map<string, Promise<void>>()
function gate(name: string): Promise<void> {
  let found = waiting.get(name)
  if (found === undefined) {
    found = new Promise<void>((resolve) => gates.set(name, resolve))
    waiting.set(name, found)
  }
  return found
}
const open = (name: string): void => {
  void gate(name)
  gates.get(name)?.()
}

const step = defineTool({
  name: 'test.step',
  description: 'waits for its gate, then returns its value (or fails when told)',
  input: z.object({ gate: z.string(), value: z.unknown().optional(), fail: z.boolean().default(false) }),
  async run(input, ctx) {
    await new Promise<void>((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })
      void gate(input.gate).then(resolve)
    })
    if (input.fail) throw new Error(`step ${ctx.taskId} failed as told`)
    return input.value ?? ctx.taskId
  },
})

/** Fails while its task id is in `broken` (a service down), for the retry button. */
const broken = new Set<string>()
const flaky = defineTool({
  name: 'test.flaky',
  input: z.object({}),
  run: (_input, ctx) => {
    if (broken.has(ctx.taskId)) throw new Error(`the service behind ${ctx.taskId} is down`)
    return 'done'
  },
})

let browser: Browser
let engine: Engine
let server: TaskweaveServer
let page: Page
const problems: string[] = []

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`)
  // With a store: finished runs can be retried from the run's page.
  engine = createEngine({ builtins: false, tools: [step, flaky], store: new MemoryRunStore() })
  server = await startServer({ engine, token: TOKEN, port: 0 })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  page = await browser.newPage()
  page.on('console', (message) => {
    // Answers the tests ask for: 401 before the page has its token, 400 for the form's bad workflow.
    if (message.type() === 'error' && !/status of (401|400)\b/.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
}, 60_000)

afterAll(async () => {
  for (const resolve of gates.values()) resolve()
  await browser?.close()
  await server?.close()
  await engine?.close()
})

async function startRun(workflow: object): Promise<string> {
  const reply = await send(server.port, '/api/runs', { method: 'POST', headers: AUTH, body: { workflow } })
  expect(reply.status).toBe(201)
  return (reply.json as { id: string }).id
}

const status = (taskId: string) => page.locator(`#tasks tr[data-task="${taskId}"] .badge`)

describe('the dashboard', () => {
  it('asks for the token, then lists the runs', async () => {
    const id = await startRun({ id: 'first', tasks: [{ id: 'only', tool: 'test.step', input: { gate: 'first' } }] })
    await page.goto(server.url)
    await page.locator('#token-dialog[open]').waitFor()
    await page.fill('#token-input', 'x'.repeat(20))
    await page.click('#token-form button')
    await expect.poll(() => page.locator('#token-error').textContent()).toMatch(/refused/)
    await page.fill('#token-input', TOKEN)
    await page.click('#token-form button')
    await page.locator(`#runs tr[data-run="${id}"]`).waitFor()
    expect(await page.locator(`#runs tr[data-run="${id}"]`).textContent()).toContain('running')
    open('first')
  }, 30_000)

  it('follows a run live: task states, the timeline, the graph and a task detail', async () => {
    const id = await startRun({
      id: 'live',
      tasks: [
        { id: 'fetch', tool: 'test.step', input: { gate: 'fetch', value: { pages: 3 } } },
        { id: 'parse', tool: 'test.step', input: { gate: 'parse' }, dependsOn: ['fetch'] },
        { id: 'index', tool: 'test.step', input: { gate: 'index', fail: true }, dependsOn: ['fetch'] },
        { id: 'report', tool: 'test.step', input: { gate: 'report' }, dependsOn: ['parse', 'index'] },
      ],
    })
    await page.goto(`${server.url}/#/runs/${id}`)
    await expect.poll(() => status('fetch').textContent()).toBe('running')
    expect(await status('report').textContent()).toBe('pending')
    open('fetch')
    await expect.poll(() => status('fetch').textContent()).toBe('succeeded')
    await expect.poll(() => status('parse').textContent()).toBe('running')
    open('parse')
    open('index')
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('partial')
    expect(await status('index').textContent()).toBe('failed')
    expect(await page.locator('#tasks tr[data-task="index"]').textContent()).toContain('step index failed as told')
    expect(await status('report').textContent()).toBe('skipped')

    await page.click('[data-tab="timeline"]')
    await expect.poll(() => page.locator('#timeline rect[data-task]').count()).toBe(3)
    await page.click('[data-tab="graph"]')
    await expect.poll(() => page.locator('#graph g[data-task]').count()).toBe(4)
    expect(await page.locator('#graph line').count()).toBe(4)
    await page.click('#graph g[data-task="fetch"]')
    await expect.poll(() => page.locator('#task-detail pre').textContent()).toContain('"pages": 3')
  }, 30_000)

  it('starts a run from the form, showing a bad workflow\'s problems first', async () => {
    await page.goto(`${server.url}/#/new`)
    await page.fill('#workflow', JSON.stringify({ id: 'form', tasks: [{ id: 'a', tool: 'no.such.tool' }] }))
    await page.click('#start')
    await expect.poll(() => page.locator('#new-run-error').textContent()).toMatch(/unknown tool "no\.such\.tool"/)
    await page.fill('#workflow', '{ not json')
    await page.click('#start')
    await expect.poll(() => page.locator('#new-run-error').textContent()).toMatch(/Not JSON/)
    await page.fill('#workflow', JSON.stringify({ id: 'form', tasks: [{ id: 'a', tool: 'test.step', input: { gate: 'form' } }] }))
    await page.click('#start')
    await page.waitForURL(/#\/runs\//)
    await expect.poll(() => status('a').textContent()).toBe('running')
    open('form')
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('succeeded')
  }, 30_000)

  it('cancels a running run', async () => {
    const id = await startRun({ id: 'to-cancel', tasks: [{ id: 'slow', tool: 'test.step', input: { gate: 'never' } }] })
    await page.goto(`${server.url}/#/runs/${id}`)
    await expect.poll(() => status('slow').textContent()).toBe('running')
    page.once('dialog', (dialog) => void dialog.accept())
    await page.click('#cancel')
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('cancelled')
    expect(await status('slow').textContent()).toBe('cancelled')
  }, 30_000)

  it('retries a run that ended failed, and follows it to its end', async () => {
    broken.add('call')
    const id = await startRun({ id: 'to-retry', tasks: [{ id: 'call', tool: 'test.flaky' }, { id: 'after', tool: 'test.flaky', dependsOn: ['call'] }] })
    await page.goto(`${server.url}/#/runs/${id}`)
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('failed')
    expect(await status('after').textContent()).toBe('skipped')
    expect(await page.locator('#cancel').count()).toBe(0)
    broken.clear()
    page.once('dialog', (dialog) => void dialog.accept())
    await page.click('#retry')
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('succeeded')
    expect(await status('call').textContent()).toBe('succeeded')
    expect(await status('after').textContent()).toBe('succeeded')
    expect(await page.locator('#retry').count()).toBe(0)
  }, 30_000)

  it('showed task ids as text, and raised no error or CSP violation', async () => {
    const id = await startRun({ id: 'markup', tasks: [{ id: 'img-onerror', tool: 'test.step', input: { gate: 'markup', value: '<img src=x onerror="globalThis.pwned=1">' } }] })
    open('markup')
    await page.goto(`${server.url}/#/runs/${id}`)
    await expect.poll(() => page.locator('#run-status .badge').textContent()).toBe('succeeded')
    await page.click('#tasks tr[data-task="img-onerror"]')
    await expect.poll(() => page.locator('#task-detail pre').textContent()).toContain('<img src=x')
    expect(await page.evaluate('typeof globalThis.pwned')).toBe('undefined')
    expect([...new Set(problems)].slice(0, 5)).toEqual([])
  }, 30_000)
})
