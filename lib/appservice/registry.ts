/**
 * The set of registrations a server runs with, checked as a whole, and the namespace
 * questions the rest of the server asks of it.
 * https://spec.matrix.org/v1.19/application-service-api/#registration
 *
 * Refused: two registrations with the same id, the same as_token or hs_token, or the
 * same sender_localpart; a sender inside another appservice's exclusive user namespace;
 * and two exclusive namespaces of the same kind with the same regex. Whether two
 * different regexes overlap cannot be decided in general (and is expensive for the
 * ones that can), so overlapping but different exclusive regexes are NOT detected:
 * the first registration (in load order) whose exclusive namespace matches an ID owns it.
 */
import type { Namespace, NamespaceKind, Registration } from "./registration.ts";
import { RegistrationError } from "./registration.ts";

export class AppserviceRegistry {
  readonly all: readonly Registration[];
  readonly serverName: string | undefined;
  readonly #byId = new Map<string, Registration>();

  /** Throws RegistrationError naming the later of two conflicting registrations. */
  constructor(registrations: readonly Registration[], serverName?: string) {
    this.all = registrations;
    this.serverName = serverName;
    const tokens = new Map<string, Registration>();
    const senders = new Map<string, Registration>();
    const exclusive = new Map<string, Registration>();
    for (const r of registrations) {
      const clash = (field: string, other: Registration, what: string) =>
        new RegistrationError(r.source, field, `${what} as registration ${JSON.stringify(other.id)} (${other.source})`);
      const sameId = this.#byId.get(r.id);
      if (sameId) throw clash("id", sameId, "is the same");
      this.#byId.set(r.id, r);
      for (const [field, token] of [["as_token", r.asToken], ["hs_token", r.hsToken]] as const) {
        const other = tokens.get(token);
        if (other) throw clash(field, other, "is a token already used");
        tokens.set(token, r);
      }
      const sameSender = senders.get(r.senderLocalpart);
      if (sameSender) throw clash("sender_localpart", sameSender, "is the same");
      senders.set(r.senderLocalpart, r);
      for (const kind of ["users", "aliases", "rooms"] as const) {
        r.namespaces[kind].forEach((n, i) => {
          if (!n.exclusive) return;
          const key = `${kind}\u0000${n.regex}`;
          const other = exclusive.get(key);
          if (other && other !== r) throw clash(`namespaces.${kind}[${i}].regex`, other, "is an exclusive namespace already claimed");
          exclusive.set(key, r);
        });
      }
    }
    if (serverName !== undefined) {
      for (const r of registrations) {
        const sender = senderOf(r, serverName);
        const owner = this.exclusiveOwner("users", sender);
        if (owner && owner !== r) {
          throw new RegistrationError(r.source, "sender_localpart", `${sender} is inside the exclusive user namespace of ${JSON.stringify(owner.id)} (${owner.source})`);
        }
      }
    }
  }

  byId(id: string): Registration | undefined {
    return this.#byId.get(id);
  }

  /** The appservice with an exclusive namespace of `kind` matching `id`, if any. */
  exclusiveOwner(kind: NamespaceKind, id: string): Registration | undefined {
    return this.all.find((r) => matches(r.namespaces[kind], id, true));
  }

  /** Appservices whose user namespace (exclusive or not) contains `userId`. */
  userNamespaceOwners(userId: string): Registration[] {
    return this.all.filter((r) => matches(r.namespaces.users, userId, false));
  }

  /** Appservices whose alias namespace (exclusive or not) contains `alias`. */
  aliasNamespaceOwners(alias: string): Registration[] {
    return this.all.filter((r) => matches(r.namespaces.aliases, alias, false));
  }

  /** Appservices that declare `protocol`, in load order. */
  withProtocol(protocol: string): Registration[] {
    return this.all.filter((r) => r.protocols.includes(protocol));
  }
}

/** `@sender_localpart:serverName`: the appservice's own user. */
export function senderOf(r: Registration, serverName: string): string {
  return `@${r.senderLocalpart}:${serverName}`;
}

/** Whether `id` matches one of the namespaces (only exclusive ones when `exclusiveOnly`). */
export function matches(list: readonly Namespace[], id: string, exclusiveOnly: boolean): boolean {
  for (const n of list) {
    if ((!exclusiveOnly || n.exclusive) && n.pattern.test(id)) return true;
  }
  return false;
}

/**
 * Whether the appservice may act as `userId` (identity assertion): its sender, or a
 * user in its user namespace. https://spec.matrix.org/v1.19/application-service-api/#identity-assertion
 */
export function mayMasquerade(r: Registration, userId: string, serverName: string): boolean {
  return userId === senderOf(r, serverName) || matches(r.namespaces.users, userId, false);
}
