import { execFileSync } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readRegularFile } from './read-bounded.js'

describe('readRegularFile', () => {
  it('reads a regular file and refuses one over the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-read-'))
    const file = join(dir, 'flow.yaml')
    await writeFile(file, 'id: w\n')
    expect((await readRegularFile(file, 100)).toString()).toBe('id: w\n')
    await expect(readRegularFile(file, 3)).rejects.toThrow(/the file is 6 bytes; the limit is 3/)
  })

  it('refuses directories, FIFOs and devices at once, naming what they are', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-read-'))
    await expect(readRegularFile(dir, 1024)).rejects.toThrow(`${dir}: not a regular file (a directory)`)
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    // Without a non-blocking open this waits for a writer forever.
    await expect(readRegularFile(fifo, 1024)).rejects.toThrow('not a regular file (a pipe or FIFO)')
    await expect(readRegularFile('/dev/zero', 1024)).rejects.toThrow('not a regular file (a character device)')
  })

  it('caps the bytes read when the size the file reports is wrong', async () => {
    // /proc files are regular and report 0 bytes, yet hold more.
    const text = (await readRegularFile('/proc/self/status', 1 << 20)).toString()
    expect(text).toContain('Name:')
    await expect(readRegularFile('/proc/self/status', 64)).rejects.toThrow(/holds more than 64 bytes; the limit is 64/)
  })
})
