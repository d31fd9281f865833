/**
 * Push rules API: the user's `global` ruleset (server defaults merged with their
 * own rules), read and changed through the User actor.
 * https://spec.matrix.org/v1.19/client-server-api/#push-rules-api
 *
 * Bodies are validated here (lib/push/rule-body.ts); decisions that need the
 * stored rules (positions, existence, server-default rules) are the actor's.
 */
import { invalidParam } from "../../lib/errors.ts";
import type { JsonObject } from "../../lib/json.ts";
import { parseActions, parseEnabled, parseRuleBody } from "../../lib/push/rule-body.ts";
import { isRuleKind, type RuleKind, type Ruleset } from "../../lib/push/types.ts";
import { findRule } from "../../lib/push/user-rules.ts";
import { userActor } from "../stubs.ts";
import { body } from "./account.ts";
import { authenticate } from "./auth.ts";
import { json } from "./http.ts";
import type { EdgeRequest } from "./router.ts";

function kindParam(r: EdgeRequest): RuleKind {
  const kind = r.params.kind!;
  if (!isRuleKind(kind)) throw invalidParam(`Unknown push rule kind ${JSON.stringify(kind)}`);
  return kind;
}

/** Authenticates the caller, then reads their merged ruleset. */
async function ruleset(r: EdgeRequest): Promise<Ruleset> {
  const me = await authenticate(r);
  const content = JSON.parse(await userActor(r.env, me.userId).getPushRules()) as { global: Ruleset };
  return content.global;
}

/** An optional query parameter that, when given, must not be empty. */
function queryParam(r: EdgeRequest, name: string): string | undefined {
  const v = r.url.searchParams.get(name);
  if (v === null) return undefined;
  if (v === "") throw invalidParam(`'${name}' must not be empty`);
  return v;
}

// GET /_matrix/client/v3/pushrules/
export async function getAll(r: EdgeRequest): Promise<Response> {
  return json({ global: (await ruleset(r)) as unknown as JsonObject });
}

// GET /_matrix/client/v3/pushrules/global/
export async function getGlobal(r: EdgeRequest): Promise<Response> {
  return json((await ruleset(r)) as unknown as JsonObject);
}

// GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
export async function getRule(r: EdgeRequest): Promise<Response> {
  const rules = await ruleset(r);
  return json(findRule(rules, kindParam(r), r.params.ruleId!) as unknown as JsonObject);
}

// PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
export async function putRule(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const kind = kindParam(r);
  const rule = parseRuleBody(kind, await body(r));
  await userActor(r.env, me.userId).editPushRules({
    op: "put",
    kind,
    ruleId: r.params.ruleId!,
    rule,
    before: queryParam(r, "before"),
    after: queryParam(r, "after"),
  });
  return json({});
}

// DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
export async function deleteRule(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const kind = kindParam(r);
  await userActor(r.env, me.userId).editPushRules({ op: "delete", kind, ruleId: r.params.ruleId! });
  return json({});
}

// GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled
export async function getEnabled(r: EdgeRequest): Promise<Response> {
  const rules = await ruleset(r);
  return json({ enabled: findRule(rules, kindParam(r), r.params.ruleId!).enabled });
}

// PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled
export async function putEnabled(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const kind = kindParam(r);
  const enabled = parseEnabled(await body(r));
  await userActor(r.env, me.userId).editPushRules({ op: "enabled", kind, ruleId: r.params.ruleId!, enabled });
  return json({});
}

// GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions
export async function getActions(r: EdgeRequest): Promise<Response> {
  const rules = await ruleset(r);
  return json({ actions: findRule(rules, kindParam(r), r.params.ruleId!).actions });
}

// PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions
export async function putActions(r: EdgeRequest): Promise<Response> {
  const me = await authenticate(r);
  const kind = kindParam(r);
  const actions = parseActions((await body(r)).actions);
  await userActor(r.env, me.userId).editPushRules({ op: "actions", kind, ruleId: r.params.ruleId!, actions });
  return json({});
}
