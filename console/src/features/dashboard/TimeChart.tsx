/** A time series in plain SVG: columns (flows, such as amounts disbursed per period) or lines
 * (levels, such as a ratio on each day). The drawing carries no text, so it scales to a 360 px
 * phone without shrinking any label; the scale, the first and last periods and the legend are
 * HTML around it, and the figures themselves are in the table beside each chart. */
import { useId } from "react";

export type Series = { name: string; values: number[]; colour: string };

const WIDTH = 600;
const HEIGHT = 160;

export function TimeChart({
  caption,
  kind,
  dates,
  series,
  top,
}: {
  caption: string;
  kind: "columns" | "lines";
  dates: string[];
  series: Series[];
  /** The value at the top of the drawing, shown above it as the scale. */
  top: { value: number; shown: string };
}) {
  const id = useId();
  const y = (v: number) => HEIGHT - (top.value > 0 ? (Math.max(0, v) / top.value) * HEIGHT : 0);
  const slot = WIDTH / Math.max(1, dates.length);
  return (
    <figure className="time-chart" aria-labelledby={id}>
      <figcaption id={id}>{caption}</figcaption>
      <div className="legend">
        {series.map((s) => (
          <span key={s.name}>
            <span className="swatch" style={{ background: s.colour }} aria-hidden="true" />
            {s.name}
          </span>
        ))}
      </div>
      <div className="scale">{top.shown}</div>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" width="100%" height={HEIGHT} aria-hidden="true">
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} stroke="#9ca3af" strokeWidth="1" />
        {kind === "columns"
          ? series.map((s, k) => {
              const width = (slot * 0.8) / series.length;
              return s.values.map((v, i) => (
                <rect
                  key={`${s.name}-${dates[i]}`}
                  x={i * slot + slot * 0.1 + k * width}
                  y={y(v)}
                  width={width}
                  height={HEIGHT - y(v)}
                  fill={s.colour}
                />
              ));
            })
          : series.map((s) => (
              <polyline
                key={s.name}
                fill="none"
                stroke={s.colour}
                strokeWidth="2"
                vectorEffect="non-scaling-stroke"
                points={s.values.map((v, i) => `${i * slot + slot / 2},${y(v)}`).join(" ")}
              />
            ))}
      </svg>
      <div className="axis">
        <span>{dates[0]}</span>
        <span>{dates.at(-1)}</span>
      </div>
    </figure>
  );
}
