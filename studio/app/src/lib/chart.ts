/** The geometry of components/Chart.tsx: points scaled into its SVG's plot area. */
export type Point = { x: number; y: number };

/** The SVG's viewBox and the margin left for the axes' labels. */
export const CHART = { WIDTH: 320, HEIGHT: 120, PAD: 28 } as const;

/**
 * `points` as [x, y] pixel pairs in the plot area: x from the first to the last point's, y from 0 (or the lowest, when
 * negative) to the highest, growing downward as SVG does; a single x or a flat line sits at the area's start.
 */
export function plotted(points: readonly Point[]): [number, number][] {
  const { WIDTH, HEIGHT, PAD } = CHART;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD);
  const sy = (y: number) => HEIGHT - PAD - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - 2 * PAD);
  return points.map((p) => [sx(p.x), sy(p.y)]);
}
