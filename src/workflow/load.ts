/**
 * Loading workflow files (YAML 1.2 or JSON). Hostile files are contained: a size limit before
 * parsing, an alias cap (no "billion laughs"), a nesting cap, duplicate keys and custom tags
 * refused, YAML 1.2 core schema (so `no` stays a string).
 *
 * Two parsers share the work. `js-yaml` reads a plain file (string keys; no tags, anchors,
 * aliases or directives; nothing the two are known to read differently) about 15 times faster,
 * with a fraction of the memory: a 50,000-task file in well under a second. The
 * `yaml` parser, which keeps every node's position, reads anything `js-yaml` refused (for its
 * exact error messages, with line and column) and, on demand, locates the lines of validation
 * issues. Both apply the YAML 1.2 core schema; a test checks they agree on every file both accept.
 * @module
 */
import { createRequire } from 'node:module'
import { describeThrown } from '../core/thrown.js'
import { CORE_SCHEMA, defineMappingTag, load as loadPlainYaml } from 'js-yaml'
import type * as Yaml from 'yaml'
import type { Document } from 'yaml'
import { TaskweaveError, ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import type { ToolRegistry } from '../core/registry.js'
import { compileWorkflow } from './compile.js'
import { hasCondition, loadConditionLanguage } from './expression.js'
import type { CompiledWorkflow } from './compile.js'
import { readRegularFile } from './read-bounded.js'
import { findFlowNestingExcess, NESTING_OVERFLOW, nestingMessage } from './nesting.js'

/** Limits applied while reading a workflow file. */
export interface LoadOptions {
  /** Largest accepted file. @default 10 MiB */
  readonly maxBytes?: number
  /** Deepest accepted nesting of maps and lists. @default 64 */
  readonly maxDepth?: number
  /** Aborts the read. */
  readonly signal?: AbortSignal
}

/** A parsed (not yet compiled) workflow text with a locator for its nodes. */
export interface ParsedWorkflowText {
  readonly value: unknown
  /** Where the value at `path` (or its nearest ancestor) is written. */
  readonly locate: (path: readonly (string | number)[]) => { line: number; column: number } | undefined
  /** Where the key ending `path` is written (YAML only), else where its value is. */
  readonly locateKey?: (path: readonly (string | number)[]) => { line: number; column: number } | undefined
}

/** Parses YAML or JSON text; throws {@link ValidationError} with line and column on malformed input. */
export function parseWorkflowText(text: string, file: string | undefined, options: Pick<LoadOptions, 'maxDepth'> = {}): ParsedWorkflowText {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  // Before either parser: both recurse per level and would overflow the stack on deep brackets.
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  const excess = findFlowNestingExcess(body, maxDepth)
  if (excess !== undefined) throw new ValidationError([{ ...(file !== undefined ? { file } : {}), message: nestingMessage(maxDepth), ...excess }])
  const fast = parsePlain(body)
  // An integer past 2^53 was rounded by the parser: the positional parser finds and refuses it.
  if (fast === NOT_PLAIN || holdsUnsafeInteger(fast)) return parseWithPositions(body, file, options)
  checkShape(fast, file, options)
  // Positions are needed only for issues: the positional parse runs on the first lookup, if any.
  let located: ParsedWorkflowText['locate'] | undefined
  const locate: ParsedWorkflowText['locate'] = (path) => {
    if (located === undefined) {
      try {
        located = parseWithPositions(body, file, options).locate
      } catch {
        // Positions are a help, not a condition: the issue is reported without a line.
        located = () => undefined
      }
    }
    return located(path)
  }
  return { value: fast, locate }
}

let yamlModule: typeof Yaml | undefined

// The positional parser loads on first use: a plain file (most of them) that is valid never needs
// it. `yaml` is CommonJS under Node, so it loads synchronously (the same module `import` gives).
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml
  return yamlModule
}

const NOT_PLAIN = Symbol('not plain')
const DEFAULT_MAX_DEPTH = 64

/**
 * Mappings for the fast read: string keys only. `js-yaml` would turn a key such as `0x10`, `1.10`
 * or `null` into the string of its value (`16`, `1.1`, `null`) where the `yaml` parser keeps the
 * text as written; such files go to the `yaml` parser instead. `__proto__` stays an own key.
 */
