/**
 * The Worker's `scheduled` handler: the daily sweep of worker/lifecycle/maintenance.ts, run by the cron of
 * `[triggers]` in wrangler.toml. It logs what it did, and fails (so the run shows as failed in
 * the dashboard) when an account could not be deleted; the next run tries that account again.
 */
import type { Env } from '../env.ts';
import { runMaintenance, type MaintenanceOptions, type MaintenanceReport } from './maintenance.ts';

/** Options of {@link createScheduledHandler}: the sweep's bounds (its time is the cron's). */
export type ScheduledOptions = Omit<MaintenanceOptions, 'now'>;

/** A `scheduled` handler; resolves to the sweep's report. */
export type ScheduledHandler = (controller: ScheduledController, env: Env) => Promise<MaintenanceReport>;

/** Builds the `scheduled` handler. */
export function createScheduledHandler(options: ScheduledOptions = {}): ScheduledHandler {
  return async (controller, env) => {
    const report = await runMaintenance(env, { ...options, now: controller.scheduledTime });
    console.log(`tannerin: sweep (${controller.cron || 'manual'}):`, JSON.stringify(report));
    if (report.deletionFailures) throw new Error(`${report.deletionFailures} account deletion(s) failed; the next run tries again`);
    return report;
  };
}
