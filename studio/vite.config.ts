/** `npm run studio:build`: the single-page app from studio/app into studio/dist (served by studio/server). */
import react from "@vitejs/plugin-react";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Prints the gzipped size of the JavaScript emitted: the figure the README reports (budget 350 KB). */
function reportGzippedJavaScript(): Plugin {
  return {
    name: "openpoa-report-gzipped-js",
    async generateBundle(_options, bundle) {
      const { gzipSync } = await import("node:zlib");
      let bytes = 0;
      for (const file of Object.values(bundle))
        if (file.type === "chunk") bytes += gzipSync(file.code, { level: 9 }).byteLength;
      console.log(`studio: production JavaScript ${(bytes / 1024).toFixed(1)} KB gzipped`);
    },
  };
}

export default defineConfig({
  root: path.join(here, "app"),
  base: "/",
  plugins: [react(), reportGzippedJavaScript()],
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { "/api": "http://127.0.0.1:8790", "/rpc": "http://127.0.0.1:8790" } },
});