const stringKeyMap = defineMappingTag('tag:yaml.org,2002:map', {
  create: (): Record<string, unknown> => ({}),
  identify: (value: unknown) => typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype,
  addPair: (map, key, value) => {
    if (typeof key !== 'string') return 'a mapping key that is not a string'
    if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, configurable: true, writable: true })
    else map[key] = value
    return ''
  },
  has: (map, key) => typeof key === 'string' && Object.hasOwn(map, key),
  keys: (map) => Object.keys(map),
  get: (map, key) => map[key as string],
})
const PLAIN_SCHEMA = CORE_SCHEMA.withTags(stringKeyMap)

/**
 * Texts the two parsers may read differently go to the `yaml` parser; a false alarm only costs
 * speed. In order: directives, lone CR and other line breaks or a BOM inside, tags and anchors,
 * block scalars with an indentation indicator, `\U` escapes, escaped line breaks, document
 * markers, tab indentation, numbers too long for a double, and a key whose value starts after a
 * column-0 comment.
 */
const NEEDS_POSITIONAL_PARSER = /^%|\r(?!\n)|[\u0085\u2028\u2029\ufeff]|(?:^|[\s[{,])[!&]|[|>][-+]?[1-9]|\\U|\\\r?\n|^\.\.\.|^[ \t]*(?:---|\.\.\.)|^[ ]*\t|[0-9]{309}|0x[0-9a-fA-F]{256}|0o[0-7]{342}|[0-9][eE][-+]?[0-9]{3}|:[ \t]*\r?\n#/m

/** Whether a line is longer than the 1,024 characters YAML allows an implicit key (an `indexOf` scan: linear). */
function hasLongLine(text: string, max = 1024): boolean {
  for (let start = 0; ; ) {
    const end = text.indexOf('\n', start)
    if ((end === -1 ? text.length : end) - start > max) return true
    if (end === -1) return false
    start = end + 1
  }
}

/**
 * The fast read: `js-yaml` with the YAML 1.2 core schema, string keys, duplicate keys refused and
 * no alias allowed. Anything it refuses, and any text the two parsers may read differently, goes
 * to the positional parser instead.
 */
function parsePlain(body: string): unknown {
  if (NEEDS_POSITIONAL_PARSER.test(body) || hasLongLine(body)) return NOT_PLAIN
  try {
    return loadPlainYaml(body, { schema: PLAIN_SCHEMA, maxAliases: 0, json: false })
  } catch {
    return NOT_PLAIN
  }
}

/**
 * YAML 1.2's `!!float` on a number written without a fraction (`!!float 1`): the `yaml` parser's
 * core float tags only take numbers written as floats and would leave it unresolved; in
 * JavaScript it is the same number. Only for an explicit tag: plain scalars resolve as before.
 */
const EXPLICIT_FLOAT: Yaml.ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  identify: () => false,
  resolve(text, onError) {
    const value = /^[-+]?\.(?:inf|Inf|INF)$/.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : /^\.(?:nan|NaN|NAN)$/.test(text) ? NaN : FLOAT_TEXT.test(text) ? Number(text) : undefined
    if (value === undefined) onError(`!!float needs a number; "${text}" is not one`)
    return value ?? text
  },
}
/** YAML 1.2 core schema's decimal numbers. */
const FLOAT_TEXT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/
/** The parser options both reads of the positional parser share. */
const POSITIONAL_OPTIONS = { version: '1.2', schema: 'core', uniqueKeys: false, strict: true, stringKeys: true, resolveKnownTags: false, customTags: (tags: Yaml.Tags) => [EXPLICIT_FLOAT, ...tags] } as const

/** The positional read with the `yaml` parser: exact errors with line and column, and a node locator. */
export function parseWithPositions(body: string, file: string | undefined, options: Pick<LoadOptions, 'maxDepth'> & ShapeOptions = {}): ParsedWorkflowText {
  const { LineCounter, parseDocument } = yaml()
  const lineCounter = new LineCounter()
  const fileField = file !== undefined ? { file } : {}
  let doc: Document.Parsed
  try {
    // resolveKnownTags: false refuses !!binary, !!timestamp, !!set, !!omap and !!pairs (only core tags are known).
    // Duplicate keys are found by duplicateKeys() below: the parser's own check compares every pair
    // of keys of a mapping, which takes minutes on a mapping of 100,000 keys.
    doc = parseDocument(body, { ...POSITIONAL_OPTIONS, lineCounter, prettyErrors: true })
  } catch (err) {
    throw new ValidationError([{ ...fileField, message: `cannot parse: ${describeThrown(err)}` }])
  }
  let problems = [...doc.errors, ...doc.warnings]
  // More than one document: fine when the others are empty (a trailing `---`), else said plainly.
  const multiple = problems.find((problem) => problem.code === 'MULTIPLE_DOCS')
  if (multiple !== undefined) {
    const documents = yaml().parseAllDocuments(body, POSITIONAL_OPTIONS)
    const list = Array.isArray(documents) ? documents : [documents]
    const { isScalar } = yaml()
    const isEmpty = (document: (typeof list)[number]): boolean => document.errors.length === 0 && (document.contents === null || (isScalar(document.contents) && document.contents.value === null))
    const withContent = list.filter((document) => !isEmpty(document)).length
    if (withContent <= 1) problems = problems.filter((problem) => problem !== multiple)
    else multiple.message = `a workflow file holds one workflow (one YAML document); this one holds ${withContent}, separated by ---: put each in a file of its own`
  }
  if (problems.length === 0) {
    const duplicate = duplicateKey(doc)
    if (duplicate !== undefined) {
      const pos = lineCounter.linePos(duplicate)
      throw new ValidationError([{ ...fileField, message: 'Map keys must be unique', line: pos.line, column: pos.col }])
    }
  }
  if (problems.length > 0) {
    // One stack overflow is reported once, where it was first seen.
    const overflow = problems.find((problem) => NESTING_OVERFLOW.test(problem.message))
    throw new ValidationError(
      (overflow ? [overflow] : problems).map((problem) => {
        const pos = problem.linePos?.[0]
        // The parser reports its own stack overflow (block nesting the text scan does not count) as a problem.
        // The parser's first line, without the position it ends with (given as file:line:column already) or the code frame after it.
        const message = NESTING_OVERFLOW.test(problem.message) ? nestingMessage(options.maxDepth ?? DEFAULT_MAX_DEPTH) : (problem.message.split('\n')[0] ?? problem.message).replace(/ at line \d+, column \d+:?$/, '')
        return { ...fileField, message, ...(pos ? { line: pos.line, column: pos.col } : {}) }
      }),
    )
  }
  let value: unknown
  try {
    // maxAliasCount caps alias expansion: a small file cannot expand into gigabytes.
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    const message = err instanceof RangeError ? nestingMessage(options.maxDepth ?? DEFAULT_MAX_DEPTH) : describeThrown(err)
    throw new ValidationError([{ ...fileField, message }])
  }
  checkShape(value, file, options)
  if (holdsUnsafeInteger(value)) refuseRoundedIntegers(doc, body, lineCounter, fileField)
  const { isNode } = yaml()
  const locate: ParsedWorkflowText['locate'] = (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = doc.getIn(path.slice(0, n), true)
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0])
        return { line: pos.line, column: pos.col }
      }
    }
    return undefined
  }
  const { isMap, isScalar } = yaml()
  const locateKey: ParsedWorkflowText['locateKey'] = (path) => {
    const parent: unknown = path.length > 0 ? doc.getIn(path.slice(0, -1), true) : undefined
    if (path.length > 0 && isMap(parent)) {
      for (const pair of parent.items) {
        const key: unknown = pair.key
        if (isScalar(key) && key.value === path[path.length - 1] && key.range) {
          const pos = lineCounter.linePos(key.range[0])
          return { line: pos.line, column: pos.col }
        }
      }
    }
    return locate(path)
  }
  return { value, locate, locateKey }
}

