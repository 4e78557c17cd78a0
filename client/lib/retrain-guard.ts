/**
 * What a correction's retraining of a model that is more than a head on the frozen embeddings
 * shares (client/lib/retrain-tail.ts: a fine-tuned model, on its tail; client/lib/retrain-crop.ts:
 * a crop head, on its crops): the result's shape, the stored head as the guard's previous head,
 * and the words when kNN beats the head (such a model predicts with its head only, so it gives way).
 */
import type { HeadDocument } from '../../shared/head/document.ts';
import type { PreviousHead, TrainAndGuardResult } from '../../shared/learn/train-app.ts';
import type { HeadStateRecord } from './db.ts';

/** Such a retraining's result: `trained` to store (absent when the model gives way) and its report. */
export interface Retrained<Report> {
  trained?: TrainAndGuardResult;
  report: Report;
}

/** The stored head `doc` as the guard's previous head: what it trained on and its judged twin, from its state. */
export function previousHeadOf(doc: HeadDocument, state: HeadStateRecord | undefined): PreviousHead {
  return { doc, trainedOn: state?.trainedOn ?? null, ...(state?.judged ? { judged: state.judged } : {}) };
}

/**
 * Why the model gives way when the guard chose kNN: "on the held-out photos kNN on `knnOn` (a/n
 * right) beat `head` (b/n), and `model` predicts with its head only".
 */
export function knnBeatHead(trained: TrainAndGuardResult, words: { knnOn: string; head: string; model: string }): string {
  const right = (name: string): string => {
    const c = trained.guard.candidates.find((x) => x.name === name);
    return c ? `${c.correct}/${c.n}` : '?';
  };
  return `on the held-out photos kNN on ${words.knnOn} (${right('knn')} right) beat ${words.head} (${right('head')}), and ${words.model} predicts with its head only`;
}
