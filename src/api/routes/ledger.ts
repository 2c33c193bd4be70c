import type { Api, ApiContext } from '../context.js';

// To be written.
export async function ledgerRoutes(_api: Api, _ctx: ApiContext): Promise<void> {}
