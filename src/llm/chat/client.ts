/**
 * The official `openai` client, made on the first call rather than with the tool: the package
 * takes ~100 ms to import, and most processes that create the tool never call it. One client per
 * connection (per tool), kept for the life of the tool.
 *
 * The client never retries (`maxRetries: 0`): the engine owns retries and rate limits, and a
 * hidden retry would spend the rate key's budget behind its back. Every request carries the
 * task's signal.
 * @module
 */
import type OpenAI from 'openai'
import type * as OpenAiPackage from 'openai'
import { NO_KEY_PLACEHOLDER, type ResolvedLlmConnection } from './config.js'

/** The loaded `openai` module: the client class and its error classes. */
export type OpenAiModule = typeof OpenAiPackage

/** A client and the module it came from (whose error classes classify what it throws). */
export interface LoadedClient {
  readonly client: OpenAI
  readonly module: OpenAiModule
}

/** Returns the connection's client, importing `openai` and making the client on the first call. */
export type ClientLoader = () => Promise<LoadedClient>

/** A loader of one client for `connection`; a failed import is tried again on the next call. */
export function createClientLoader(connection: ResolvedLlmConnection): ClientLoader {
  let pending: Promise<LoadedClient> | undefined
  return () => {
    pending ??= makeClient(connection).catch((err: unknown) => {
      pending = undefined
      throw err
    })
    return pending
  }
}

async function makeClient(connection: ResolvedLlmConnection): Promise<LoadedClient> {
  const module = await import('openai')
  const client = new module.OpenAI({
    baseURL: connection.baseURL,
    apiKey: connection.apiKey ?? NO_KEY_PLACEHOLDER,
    // Explicit nulls: the client would otherwise read OPENAI_ORG_ID and friends itself, from the
    // real environment, even for a connection resolved against an injected one.
    organization: connection.organization ?? null,
    project: connection.project ?? null,
    adminAPIKey: null,
    webhookSecret: null,
    timeout: connection.timeoutMs,
    maxRetries: 0,
    defaultHeaders: connection.headers,
  })
  return { client, module }
}
