import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

// The page is bundled into dist/public, which the server serves; nothing is fetched from other hosts.
export default defineConfig({
  root: fileURLToPath(new URL("./src/page", import.meta.url)),
  base: "./",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("./dist/public", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
  },
})
