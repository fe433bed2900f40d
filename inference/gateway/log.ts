/** Structured logs: one JSON object per line on stderr. */
export type Logger = (level: "debug" | "info" | "warn" | "error", msg: string, fields?: object) => void;

export function jsonLogger(minLevel: "debug" | "info" | "warn" | "error" = "info"): Logger {
  const order = { debug: 0, info: 1, warn: 2, error: 3 };
  return (level, msg, fields) => {
    if (order[level] < order[minLevel]) return;
    process.stderr.write(
      JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, (_, v) =>
        typeof v === "bigint" ? v.toString() : v,
      ) + "\n",
    );
  };
}

export const silentLogger: Logger = () => {};