/** Whether a parsed value holds an integer a number cannot hold exactly (a literal the parser rounded, or a large float). */
function holdsUnsafeInteger(root: unknown): boolean {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === 'number') {
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return true
    } else if (typeof value === 'object' && value !== null) {
      for (const item of Array.isArray(value) ? value : Object.values(value)) stack.push(item)
    }
  }
  return false
}

/**
 * Refuses every integer literal of the document beyond ±(2^53 − 1): the parser read it as the
 * nearest number, so an id or an amount written in the file would reach the tools changed. A
 * float written as one (`1e20`) is left alone. Each is reported with its line.
 */
function refuseRoundedIntegers(doc: Document.Parsed, body: string, lineCounter: Yaml.LineCounter, fileField: { readonly file?: string }): void {
  const { isScalar, visit } = yaml()
  const issues: ValidationIssue[] = []
  visit(doc, {
    Scalar(_key, node) {
      if (!isScalar(node) || typeof node.value !== 'number' || Number.isSafeInteger(node.value) || !Number.isInteger(node.value) || node.range === undefined || node.range === null) return
      const literal = body.slice(node.range[0], node.range[1]).trim()
      if (!/^[-+]?(?:\d[\d_]*|0x[0-9a-fA-F]+|0o[0-7]+)$/.test(literal)) return
      const pos = lineCounter.linePos(node.range[0])
      issues.push({ ...fileField, line: pos.line, column: pos.col, message: `the integer ${literal} is beyond what a number holds exactly (±${Number.MAX_SAFE_INTEGER}): it would be read as ${String(node.value)}; write it in quotes to keep it as text` })
    },
  })
  if (issues.length > 0) throw new ValidationError(issues)
}

