/**
 * Seed 000, "Example Workflow": background work woven into a conversation.
 *
 *   1. The user asks for an account balance check.
 *   2. The agent acknowledges and starts a background task.
 *   3. User and agent go on discussing other topics.
 *   4. When the balance check completes, the agent weaves the result into its next answer
 *      (from the conversation's inbox, drained at the start of every turn).
 *   5. The conversation ends, and all its tasks are cleaned up (a statement export still running
 *      is cancelled; nothing of the conversation is left).
 *
 * Run: npx tsx examples/seeds/000-balance-check.ts
 */
import { setTimeout as delay } from 'node:timers/promises'
import { createEngine } from 'taskweave'
import { ConcurrentExecutor } from 'taskweave/background'
import type { BackgroundOutcome, BackgroundStats, EndConversationResult } from 'taskweave/background'

const CONVERSATION = 'conversation123'

/** A slow bank API (honours the signal, as every background task should). */
const bank = {
  async balance(account: string, signal: AbortSignal): Promise<{ account: string; balance: number; currency: string }> {
    await delay(30, undefined, { signal })
    return { account, balance: 1234.56, currency: 'USD' }
  },
  async exportStatements(signal: AbortSignal): Promise<string> {
    await delay(60_000, undefined, { signal }) // far longer than this conversation
    return 'statements.pdf'
  },
}

/** What the example returns (the tests assert it). */
export interface BalanceCheckExample {
  readonly transcript: readonly string[]
  /** Completions drained at each agent turn. */
  readonly drained: readonly (readonly string[])[]
  /** Every completion the `onComplete` callback saw. */
  readonly notified: readonly string[]
  readonly cleanup: EndConversationResult
  readonly statsAfter: BackgroundStats
}

/** Runs the example. */
export async function main(log: (line: string) => void = console.log): Promise<BalanceCheckExample> {
  const transcript: string[] = []
  const drained: string[][] = []
  const notified: string[] = []
  const say = (who: 'user' | 'agent', text: string): void => {
    transcript.push(`${who}: ${text}`)
    log(`${who === 'user' ? '👤' : '🤖'} ${text}`)
  }

  await using engine = createEngine()
  await using background = new ConcurrentExecutor({ engine, onComplete: (c) => notified.push(`${c.name}=${c.status}`) })

  /** One agent turn: first weave in whatever finished since the last turn, then answer. */
  const agentTurn = (answer: string): void => {
    const done = background.drainInbox(CONVERSATION)
    drained.push(done.map((c) => c.name))
    const woven = done.map(describe).filter((line) => line !== '')
    say('agent', [...woven, answer].join(' '))
  }

  // 1–2. The user asks; the agent acknowledges and starts the check in the background.
  say('user', "What's my account balance?")
  const balanceId = background.submit({ conversationId: CONVERSATION, name: 'balance-check', timeout: '10s', run: ({ signal }) => bank.balance('checking', signal) })
  background.submit({ conversationId: CONVERSATION, name: 'statement-export', run: ({ signal }) => bank.exportStatements(signal) })
  agentTurn("I'm checking your balance now — meanwhile, anything else?")

  // 3. The conversation goes on while the check runs.
  say('user', 'How do I set up a savings goal?')
  agentTurn('Open Savings → Goals, pick an amount and a date, and we will suggest a monthly transfer.')

  // (The user takes a moment to type; here, long enough for the balance check to finish.)
  await background.result(balanceId)

  // 4. The next turn weaves the finished check into the answer.
  say('user', 'Great. Any tips for budgeting?')
  agentTurn('Try the 50/30/20 rule: needs, wants, savings.')

  // 5. The conversation ends: the statement export still running is cancelled, everything is forgotten.
  say('user', 'Thanks, bye!')
  const cleanup = background.endConversation(CONVERSATION)
  const statsAfter = background.stats()
  log(`conversation ended: ${cleanup.cancelled} task(s) cancelled, ${cleanup.removed} forgotten; ${statsAfter.tasks} left`)
  return { transcript, drained, notified, cleanup, statsAfter }
}

/** How the agent mentions a finished task. */
function describe(outcome: BackgroundOutcome): string {
  if (outcome.name !== 'balance-check') return ''
  if (outcome.status !== 'succeeded') return "By the way, I couldn't get your balance just now."
  const { balance, currency } = outcome.value as { balance: number; currency: string }
  return `By the way, your checking balance is ${balance.toFixed(2)} ${currency}.`
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
