/** A small SVG line chart (no chart library): y over x, with the extremes labelled and the points in a title. */
import { CHART, plotted, type Point } from "../lib/chart.ts";

export type { Point };

const { WIDTH, HEIGHT, PAD } = CHART;

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
