/**
 * User directory search. https://spec.matrix.org/v1.19/client-server-api/#user-directory
 * Visibility and ranking: party/directory/users.ts; the term → FTS5 query:
 * lib/directory/search-terms.ts.
 */
import { parseUserSearch } from "../../lib/directory/requests.ts";
import { ftsPrefixQuery } from "../../lib/directory/search-terms.ts";
import type { JsonObject } from "../../lib/json.ts";
import { searchUsers } from "../directory/users.ts";
import { body } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

// POST /_matrix/client/v3/user_directory/search
export async function search(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const q = parseUserSearch(await body(r));
  const fts = ftsPrefixQuery(q.searchTerm);
  // A term without words (blank, punctuation) matches nobody.
  if (fts === null) return json({ results: [], limited: false });
  return json((await searchUsers(r.env.DB, me.userId, fts, q.limit)) as unknown as JsonObject);
}
