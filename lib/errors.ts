/**
 * Matrix errors. Thrown anywhere, turned into a response in exactly one place
 * (the edge's error module). https://spec.matrix.org/v1.19/client-server-api/#standard-error-response
 */
export type MatrixErrcode =
  | "M_FORBIDDEN"
  | "M_UNKNOWN_TOKEN"
  | "M_MISSING_TOKEN"
  | "M_USER_LOCKED"
  | "M_USER_SUSPENDED"
  | "M_BAD_JSON"
  | "M_NOT_JSON"
  | "M_NOT_FOUND"
  | "M_LIMIT_EXCEEDED"
  | "M_UNRECOGNIZED"
  | "M_UNKNOWN"
  | "M_UNAUTHORIZED"
  | "M_USER_DEACTIVATED"
  | "M_USER_IN_USE"
  | "M_INVALID_USERNAME"
  | "M_ROOM_IN_USE"
  | "M_INVALID_ROOM_STATE"
  | "M_THREEPID_IN_USE"
  | "M_THREEPID_NOT_FOUND"
  | "M_THREEPID_AUTH_FAILED"
  | "M_THREEPID_DENIED"
  | "M_THREEPID_MEDIUM_NOT_SUPPORTED"
  | "M_SERVER_NOT_TRUSTED"
  | "M_UNSUPPORTED_ROOM_VERSION"
  | "M_INCOMPATIBLE_ROOM_VERSION"
  | "M_BAD_STATE"
  | "M_GUEST_ACCESS_FORBIDDEN"
  | "M_CAPTCHA_NEEDED"
  | "M_CAPTCHA_INVALID"
  | "M_MISSING_PARAM"
  | "M_INVALID_PARAM"
  | "M_TOO_LARGE"
  | "M_EXCLUSIVE"
  | "M_RESOURCE_LIMIT_EXCEEDED"
  | "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
  | "M_WEAK_PASSWORD"
  | "M_UNABLE_TO_AUTHORISE_JOIN"
  | "M_UNABLE_TO_GRANT_JOIN"
  | "M_NOT_YET_UPLOADED"
  | "M_CANNOT_OVERWRITE_MEDIA"
  | "M_UNKNOWN_POS"
  | "M_PROFILE_TOO_LARGE"
  | "M_INVALID_SIGNATURE"
  | "M_WRONG_ROOM_KEYS_VERSION"
  // m.room.canonical_alias naming an alias that does not point to the room
  | "M_BAD_ALIAS"
  // Application services (appservice ping, registration)
  | "M_URL_NOT_SET"
  | "M_BAD_STATUS"
  | "M_CONNECTION_FAILED"
  | "M_CONNECTION_TIMEOUT"
  | "M_APPSERVICE_LOGIN_UNSUPPORTED"
  // Device masquerading by appservices (MSC4326: stable and unstable spelling)
  | "M_UNKNOWN_DEVICE"
  | "ORG.MATRIX.MSC4326.M_UNKNOWN_DEVICE";

export class MatrixError extends Error {
  constructor(
    readonly errcode: MatrixErrcode,
    readonly status: number,
    message: string,
    /** Extra top-level fields of the error body (retry_after_ms, soft_logout, …). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "MatrixError";
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg: string) => new MatrixError("M_FORBIDDEN", 403, msg);
export const badJson = (msg: string) => new MatrixError("M_BAD_JSON", 400, msg);
export const notFound = (msg: string) => new MatrixError("M_NOT_FOUND", 404, msg);
export const invalidParam = (msg: string) => new MatrixError("M_INVALID_PARAM", 400, msg);
export const missingParam = (msg: string) => new MatrixError("M_MISSING_PARAM", 400, msg);
