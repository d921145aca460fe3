/**
 * One `POST /v1/chat/completions`: parse, admit against the quota (or answer 429), pick the
 * reply (script, error rate or default), wait the latency, answer (JSON or an SSE stream), and
 * reconcile the token reservation with what was used.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { defaultContent } from './default-content.js'
import { plainHeaders, sendJson, wait } from './http-io.js'
import { pickLatency } from './latency.js'
import type { Quota } from './quota.js'
import { rateLimitHeaders, retryAfterHeaders } from './rate-limit-headers.js'
import { parseChatRequest } from './request.js'
import type { Answer, AnswerToolCall } from './responses.js'
import { chunkGroups, completionBody, errorBody, FAKE_MODELS, streamPieces } from './responses.js'
import type { FakeState } from './state.js'
import type { TokenCounter } from './tokens.js'
import type { FakeChatRequest, FakeJson, FakeLatency, FakeReplyObject } from './types.js'

/** What the handler needs of the server. */
export interface ChatContext {
  readonly state: FakeState
  readonly quota: Quota
  readonly tokens: TokenCounter
  readonly latency: FakeLatency | undefined
  readonly errorRate: number
  readonly headers: boolean
  /** Whether a quota refusal uses a request of the window (see `FakeLlmOptions.refusalsCount`). */
  readonly refusalsCount: boolean
  readonly random: () => number
  readonly tokensPerSecond: number | undefined
  /** Monotonic milliseconds (the buckets' clock). */
  readonly now: () => number
  /** A fresh `chatcmpl-…` id. */
  readonly nextId: () => string
}

/** An error answer decided before the latency. */
interface ErrorPlan {
  readonly status: number
  readonly message: string
  readonly type: string
  readonly code: string | null
  readonly retryAfterMs: number | undefined
}

/**
 * Answers one chat completion request whose body was parsed as `body`. Never throws for what a
 * client sends; stops early (clearing its timers) when `signal` aborts, which the server does
 * when the client disconnects or the server closes.
 */
