/**
 * A small live line chart (SVG) for training: loss on its own scale, accuracies on 0-100%.
 * Points are appended as epochs finish; the chart redraws itself (a few dozen points at most).
 */
import { h } from './dom.ts';

const SVG = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 160;
const PAD = { left: 34, right: 36, top: 10, bottom: 22 };

/** One series: name, colour (CSS var), which axis. */
interface Series {
  name: string;
  className: string;
  axis: 'loss' | 'fraction';
  points: Array<[number, number]>;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A training chart; `add(epoch, values)` appends a point to each named series. */
export class TrainingChart {
  readonly el: HTMLElement;
  private readonly plot: SVGSVGElement;
  private readonly series: Series[];
  private readonly caption: HTMLElement;
  private maxEpochs = 1;

  constructor() {
    this.series = [
      { name: 'loss', className: 'series-loss', axis: 'loss', points: [] },
      { name: 'training accuracy', className: 'series-train', axis: 'fraction', points: [] },
      { name: 'practice-photo accuracy', className: 'series-val', axis: 'fraction', points: [] },
    ];
    this.plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Training chart' });
    this.plot.classList.add('chart');
    this.caption = h('p', { class: 'chart-caption muted', 'aria-live': 'off' });
    const legend = h(
      'ul',
      { class: 'legend' },
      ...this.series.map((s) => h('li', { class: s.className }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), s.name)),
    );
    this.el = h('figure', { class: 'chart-figure', 'data-testid': 'training-chart' }, this.plot, legend, this.caption);
    this.draw();
  }

  /** Clears all points; `epochs` sets the x-axis length (it grows when exceeded). */
  reset(epochs: number): void {
    for (const s of this.series) s.points = [];
    this.maxEpochs = Math.max(1, epochs);
    this.draw();
  }

  /** Adds an epoch's values (null: no value for that series this epoch). */
  add(epoch: number, values: { loss: number; accuracy: number; valAccuracy: number | null }): void {
    const [loss, train, val] = this.series as [Series, Series, Series];
    if (Number.isFinite(values.loss)) loss.points.push([epoch, values.loss]);
    train.points.push([epoch, values.accuracy]);
    if (values.valAccuracy !== null) val.points.push([epoch, values.valAccuracy]);
    this.maxEpochs = Math.max(this.maxEpochs, epoch);
    this.draw();
    const valText = values.valAccuracy === null ? '' : `, ${Math.round(values.valAccuracy * 100)}% on practice photos`;
    this.caption.textContent = `Epoch ${epoch}: loss ${values.loss.toFixed(3)}, ${Math.round(values.accuracy * 100)}% on training photos${valText}.`;
    this.plot.setAttribute('aria-label', `Training chart. ${this.caption.textContent}`);
  }

  /** Number of points drawn (for tests and the caption). */
  get points(): number {
    return this.series[0]?.points.length ?? 0;
  }

  private draw(): void {
    this.plot.replaceChildren();
    const x0 = PAD.left;
    const x1 = W - PAD.right;
    const y0 = H - PAD.bottom;
    const y1 = PAD.top;
    const maxLoss = Math.max(1e-6, ...(this.series[0]?.points.map((p) => p[1]) ?? [1]));
    const sx = (e: number): number => x0 + ((x1 - x0) * (e - 1)) / Math.max(1, this.maxEpochs - 1);
    const sy = (v: number, axis: Series['axis']): number => y0 - (y0 - y1) * (axis === 'loss' ? v / maxLoss : v);
    // Grid and axes: 0/50/100% on the right, loss max on the left.
    for (const f of [0, 0.5, 1]) {
      const y = sy(f, 'fraction');
      this.plot.append(svg('line', { x1: x0, x2: x1, y1: y, y2: y, class: 'grid' }));
      const label = svg('text', { x: x1 + 4, y: y + 4, class: 'axis-label' });
      label.textContent = `${f * 100}%`;
      this.plot.append(label);
    }
    const lossLabel = svg('text', { x: 2, y: y1 + 8, class: 'axis-label' });
    lossLabel.textContent = maxLoss.toFixed(2);
    this.plot.append(lossLabel);
    const epochLabel = svg('text', { x: x0, y: H - 4, class: 'axis-label' });
    epochLabel.textContent = `epochs 1–${this.maxEpochs}`;
    this.plot.append(epochLabel);
    for (const s of this.series) {
      if (s.points.length === 0) continue;
      const d = s.points.map(([e, v], i) => `${i ? 'L' : 'M'}${sx(e).toFixed(1)},${sy(v, s.axis).toFixed(1)}`).join(' ');
      const path = svg('path', { d, class: `line ${s.className}` });
      this.plot.append(path);
    }
  }
}
