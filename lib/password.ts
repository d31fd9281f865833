/**
 * Password hashing with PBKDF2-HMAC-SHA256 through WebCrypto (the same code runs in Node
 * and workerd). workerd refuses PBKDF2 above 100,000 iterations, so that is the ceiling.
 *
 * Stored form: `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` — algorithm and cost
 * live with the hash, so the cost can be raised later: `verifyPassword` reports
 * `needsRehash` when a stored hash is weaker than the current parameters.
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { MatrixError } from "./errors.ts";

export const PBKDF2_ITERATIONS = 100_000;
const ALGORITHM = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * Password policy. Minimum 8 characters (M_WEAK_PASSWORD below that); maximum 512
 * characters so a request cannot make us hash megabytes (M_INVALID_PARAM).
 */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 512;

/** Throws the spec's error if `password` breaks the policy. */
export function checkPasswordPolicy(password: string): void {
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    throw new MatrixError(
      "M_WEAK_PASSWORD",
      400,
      `Password must be at least ${PASSWORD_MIN_LENGTH} characters`,
    );
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw new MatrixError("M_INVALID_PARAM", 400, `Password must be at most ${PASSWORD_MAX_LENGTH} characters`);
  }
}

function fromB64(s: string): Uint8Array | null {
  try {
    return decodeBase64(s);
  } catch {
    return null;
  }
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** Hash a password with a fresh random salt. `iterations` is for tests and upgrades only. */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${ALGORITHM}$${iterations}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash used weaker parameters than today's: store a fresh hash. */
  needsRehash: boolean;
}

/** Check `password` against a stored hash; malformed stored hashes never match. */
export async function verifyPassword(password: string, stored: string): Promise<PasswordCheck> {
  const parts = stored.split("$");
  const iterations = Number(parts[1]);
  const salt = parts[2] === undefined ? null : fromB64(parts[2]);
  const expected = parts[3] === undefined ? null : fromB64(parts[3]);
  if (
    parts.length !== 4 ||
    parts[0] !== ALGORITHM ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > PBKDF2_ITERATIONS ||
    !salt ||
    !expected ||
    expected.length !== HASH_BYTES
  ) {
    return { ok: false, needsRehash: false };
  }
  const actual = await derive(password, salt, iterations);
  let diff = 0;
  for (let i = 0; i < HASH_BYTES; i++) diff |= actual[i]! ^ expected[i]!;
  return { ok: diff === 0, needsRehash: diff === 0 && iterations < PBKDF2_ITERATIONS };
}

/**
 * Spend the same time as a real check when there is no account, so response times do
 * not reveal which user IDs exist.
 */
export async function dummyPasswordCheck(password: string): Promise<void> {
  await derive(password, new Uint8Array(SALT_BYTES), PBKDF2_ITERATIONS);
}
