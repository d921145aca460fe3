/**
 * Compiles a task's whole input (any JSON value with template strings anywhere inside) once,
 * at validation, into a resolver. Inputs without templates stay static and are validated once.
 * @module
 */
import { parseTemplate, renderTemplate, TemplateSyntaxError } from './template.js'
import type { ParsedTemplate, TemplateRef, TemplateScope } from './template.js'
import { TaskweaveError } from '../core/errors.js'

/** An input value compiled for resolution. */
export interface CompiledValue {
  /** True when the value holds no template: `resolve` returns it unchanged. */
  readonly isStatic: boolean
  /** Every reference inside, with the field it sits in. */
  readonly refs: readonly { readonly field: string; readonly ref: TemplateRef }[]
  /** Builds the concrete value; throws a `TW_TEMPLATE` error naming the field. */
  resolve(scope: TemplateScope): unknown
}

/** A template problem found while compiling, with the field it was found in. */
export interface TemplateIssue {
  readonly field: string
  readonly message: string
}

type Node =
  | { readonly t: 'static'; readonly value: unknown }
  | { readonly t: 'template'; readonly template: ParsedTemplate; readonly field: string }
  | { readonly t: 'array'; readonly items: readonly Node[] }
  | { readonly t: 'object'; readonly entries: readonly (readonly [string, Node])[] }

/** Compiles `value`; template syntax errors are pushed to `issues` (with their field) rather than thrown. */
export function compileValue(value: unknown, field: string, issues: TemplateIssue[]): CompiledValue {
  const refs: { field: string; ref: TemplateRef }[] = []
  const root = compileNode(value, field, refs, issues)
  if (root.t === 'static') return { isStatic: true, refs, resolve: () => value }
  return {
    isStatic: false,
    refs,
    resolve: (scope) => resolveNode(root, scope),
  }
}

function compileNode(value: unknown, field: string, refs: { field: string; ref: TemplateRef }[], issues: TemplateIssue[]): Node {
  if (typeof value === 'string') {
    let template: ParsedTemplate | undefined
    try {
      template = parseTemplate(value)
    } catch (err) {
      if (err instanceof TemplateSyntaxError) {
        issues.push({ field, message: err.message })
        return { t: 'static', value }
      }
      throw err
    }
    if (template === undefined) return { t: 'static', value }
    if (template.kind === 'whole') refs.push({ field, ref: template.ref })
    else for (const part of template.parts) if (typeof part !== 'string') refs.push({ field, ref: part })
    return { t: 'template', template, field }
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => compileNode(item, `${field}[${i}]`, refs, issues))
    return items.every((item) => item.t === 'static') ? { t: 'static', value } : { t: 'array', items }
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, item]) => [key, compileNode(item, `${field}.${key}`, refs, issues)] as const)
    return entries.every(([, item]) => item.t === 'static') ? { t: 'static', value } : { t: 'object', entries }
  }
  return { t: 'static', value }
}

function resolveNode(node: Node, scope: TemplateScope): unknown {
  switch (node.t) {
    case 'static':
      return node.value
    case 'template':
      try {
        return renderTemplate(node.template, scope)
      } catch (err) {
        if (TaskweaveError.is(err)) {
          throw new TaskweaveError(err.code, `${node.field}: ${err.message}`, { retryable: false, details: { ...err.details, field: node.field } })
        }
        throw err
      }
    case 'array':
      return node.items.map((item) => resolveNode(item, scope))
    case 'object': {
      // A null-prototype object: resolved keys such as "__proto__" stay plain data.
      const out = Object.create(null) as Record<string, unknown>
      for (const [key, item] of node.entries) out[key] = resolveNode(item, scope)
      return out
    }
  }
}
