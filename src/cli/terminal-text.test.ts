import { describe, expect, it } from 'vitest'
import { clipToWidth, terminalSafe } from './terminal-text.js'

describe('terminalSafe', () => {
  it('shows C0, ESC, DEL, C1 and bidi controls as visible escapes', () => {
    expect(terminalSafe('a\x1b[2Jb\x07c\x7fd\u009b31me\r\tf\u202eg')).toBe('a\\x1b[2Jb\\x07c\\x7fd\\x9b31me\\r\\tf\\u202eg')
  })

  it('keeps line feeds only when asked, and plain text as it is', () => {
    expect(terminalSafe('one\ntwo')).toBe('one\\ntwo')
    expect(terminalSafe('one\ntwo\x1b]0;x\x07', { multiline: true })).toBe('one\ntwo\\x1b]0;x\\x07')
    const plain = 'plain text — ünïcödé ✔'
    expect(terminalSafe(plain)).toBe(plain)
  })
})

describe('clipToWidth', () => {
  it('leaves a line that fits, and cuts a longer one to the width with an ellipsis', () => {
    expect(clipToWidth('abcdef', 6)).toBe('abcdef')
    expect(clipToWidth('abcdefg', 6)).toBe('abcde…')
    expect(clipToWidth('abc', Infinity)).toBe('abc')
  })

  it('counts no column for colour codes, keeps them, and resets after a cut', () => {
    const green = (s: string): string => `\x1b[32m${s}\x1b[39m`
    expect(clipToWidth(`${green('ok')} fine`, 7)).toBe(`${green('ok')} fine`)
    expect(clipToWidth(`${green('ok')} fine and more`, 7)).toBe(`${green('ok')} fin…\x1b[0m`)
  })

  it('does not split a character outside the basic plane', () => {
    expect(clipToWidth('ab😀cd', 4)).toBe('ab😀…')
    expect(clipToWidth('ab😀', 3)).toBe('ab😀')
  })
})

