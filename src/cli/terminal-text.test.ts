import { describe, expect, it } from 'vitest'
import { terminalSafe } from './terminal-text.js'

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
