import { describe, expect, it } from 'vitest';
import { yieldToEventLoop, Yielder } from '../../shared/util/yield.ts';

describe('yieldToEventLoop', () => {
  it('resolves in a later task, not among the microtasks already queued', async () => {
    let resolved = false;
    const turn = yieldToEventLoop().then(() => {
      resolved = true;
    });
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(resolved).toBe(false);
    await turn;
    expect(resolved).toBe(true);
  });

  it('lets a message posted before it be handled first (a task turn, like the page’s events)', async () => {
    const order: string[] = [];
    const channel = new MessageChannel();
    const received = new Promise<void>((resolve) => {
      channel.port1.once('message', () => {
        order.push('message');
        resolve();
      });
    });
    channel.port2.postMessage('first');
    await yieldToEventLoop();
    order.push('after yield');
    await received;
    channel.port1.close();
    expect(order).toEqual(['message', 'after yield']);
  });
});

describe('Yielder', () => {
  /** Whether `p` is still pending after the microtasks already queued (i.e. it waits for a task turn). */
  async function waitsForATask(p: Promise<void>): Promise<boolean> {
    let resolved = false;
    const done = p.then(() => {
      resolved = true;
    });
    for (let i = 0; i < 20; i++) await Promise.resolve();
    const waited = !resolved;
    await done;
    return waited;
  }

  it('yields once its interval has passed, and not before', async () => {
    expect(await waitsForATask(new Yielder(0).maybeYield())).toBe(true);
    const never = new Yielder(Number.POSITIVE_INFINITY);
    expect(await waitsForATask(never.maybeYield())).toBe(false);
    expect(await waitsForATask(never.maybeYield())).toBe(false);
  });
});
