/**
 * Third-party identifiers on the account.
 * https://spec.matrix.org/v1.19/client-server-api/#adding-account-administrative-contact-information
 *
 * Parley binds no email addresses or phone numbers to accounts (no identity server, no
 * validation sessions), so the list is empty for every user: that is the true answer.
 * The endpoints that would add, bind, unbind or request tokens for a 3PID stay unrouted
 * (404 M_UNRECOGNIZED), which tells clients the feature is absent instead of pretending
 * to accept identifiers that could never be validated.
 */
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// GET /_matrix/client/v3/account/3pid
export async function getThreePids(r: EdgeRequest): Promise<Response> {
  await authenticate(r);
  return json({ threepids: [] });
}
