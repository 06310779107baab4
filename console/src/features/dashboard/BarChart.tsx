/** Horizontal bars in plain SVG, for a handful of figures: each bar is labelled with its name and
 * value above it, so the chart reads at 360 px as on a desktop. Screen readers get the same
 * figures as the image's name, and the figure its caption. */
import { useId } from "react";

export type Bar = { label: string; value: number; shown: string };

const ROW = 44;
const BAR = 16;

/** The longest bar is the largest value; the others are to scale. */
export function BarChart({ caption, bars }: { caption: string; bars: Bar[] }) {
  const top = Math.max(0, ...bars.map((b) => b.value));
  const id = useId();
  return (
    // Named by its caption explicitly: not every screen reader derives it from figcaption.
    <figure className="bar-chart" aria-labelledby={id}>
      <figcaption id={id}>{caption}</figcaption>
      <svg
        role="img"
        aria-label={bars.map((b) => `${b.label}: ${b.shown}`).join("; ")}
        width="100%"
        height={bars.length * ROW}
      >
        {bars.map((b, i) => (
          <g key={b.label}>
            <text x="0" y={i * ROW + 14} fontSize="14" fill="currentColor">
              {b.label}: {b.shown}
            </text>
            <rect x="0" y={i * ROW + 20} width="100%" height={BAR} rx="3" fill="#f3f4f6" />
            <rect
              x="0"
              y={i * ROW + 20}
              width={`${top > 0 ? (Math.max(0, b.value) / top) * 100 : 0}%`}
              height={BAR}
              rx="3"
              fill="#14532d"
            />
          </g>
        ))}
      </svg>
    </figure>
  );
}