export async function handleChat(ctx: ChatContext, req: IncomingMessage, res: ServerResponse, body: FakeJson, signal: AbortSignal): Promise<void> {
  const parsed = parseChatRequest(body, plainHeaders(req), ctx.tokens)
  if (!parsed.ok) return sendJson(res, 400, errorBody(parsed.message, 'invalid_request_error', 'invalid_value', parsed.param))
  // Gone already (its close event has passed, so nothing below would ever end it): not counted.
  if (signal.aborted) return
  const request: FakeChatRequest = { index: ctx.state.nextIndex(), ...parsed.request }
  const end = ctx.state.begin(request)
  let finished = false
  let promptTokens = request.promptTokens
  let sentTokens = 0
  const reserved = request.promptTokens + (request.maxTokens ?? 0)
  let settled = false
  const settle = (used: number): void => {
    if (settled) return
    settled = true
    ctx.quota.settle(reserved, used, ctx.now())
  }
  res.once('close', () => {
    if (finished) return
    // The client went away (or the server closed) before the answer was complete: the quota
    // keeps the prompt and what was sent, as a provider bills a cancelled stream.
    settle(promptTokens + sentTokens)
    end({ status: 0, inputTokens: promptTokens, outputTokens: sentTokens })
  })
  const done = (status: number, inputTokens = 0, outputTokens = 0): void => {
    finished = true
    end({ status, inputTokens, outputTokens })
  }

  try {
    const admission = ctx.quota.admit(reserved, ctx.now())
    if (!admission.ok) {
      settled = true // no tokens were taken
      const tooLarge = admission.waitMs === Infinity
      // The refusal itself counts against the request quota, as with OpenAI (the bucket may go into debt).
      let waitMs = admission.waitMs
      if (ctx.refusalsCount && !tooLarge && ctx.quota.requests !== undefined) {
        ctx.quota.requests.adjust(-1, ctx.now())
        waitMs = Math.max(waitMs, ctx.quota.requests.waitFor(1, ctx.now()))
      }
      const message = tooLarge
        ? `Request too large for ${request.model ?? 'the model'}: limit ${ctx.quota.tokens?.capacity} tokens per window, requested ${reserved} (prompt ${request.promptTokens} + max tokens ${request.maxTokens ?? 0}). Send fewer tokens or lower max_tokens.`
        : `Rate limit reached for ${admission.limit}. Please try again in ${Math.ceil(waitMs)}ms.`
      done(429)
      return sendJson(res, 429, errorBody(message, admission.limit, 'rate_limit_exceeded'), { ...limitHeaders(ctx), ...(tooLarge ? {} : retryAfterHeaders(waitMs)) })
    }

    const scripted = ctx.state.scriptedReply(request)
    const failure = errorPlan(scripted) ?? (scripted === undefined && ctx.errorRate > 0 && ctx.random() < ctx.errorRate ? serverError() : undefined)
    const latencyMs = scripted?.latencyMs ?? pickLatency(ctx.latency, request, ctx.random)

    if (failure !== undefined) {
      if (!(await wait(latencyMs, signal))) return
      // An error answer uses no tokens; a 429 does not even use the request (as with a quota 429).
      settle(0)
      if (failure.status === 429) ctx.quota.returnRequest(ctx.now())
      done(failure.status)
      const retry = failure.retryAfterMs === undefined ? {} : retryAfterHeaders(failure.retryAfterMs)
      return sendJson(res, failure.status, errorBody(failure.message, failure.type, failure.code), { ...limitHeaders(ctx), ...retry })
    }

    const answer = makeAnswer(ctx, request, scripted)
    promptTokens = answer.promptTokens
    if (!request.stream) {
      if (!(await wait(latencyMs, signal))) return
      sendJson(res, scripted?.status ?? 200, completionBody(answer), limitHeaders(ctx))
      settle(answer.promptTokens + answer.completionTokens)
      return done(scripted?.status ?? 200, answer.promptTokens, answer.completionTokens)
    }

    // Streaming: the pieces are paced (see FakeLlmOptions.tokensPerSecond); each group is written
    // when due, and the headers with the first.
    const pieces = streamPieces(answer)
    const groups = chunkGroups(answer, pieces, request.includeUsage)
    const pieceTokens = pieces.map((piece) => ctx.tokens.text('content' in piece ? piece.content : piece.toolCall.call.arguments))
    const startedAt = ctx.now()
    for (const [i, group] of groups.entries()) {
      const dueAt = ctx.tokensPerSecond === undefined ? (latencyMs * (i + 1)) / groups.length : latencyMs + (i * 1000) / ctx.tokensPerSecond
      if (!(await wait(dueAt - (ctx.now() - startedAt), signal))) return
      if (i === 0) res.writeHead(scripted?.status ?? 200, { ...limitHeaders(ctx), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
      res.write(group.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join(''))
      sentTokens += pieceTokens[i] ?? 0
    }
    res.end('data: [DONE]\n\n')
    settle(answer.promptTokens + answer.completionTokens)
    done(scripted?.status ?? 200, answer.promptTokens, answer.completionTokens)
  } catch (err) {
    // A script or latency function threw (or a bug here): the client gets a 500 that says so,
    // and the request is counted as ended, never left in flight.
    if (!finished) {
      settle(promptTokens + sentTokens)
      done(500)
    }
    if (res.headersSent) res.destroy()
    else sendJson(res, 500, errorBody(`fake LLM: ${err instanceof Error ? err.message : String(err)}`, 'server_error', 'fake_internal_error'))
  }
}

function limitHeaders(ctx: ChatContext): Record<string, string> {
  return ctx.headers ? rateLimitHeaders(ctx.quota, ctx.now()) : {}
}

function serverError(): ErrorPlan {
  return { status: 500, message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null, retryAfterMs: undefined }
}

/** The error a scripted reply asks for, if any (a status of 400 or more, or an error message). */
function errorPlan(reply: FakeReplyObject | undefined): ErrorPlan | undefined {
  const status = reply?.status ?? (reply?.error !== undefined ? 500 : 200)
  if (reply === undefined || status < 400) return undefined
  const [type, code, message] =
    status === 429
      ? (['requests', 'rate_limit_exceeded', 'Rate limit reached for requests.'] as const)
      : status >= 500
        ? (['server_error', null, 'The server had an error while processing your request.'] as const)
        : (['invalid_request_error', null, `Request failed with status ${status}.`] as const)
  return { status, message: reply.error ?? message, type, code, retryAfterMs: reply.retryAfterMs }
}

function makeAnswer(ctx: ChatContext, request: FakeChatRequest, reply: FakeReplyObject | undefined): Answer {
  const toolCalls: AnswerToolCall[] = (reply?.toolCalls ?? []).map((call, i) => ({
    id: call.id ?? `call_${request.index}_${i}`,
    name: call.name,
    arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
  }))
  const content = reply?.content ?? (toolCalls.length > 0 ? null : defaultContent(request, ctx.random, ctx.tokens))
  const counted = ctx.tokens.text(content ?? '') + toolCalls.reduce((sum, call) => sum + ctx.tokens.text(call.name) + ctx.tokens.text(call.arguments), 0)
  return {
    id: ctx.nextId(),
    model: request.model ?? FAKE_MODELS[0],
    created: Math.floor(Date.now() / 1000),
    content,
    toolCalls,
    finishReason: reply?.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
    promptTokens: reply?.usage?.promptTokens ?? request.promptTokens,
    completionTokens: reply?.usage?.completionTokens ?? counted,
  }
}
