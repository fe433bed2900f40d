/** A small SVG line chart (no chart library): y over x, with the extremes labelled and the points in a title. */
export type Point = { x: number; y: number };

const WIDTH = 320;
const HEIGHT = 120;
const PAD = 28;

/** `points` scaled into the plot area: [x, y] pixel pairs (y grows downward). */
export function plotted(points: readonly Point[]): [number, number][] {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD);
  const sy = (y: number) => HEIGHT - PAD - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - 2 * PAD);
  return points.map((p) => [sx(p.x), sy(p.y)]);
}

export function Chart({
  points,
  label,
  formatX = String,
  formatY = String,
}: {
  points: readonly Point[];
  label: string;
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
}) {
  if (points.length === 0) return <p className="muted">{label}: no data yet.</p>;
  const xy = plotted(points);
  const ys = points.map((p) => p.y);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
        <title>{points.map((p) => `${formatX(p.x)}: ${formatY(p.y)}`).join("; ")}</title>
        <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} className="axis" />
        <line x1={PAD} y1={PAD} x2={PAD} y2={HEIGHT - PAD} className="axis" />
        <polyline points={xy.map(([x, y]) => `${x},${y}`).join(" ")} className="line" />
        {xy.map(([x, y], i) => (
          <circle key={i} cx={x} cy={y} r={2.5} className="dot" />
        ))}
        <text x={PAD - 4} y={PAD + 4} textAnchor="end">
          {formatY(Math.max(...ys))}
        </text>
        <text x={PAD} y={HEIGHT - 8}>
          {formatX(points[0]!.x)}
        </text>
        <text x={WIDTH - PAD} y={HEIGHT - 8} textAnchor="end">
          {formatX(points[points.length - 1]!.x)}
        </text>
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}
