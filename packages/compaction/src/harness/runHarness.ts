// Run scripted conversations through a compactor, round after round, and count which planted
// facts are still in the prompt: the measure of how much a compactor forgets.
import { Effect, Exit } from "effect"
import { promptWords } from "../promptShape.ts"
import { wrapWithSystemTags } from "../systemTags.ts"
import type { CompactorShape } from "../types.ts"
import { DEFAULT_WORD_BUDGET } from "../types.ts"
import { factSurvives, SCENARIOS, type Scenario, scenarioWindows } from "./scenarios.ts"

export interface HarnessOptions {
  /** Compactions per scenario (one per window); default 10. */
  readonly rounds?: number
  /** Windows of transcript the compactor sees each round (older ones survive only through the prompt); default 1. */
  readonly historyWindows?: number
  readonly wordBudget?: number
  readonly scenarios?: ReadonlyArray<Scenario>
  /** false: drop the user's text, as when no transcriber layer is configured; default true. */
  readonly userText?: boolean
}

export interface RoundReport {
  readonly round: number
  readonly planted: number
  readonly survived: number
  readonly words: number
  readonly chars: number
  readonly source: "model" | "fallback" | "error"
  readonly reason?: string
  readonly durationMs: number
}

export interface ScenarioReport {
  readonly scenario: string
  readonly rounds: number
  readonly planted: number
  /** Facts in the final prompt. */
  readonly survived: number
  readonly survivedIds: ReadonlyArray<string>
  readonly lostIds: ReadonlyArray<string>
  readonly finalWords: number
  readonly maxWords: number
  readonly finalChars: number
  readonly meanMs: number
  readonly fallbacks: number
  readonly finalPrompt: string
  readonly perRound: ReadonlyArray<RoundReport>
}

export interface HarnessReport {
  readonly compactor: string
  readonly rounds: number
  readonly historyWindows: number
  readonly wordBudget: number
  readonly userText: boolean
  readonly scenarios: ReadonlyArray<ScenarioReport>
  readonly planted: number
  readonly survived: number
}

const runScenario = (
  compactor: CompactorShape,
  scenario: Scenario,
  rounds: number,
  historyWindows: number,
  wordBudget: number,
  userText: boolean,
) =>
  Effect.gen(function* () {
    const windows = scenarioWindows(scenario, rounds).map((w) =>
      userText ? w : { index: w.index, agentText: w.agentText },
    )
    let prompt = wrapWithSystemTags(scenario.basePersona)
    const perRound: Array<RoundReport> = []
    for (let round = 0; round < rounds; round++) {
      const history = windows.slice(Math.max(0, round + 1 - historyWindows), round + 1)
      const exit = yield* Effect.exit(
        compactor.compact({ basePersona: scenario.basePersona, history, previousPrompt: prompt, wordBudget }),
      )
      const planted = scenario.facts.filter((f) => f.window <= round)
      if (Exit.isSuccess(exit)) prompt = exit.value.prompt
      const survived = planted.filter((f) => factSurvives(f, prompt)).length
      const common = {
        round,
        planted: planted.length,
        survived,
        words: promptWords(prompt),
        chars: prompt.length,
      }
      perRound.push(
        Exit.isSuccess(exit)
          ? {
              ...common,
              source: exit.value.source,
              durationMs: exit.value.durationMs,
              ...(exit.value.reason === undefined ? {} : { reason: exit.value.reason }),
            }
          : { ...common, source: "error", reason: String(exit.cause), durationMs: 0 },
      )
    }
    const planted = scenario.facts.filter((f) => f.window < rounds)
    return {
      scenario: scenario.name,
      rounds,
      planted: planted.length,
      survived: planted.filter((f) => factSurvives(f, prompt)).length,
      survivedIds: planted.filter((f) => factSurvives(f, prompt)).map((f) => f.id),
      lostIds: planted.filter((f) => !factSurvives(f, prompt)).map((f) => f.id),
      finalWords: promptWords(prompt),
      maxWords: Math.max(...perRound.map((r) => r.words)),
      finalChars: prompt.length,
      meanMs: perRound.reduce((s, r) => s + r.durationMs, 0) / Math.max(1, perRound.length),
      fallbacks: perRound.filter((r) => r.source !== "model").length,
      finalPrompt: prompt,
      perRound,
    } satisfies ScenarioReport
  })

/** Score any compactor on the scripted scenarios; compactor errors are recorded, not raised. */
export const runHarness = (
  compactor: CompactorShape,
  name: string,
  options: HarnessOptions = {},
): Effect.Effect<HarnessReport> =>
  Effect.gen(function* () {
    const rounds = options.rounds ?? 10
    const historyWindows = options.historyWindows ?? 1
    const wordBudget = options.wordBudget ?? DEFAULT_WORD_BUDGET
    const scenarios: Array<ScenarioReport> = []
    for (const scenario of options.scenarios ?? SCENARIOS)
      scenarios.push(
        yield* runScenario(compactor, scenario, rounds, historyWindows, wordBudget, options.userText ?? true),
      )
    return {
      compactor: name,
      rounds,
      historyWindows,
      wordBudget,
      userText: options.userText ?? true,
      scenarios,
      planted: scenarios.reduce((s, r) => s + r.planted, 0),
      survived: scenarios.reduce((s, r) => s + r.survived, 0),
    }
  })

const pad = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`

/** A Markdown table: one row per scenario and a total row. */
export const formatHarnessTable = (report: HarnessReport): string => {
  const header = [
    "compactor",
    "scenario",
    "rounds",
    "facts kept",
    "kept %",
    "final words",
    "max words",
    "mean ms",
    "fallbacks",
  ]
  const pct = (a: number, b: number) => (b === 0 ? "-" : `${Math.round((100 * a) / b)}`)
  const rows = report.scenarios.map((s) => [
    report.compactor,
    s.scenario,
    String(s.rounds),
    `${s.survived}/${s.planted}`,
    pct(s.survived, s.planted),
    String(s.finalWords),
    String(s.maxWords),
    s.meanMs.toFixed(1),
    String(s.fallbacks),
  ])
  rows.push([
    report.compactor,
    "all",
    String(report.rounds),
    `${report.survived}/${report.planted}`,
    pct(report.survived, report.planted),
    "",
    String(Math.max(...report.scenarios.map((s) => s.maxWords))),
    (report.scenarios.reduce((s, r) => s + r.meanMs, 0) / Math.max(1, report.scenarios.length)).toFixed(1),
    String(report.scenarios.reduce((s, r) => s + r.fallbacks, 0)),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [
    pad(header, widths),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map((r) => pad(r, widths)),
  ].join("\n")
}
