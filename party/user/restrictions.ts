/**
 * Account locking and suspension, set by server admins, kept in the User actor
 * (`account_restrictions`, schema/user.sql).
 * https://spec.matrix.org/v1.19/client-server-api/#account-locking
 * https://spec.matrix.org/v1.19/client-server-api/#account-suspension
 *
 * The actor only records the state and reports it with every token check
 * (`User.authenticate`); what each state forbids is decided at the edge
 * (party/edge/restrictions.ts), which sees every request's method and path.
 */
import { MatrixError } from "../../lib/errors.ts";

export type RestrictionKind = "locked" | "suspended";

export interface Restrictions {
  locked: boolean;
  suspended: boolean;
}

type Row = Record<string, SqlStorageValue>;

/** Both flags, read in the caller's transaction (one indexed read of at most two rows). */
export function readRestrictions(sql: SqlStorage): Restrictions {
  const r: Restrictions = { locked: false, suspended: false };
  for (const row of sql.exec<Row & { kind: string }>("SELECT kind FROM account_restrictions")) {
    if (row.kind === "locked") r.locked = true;
    else if (row.kind === "suspended") r.suspended = true;
  }
  return r;
}

/**
 * The target account as the admin API sees it: 404 when it does not exist or is
 * deactivated; 403 when it is another server admin (the spec's rule for both GET and PUT),
 * or the caller themself when changing (an admin must not lock themself out).
 */
function checkTarget(sql: SqlStorage, callerIsTarget: boolean, change: boolean): void {
  const a = sql.exec<Row & { admin: number; deactivated_ts: number | null }>("SELECT admin, deactivated_ts FROM account WHERE id = 1").toArray()[0];
  if (!a || a.deactivated_ts !== null) throw new MatrixError("M_NOT_FOUND", 404, "User not found");
  if (callerIsTarget ? change : a.admin === 1) {
    throw new MatrixError("M_FORBIDDEN", 403, callerIsTarget ? "Server admins cannot restrict their own account" : "The target user is a server administrator");
  }
}

export function getRestriction(sql: SqlStorage, kind: RestrictionKind, callerIsTarget: boolean): boolean {
  checkTarget(sql, callerIsTarget, false);
  return readRestrictions(sql)[kind];
}

/** Sets or clears one flag; idempotent. Call inside a transaction. */
export function setRestriction(sql: SqlStorage, kind: RestrictionKind, on: boolean, callerIsTarget: boolean, now: number): void {
  checkTarget(sql, callerIsTarget, true);
  if (on) sql.exec("INSERT INTO account_restrictions (kind, since_ts) VALUES (?, ?) ON CONFLICT (kind) DO NOTHING", kind, now);
  else sql.exec("DELETE FROM account_restrictions WHERE kind = ?", kind);
}