/** The source offset of the first repeated key of any mapping in the document (one set per mapping: linear). */
function duplicateKey(doc: Document.Parsed): number | undefined {
  const { isMap, isNode, isScalar, isSeq } = yaml()
  const stack: unknown[] = [doc.contents]
  while (stack.length > 0) {
    const node = stack.pop()
    if (isMap(node)) {
      const seen = new Set<unknown>()
      for (const pair of node.items) {
        // Scalar keys compare by value (as the parser's own check did); other keys by their text.
        const key: unknown = isScalar(pair.key) ? pair.key.value : isNode(pair.key) ? String(pair.key) : pair.key
        if (seen.has(key)) return isNode(pair.key) && pair.key.range ? pair.key.range[0] : (node.range?.[0] ?? 0)
        seen.add(key)
        stack.push(pair.key, pair.value)
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item)
  }
  return undefined
}

/** For a list of task-like mappings (the seeds' workflow format): where the list goes. */
function listOfTasksHint(list: readonly unknown[]): string {
  const tasks = list.filter((item) => typeof item === 'object' && item !== null && Object.hasOwn(item, 'id')).length
  return tasks > 0 && tasks === list.length ? ` of ${tasks} task${tasks === 1 ? '' : 's'}: give the workflow an id and put the list under tasks (id: my-flow, then tasks: with the list)` : ''
}

/** A workflow file holds a mapping, nested no deeper than the limit. */
function checkShape(value: unknown, file: string | undefined, options: Pick<LoadOptions, 'maxDepth'> & ShapeOptions): void {
  const fileField = file !== undefined ? { file } : {}
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  if (depthOf(value) > maxDepth) throw new ValidationError([{ ...fileField, message: nestingMessage(maxDepth) }])
  if (value === null && options.allowEmpty === true) return
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError([{ ...fileField, message: options.mappingMessage ?? `a workflow file must hold a mapping (id, tasks, …)${Array.isArray(value) ? `; this one holds a list${listOfTasksHint(value)}` : ''}` }])
  }
}

/** How {@link parseWithPositions} checks the document's shape, for files other than workflows. */
export interface ShapeOptions {
  /** An empty document (or only comments) is allowed: its value is null. */
  readonly allowEmpty?: boolean
  /** What to say when the document is not a mapping. */
  readonly mappingMessage?: string
}

function depthOf(root: unknown): number {
  let max = 0
  const stack: [unknown, number][] = [[root, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (typeof value !== 'object' || value === null) continue
    if (depth > max) max = depth
    if (max > 10_000) break
    for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return max
}

/** Reads and parses a workflow file (regular files only, size limit, UTF-8 check) without compiling it. */
export async function readWorkflowFile(file: string, options: LoadOptions = {}): Promise<ParsedWorkflowText> {
  options.signal?.throwIfAborted()
  const bytes = await readRegularFile(file, options.maxBytes ?? 10 * 1024 * 1024, options.signal)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new ValidationError([{ file, message: 'the file is not valid UTF-8' }])
  }
  const parsed = parseWorkflowText(text, file, options)
  // The CEL library loads only for a file with a condition (and here, asynchronously, so any Node can).
  if (hasCondition(parsed.value)) await loadConditionLanguage()
  return parsed
}

/** Reads, parses and compiles a workflow file against a registry. */
export async function loadWorkflowFile(file: string, registry: ToolRegistry, options: LoadOptions = {}): Promise<CompiledWorkflow> {
  const parsed = await readWorkflowFile(file, options)
  return compileWorkflow(parsed.value, { registry, file, locate: parsed.locate })
}

/** Reads the `tools:` module list of a workflow file without compiling it (to load them first). */
export function toolModulesOf(parsed: ParsedWorkflowText, file?: string): string[] {
  const tools = (parsed.value as { tools?: unknown }).tools
  if (tools === undefined) return []
  if (!Array.isArray(tools) || !tools.every((t) => typeof t === 'string')) {
    throw new TaskweaveError('TW_VALIDATION', `${file !== undefined ? `${file}: ` : ''}"tools" must be a list of module paths`, { retryable: false })
  }
  return tools
}

export type { ValidationIssue }
