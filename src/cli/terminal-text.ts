/**
 * Text from a run (task output, error messages, progress notes, ids, reasons, file contents quoted
 * in errors) is data, and a terminal obeys control characters in data: an `ESC [ 2 J` in a tool's
 * error clears the screen, an OSC sequence sets the window title or writes a hyperlink, a CR
 * overwrites the line before it. Every CLI printer passes such text through {@link terminalSafe},
 * which shows each control character as a visible escape instead (`\x1b`, `\u009b`), so what the
 * user reads is what the run produced. The CLI's own colours are added after this, by the printer.
 * @module
 */

// C0 controls, DEL, C1 controls, and the Unicode controls that reorder or break lines.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex -- the same set without the line feed
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function visible(c: string): string {
  const code = c.charCodeAt(0)
  if (c === '\t') return '\\t'
  if (c === '\r') return '\\r'
  if (c === '\n') return '\\n'
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * `text` with every control character shown as an escape. `multiline: true` keeps line feeds
 * (for outputs printed as blocks); elsewhere a line feed is escaped too, so one event stays one line.
 */
export function terminalSafe(text: string, options: { readonly multiline?: boolean } = {}): string {
  const pattern = options.multiline === true ? CONTROL_BUT_NEWLINE : CONTROL
  pattern.lastIndex = 0
  return pattern.test(text) ? text.replace(pattern, visible) : text
}

// The CLI's own colour codes (SGR sequences): the only escapes a line may still hold after terminalSafe.
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const SGR = /\x1b\[[0-9;]*m/y

/**
 * `line` cut to `width` columns on screen, ending in `…` when cut: the CLI's colour codes take no
 * column and are kept (a reset follows a cut, so no colour leaks into the next line). A line
 * wider than the terminal wraps onto a second row, and a view that redraws itself in place by
 * counting its lines would then leave the extra rows behind on every frame.
 */
export function clipToWidth(line: string, width: number): string {
  if (!(width >= 1) || line.length <= width) return line
  let out = ''
  let columns = 0
  let coloured = false
  for (let i = 0; i < line.length; ) {
    SGR.lastIndex = i
    const code = SGR.exec(line)
    if (code !== null) {
      out += code[0]
      coloured = true
      i += code[0].length
      continue
    }
    const char = String.fromCodePoint(line.codePointAt(i) as number)
    if (columns === width - 1) {
      // One column left: the ellipsis, if anything visible follows.
      if (visibleWidthFrom(line, i) > 1) return `${out}…${coloured ? '\x1b[0m' : ''}`
    }
    out += char
    columns++
    i += char.length
  }
  return out
}

/** Columns the rest of `line` from `start` takes on screen (its colour codes take none). */
function visibleWidthFrom(line: string, start: number): number {
  let columns = 0
  for (let i = start; i < line.length; ) {
    SGR.lastIndex = i
    const code = SGR.exec(line)
    if (code !== null) {
      i += code[0].length
      continue
    }
    i += (line.codePointAt(i) as number) > 0xffff ? 2 : 1
    columns++
  }
  return columns
}
