import { describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '../../shared/util/yield.ts';

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
