/**
 * The nesting cap, checked on the text before any parser sees it. Both YAML parsers recurse per
 * level of nesting, so a file of 20,000 `[` overflows the stack inside them and the user reads
 * "Maximum call stack size exceeded". This scan is one linear pass: it counts flow collections
 * (`[`, `{`) outside quoted scalars, comments and block scalars, and stops at the first one deeper
 * than the limit, returning its line and column. Block nesting (indentation) cannot grow as deep
 * within the size limit without flow brackets or `- - -` runs; those still reach the parser, whose
 * overflow is reported with the same words ({@link NESTING_OVERFLOW}).
 * @module
 */

/** Where nesting first exceeded the limit (1-based line and column). */
export interface NestingExcess {
  readonly line: number
  readonly column: number
}

/** Recognises a parser's stack overflow in an error message. */
export const NESTING_OVERFLOW = /Maximum call stack size exceeded/

/** The message for a document nested deeper than `maxDepth`. */
export function nestingMessage(maxDepth: number): string {
  return `the document is nested deeper than ${maxDepth} levels`
}

const SPACE = /[ \t]/

/** The first flow collection nested deeper than `maxDepth`, or undefined. */
export function findFlowNestingExcess(text: string, maxDepth: number): NestingExcess | undefined {
  let depth = 0
  let lineStart = 0
  // Indentation of the line that opened a block scalar (`|` or `>`): deeper lines are its text.
  let blockScalarIndent = -1
  let atTokenStart = true
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === '\n') {
      lineStart = i + 1
      atTokenStart = true
      if (blockScalarIndent >= 0) {
        lineStart = skipBlockScalar(text, lineStart, blockScalarIndent)
        i = lineStart - 1
        blockScalarIndent = -1
      }
      continue
    }
    if (c === '#' && (i === lineStart || SPACE.test(text[i - 1] ?? ''))) {
      i = endOfLine(text, i) - 1
      continue
    }
    if ((c === '"' || c === "'") && (atTokenStart || depth > 0)) {
      i = endOfQuoted(text, i, c)
      atTokenStart = false
      continue
    }
    if (c === '[' || c === '{') {
      // Outside a flow collection a bracket inside a plain scalar (`a[0]`) is text.
      if (depth > 0 || atTokenStart) {
        depth++
        if (depth > maxDepth) return positionOf(text, i)
      }
    } else if ((c === ']' || c === '}') && depth > 0) depth--
    else if ((c === '|' || c === '>') && depth === 0 && atTokenStart) blockScalarIndent = indentOf(text, lineStart)
    atTokenStart = SPACE.test(c) || (depth > 0 && (c === ',' || c === '[' || c === '{' || c === ':'))
  }
  return undefined
}

/** Line and column of an offset (counted only once, when there is something to report). */
function positionOf(text: string, offset: number): NestingExcess {
  let line = 1
  let lineStart = 0
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++
    lineStart = i + 1
  }
  return { line, column: offset - lineStart + 1 }
}

function endOfLine(text: string, i: number): number {
  const end = text.indexOf('\n', i)
  return end === -1 ? text.length : end
}

/** Index of the closing quote (or the end of the text). */
function endOfQuoted(text: string, i: number, quote: string): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j]
    if (quote === '"' && c === '\\') j++
    else if (c === quote) {
      if (quote === "'" && text[j + 1] === "'") j++
      else return j
    }
  }
  return text.length
}

function indentOf(text: string, lineStart: number): number {
  let n = 0
  while (text[lineStart + n] === ' ') n++
  return n
}

/** The start of the first line from `start` on that is not part of a block scalar opened at `indent`. */
function skipBlockScalar(text: string, start: number, indent: number): number {
  let i = start
  while (i < text.length) {
    const end = endOfLine(text, i)
    const blank = text.slice(i, end).trim() === ''
    if (!blank && indentOf(text, i) <= indent) return i
    i = end + 1
  }
  return text.length
}
