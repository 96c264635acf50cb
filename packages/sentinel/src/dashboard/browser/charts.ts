/**
 * Time-series charts over uPlot (loaded as a classic script before the page's modules, as the
 * global `uPlot`). A chart is rebuilt only when its set of series changes (a replica joins or
 * leaves, a new refusal code shows); otherwise each tick only replaces its data.
 */
import type uPlotType from "uplot";

declare const uPlot: typeof uPlotType;

const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#57606a"];

export class SeriesChart {
  private plot: uPlotType | undefined;
  private names: string[] = [];

  constructor(
    private readonly el: HTMLElement,
    private readonly unit: string,
  ) {}

  /** `x`: seconds since the epoch; each series one value (or null: absent) per x */
  update(x: number[], series: Map<string, (number | null)[]>): void {
    const names = [...series.keys()];
    const data = [x, ...names.map((n) => series.get(n) ?? [])] as uPlotType.AlignedData;
    if (this.plot === undefined || names.join("\u0000") !== this.names.join("\u0000")) {
      this.plot?.destroy();
      this.names = names;
      this.plot = new uPlot(this.options(names), data, this.el);
    } else {
      this.plot.setData(data);
    }
  }

  private options(names: string[]): uPlotType.Options {
    return {
      width: 420,
      height: 200,
      legend: { live: false },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: this.unit, size: 56 }],
      series: [
        {},
        ...names.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: false,
        })),
      ],
    };
  }
}
