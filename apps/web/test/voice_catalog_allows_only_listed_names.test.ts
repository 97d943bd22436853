import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { VoiceCatalog } from "../src/server/voices.ts"
import { makeVoicesDir } from "./helpers.ts"

const resolve = (catalog: VoiceCatalog, name: string) => Effect.runSyncExit(catalog.resolve(name))

const failureTag = (exit: Exit.Exit<unknown, { _tag: string }>) =>
  Exit.isFailure(exit)
    ? exit.cause.toString().match(/InvalidVoiceName|UnknownVoice|VoicesFolderError/)?.[0]
    : "ok"

describe("VoiceCatalog", () => {
  it("lists the voice files of its folder only: no other extensions, no hidden files, no links", () => {
    const { dir, secret } = makeVoicesDir()
    fs.symlinkSync(secret, path.join(dir, "linked.pt"))
    fs.writeFileSync(path.join(dir, ".hidden.pt"), "x")
    fs.mkdirSync(path.join(dir, "folder.pt"))
    const voices = Effect.runSync(new VoiceCatalog(dir).list)
    expect(voices.map((v) => [v.name, v.kind])).toEqual([
      ["NATF0.pt", "embeddings"],
      ["VARM1.wav", "audio"],
    ])
    expect(failureTag(resolve(new VoiceCatalog(dir), "linked.pt"))).toBe("UnknownVoice")
  })

  it("refuses names that are paths before looking at the disk", () => {
    const catalog = new VoiceCatalog("/nonexistent-folder")
    for (const name of ["../x.pt", "/etc/passwd", "a/b.pt", "a\\b.pt", "..", ".", "x\0.pt", ".pt"]) {
      expect(failureTag(resolve(catalog, name))).toBe("InvalidVoiceName")
    }
    // a plain name is looked up, and the missing folder is reported as such
    expect(failureTag(resolve(catalog, "NATF0.pt"))).toBe("VoicesFolderError")
  })

  it("treats the empty name as no voice prompt, and a catalog without folder as empty", () => {
    expect(Effect.runSync(new VoiceCatalog(undefined).resolve(""))).toBeUndefined()
    expect(Effect.runSync(new VoiceCatalog(undefined).list)).toEqual([])
    expect(failureTag(resolve(new VoiceCatalog(undefined), "NATF0.pt"))).toBe("UnknownVoice")
  })
})
