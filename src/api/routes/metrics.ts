import type { Api, ApiContext } from '../context.js';

// To be written.
export async function metricsRoutes(_api: Api, _ctx: ApiContext): Promise<void> {}
