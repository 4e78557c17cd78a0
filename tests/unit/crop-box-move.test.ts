/**
 * Moving a crop box on a Teach thumbnail (client/app/crop-box-place.ts `moveBox`): a drag or an
 * arrow key moves the box the same distance on screen as on the photo the thumbnail shows (a wide
 * photo's thumbnail is its central square, so a thumbnail's side is less than the photo's width),
 * keeps its size, and stops at the photo's edges. A tap centres it (`centreBoxAt`) where it lands
 * on the thumbnail; `boxWords` says where it is.
 */
import { describe, expect, it } from 'vitest';
import { boxInThumb, boxWords, centreBoxAt, MIN_BOX_SIDE, moveBox, resizeBox } from '../../client/app/crop-box-place.ts';

const box = { x: 0.25, y: 0.25, width: 0.25, height: 0.5 };

describe('moveBox', () => {
  it('square photo: the thumbnail fraction is the photo fraction', () => {
    const moved = moveBox({ x: 0.1, y: 0.2, width: 0.3, height: 0.3 }, 0.1, -0.1, 400, 400);
    expect(moved.x).toBeCloseTo(0.2);
    expect(moved.y).toBeCloseTo(0.1);
    expect([moved.width, moved.height]).toEqual([0.3, 0.3]);
  });
  it('wide photo (4:3): moves as far on screen as the pointer did', () => {
    const before = boxInThumb(box, 400, 300);
    const after = boxInThumb(moveBox(box, 0.1, 0.05, 400, 300), 400, 300);
    expect(after.left - before.left).toBeCloseTo(10);
    expect(after.top - before.top).toBeCloseTo(5);
  });
  it('tall photo (3:4): likewise', () => {
    const tall = { x: 0.25, y: 0.3, width: 0.5, height: 0.25 };
    const before = boxInThumb(tall, 300, 400);
    const after = boxInThumb(moveBox(tall, -0.1, 0.1, 300, 400), 300, 400);
    expect(after.left - before.left).toBeCloseTo(-10);
    expect(after.top - before.top).toBeCloseTo(10);
  });
  it('stops at the photo edges, its size kept', () => {
    expect(moveBox(box, 5, -5, 400, 300)).toEqual({ x: 0.75, y: 0, width: 0.25, height: 0.5 });
    expect(moveBox(box, -5, 5, 400, 300)).toEqual({ x: 0, y: 0.5, width: 0.25, height: 0.5 });
    // The whole photo cannot move.
    expect(moveBox({ x: 0, y: 0, width: 1, height: 1 }, 0.3, 0.3, 400, 300)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });
});

describe('resizeBox', () => {
  it('grows a square box (wide photo) by a fraction of the thumbnail, square in pixels, about its centre', () => {
    // 400x300: the box is 0.25 x 1/3 (100 px square); +0.1 of the thumbnail (300 px) is 30 px more.
    const grown = resizeBox({ x: 0.5, y: 0.3, width: 0.25, height: 1 / 3 }, 0.1, 400, 300, 'centre');
    expect(grown.width * 400).toBeCloseTo(130);
    expect(grown.height * 300).toBeCloseTo(130);
    expect(grown.x + grown.width / 2).toBeCloseTo(0.625);
    expect(grown.y + grown.height / 2).toBeCloseTo(0.3 + 1 / 6);
  });
  it('keeps the top-left corner when its corner is dragged, and stays inside the photo', () => {
    const grown = resizeBox({ x: 0.1, y: 0.2, width: 0.3, height: 0.3 }, 0.2, 400, 400, 'corner');
    expect([grown.x, grown.y]).toEqual([0.1, 0.2]);
    expect(grown.width).toBeCloseTo(0.5);
    // As large as the shorter side at most, moved in.
    expect(resizeBox({ x: 0.5, y: 0.5, width: 0.3, height: 0.4 }, 5, 400, 300, 'corner')).toEqual({ x: 0.25, y: 0, width: 0.75, height: 1 });
  });
  it('shrinks to no less than MIN_BOX_SIDE of the shorter side', () => {
    const small = resizeBox({ x: 0.4, y: 0.4, width: 0.2, height: 0.2 }, -1, 400, 400, 'centre');
    expect(small.width).toBeCloseTo(MIN_BOX_SIDE);
    expect(small.x + small.width / 2).toBeCloseTo(0.5);
  });
});

describe('centreBoxAt', () => {
  it('puts the centre where the thumbnail was tapped (wide photo: its central square), size kept', () => {
    const b = { x: 0, y: 0, width: 0.25, height: 1 / 3 };
    const placed = centreBoxAt(b, 0.5, 0.5, 400, 300);
    expect(placed.x + placed.width / 2).toBeCloseTo(0.5);
    expect(placed.y + placed.height / 2).toBeCloseTo(0.5);
    expect([placed.width, placed.height]).toEqual([b.width, b.height]);
    // On screen: its centre at the tapped point of the thumbnail.
    const p = boxInThumb(centreBoxAt(b, 0.3, 0.6, 400, 300), 400, 300);
    expect(p.left + p.width / 2).toBeCloseTo(30);
    expect(p.top + p.height / 2).toBeCloseTo(60);
  });
  it('stays inside the photo when the tap is near an edge', () => {
    expect(centreBoxAt({ x: 0.4, y: 0.4, width: 0.2, height: 0.2 }, 0, 1, 400, 400)).toEqual({ x: 0, y: 0.8, width: 0.2, height: 0.2 });
  });
});

describe('boxWords', () => {
  it('says the centre across and down, and the side against the shorter side', () => {
    expect(boxWords({ x: 0.25, y: 0.2, width: 0.25, height: 1 / 3 }, 400, 300)).toBe('centre 38% across, 37% down, size 33%');
  });
});
