/**
 * Runs `bin/taskweave.js` as a child process, as a user would. The bin runs the compiled `dist/`,
 * so the first call of a test file rebuilds it when any source file is newer than the last build
 * (a stale `dist/` would test yesterday's code). A lock directory keeps parallel test files from
 * building at the same time.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** The package root. */
export const root = new URL('..', import.meta.url).pathname
/** The CLI entry. */
export const binPath = join(root, 'bin/taskweave.js')

const STAMP = join(root, 'dist/.built')
const LOCK = join(root, 'dist.build-lock')

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function isFresh(): boolean {
  // dist/bin/ and dist/lib/ are the bundles the bin and the package's exports load
  // (scripts/build-cli.js, scripts/build-lib.js): a dist/ built before they existed is stale, and
  // so is one older than the build scripts or package.json (its exports name the bundles).
  if (!existsSync(STAMP) || !existsSync(join(root, 'dist/bin/cli.js')) || !existsSync(join(root, 'dist/lib/index.js'))) return false
  const built = statSync(STAMP).mtimeMs
  return built >= newestSource(join(root, 'src')) && built >= newestScript(join(root, 'scripts')) && built >= statSync(join(root, 'package.json')).mtimeMs
}

/** Modification time of the newest build script. */
function newestScript(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isFile() && entry.name.endsWith('.js')) newest = Math.max(newest, statSync(join(dir, entry.name)).mtimeMs)
  return newest
}

let built: Promise<void> | undefined

/** Builds `dist/` unless it is newer than every source file. */
export function ensureBuilt(): Promise<void> {
  built ??= (async () => {
    for (;;) {
      if (isFresh()) return
      try {
        mkdirSync(LOCK)
      } catch {
        await delay(200) // another test file is building
        continue
      }
      try {
        if (!isFresh()) {
          await exec('npm', ['run', 'build'], { cwd: root })
          writeFileSync(STAMP, '')
        }
      } finally {
        rmSync(LOCK, { recursive: true, force: true })
      }
      return
    }
  })()
  return built
}

/** The outcome of one CLI call. */
export interface BinResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI to completion (with a time limit, so a hang fails the test instead of stalling it). */
export async function bin(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<BinResult> {
  await ensureBuilt()
  const child = spawnBin(args, options)
  if (options.input !== undefined) child.stdin.end(options.input)
  else child.stdin.end()
  return collect(child, options.timeoutMs ?? 20_000)
}

/** Starts the CLI and returns the child, for tests that signal it. */
export function spawnBin(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcessWithoutNullStreams {
  // Runs keep no store unless a test asks for one: parallel test files would share ./.taskweave.
  return spawn(process.execPath, [binPath, ...args], { cwd: options.cwd ?? root, env: { ...process.env, NO_COLOR: '1', TASKWEAVE_STORE: 'memory', ...options.env } })
}

/** Waits for a child to exit; kills it (and reports the hang in stderr) after `timeoutMs`. */
export function collect(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<BinResult> {
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${timeoutMs} ms`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
