import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))
