// The platform floor for WebSocket fan-out (bench/ws-floor.ts): a Worker whose one Durable
// Object does nothing but what any push server must — hold N hibernatable WebSockets
// and send each a frame shaped like a Parley sliding-sync push, under the same
// acknowledgement rule (at most one unacknowledged frame per socket; what arrives
// meanwhile goes in the next frame). No storage, no auth, no Matrix: each frame is a
// per-socket prefix glued to a timeline string built once per distinct starting point.
// Whatever latency this shows at a given listener count and rate is the least any server
// built on workerd's WebSockets can show on the same machine.

const ROOM = "!floor:localhost";

export class Floor {
  constructor(state) {
    this.state = state;
    /** Serialised events, index = sequence in this run. */
    this.events = [];
    /** socket → { id, sent (index of the newest event sent), outstanding } */
    this.sockets = new Map();
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/socket") {
      const [client, server] = Object.values(new WebSocketPair());
      this.state.acceptWebSocket(server);
      this.sockets.set(server, { id: crypto.randomUUID().slice(0, 8), sent: this.events.length - 1, outstanding: false });
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === "/send" && request.method === "POST") {
      const { seq } = await request.json();
      const now = Date.now();
      this.events.push(JSON.stringify({
        type: "m.room.message",
        sender: "@floorsender:localhost",
        content: { msgtype: "m.text", body: "x", seq },
        origin_server_ts: now,
        event_id: `$${crypto.randomUUID().replaceAll("-", "")}abcdefghijk`,
        unsigned: { age: 0, membership: "join" },
      }));
      this.pushAll();
      return Response.json({ event_id: "$" + seq });
    }
    if (url.pathname === "/reset") {
      this.events = [];
      for (const ws of this.sockets.keys()) ws.close(1000, "reset");
      this.sockets.clear();
      return Response.json({});
    }
    return new Response("not found", { status: 404 });
  }

  pushAll() {
    const timelines = new Map();
    for (const [ws, s] of this.sockets) this.push(ws, s, timelines);
  }

  push(ws, s, timelines) {
    const newest = this.events.length - 1;
    if (s.outstanding || s.sent >= newest) return;
    let shared = timelines.get(s.sent);
    if (shared === undefined) {
      shared = `"lists":{"all":{"count":1}},"rooms":{${JSON.stringify(ROOM)}:{"timeline":[${this.events.slice(s.sent + 1).join(",")}],"num_live":${newest - s.sent},"bump_stamp":${Date.now()},"notification_count":0,"highlight_count":0}},"extensions":{}}}`;
      timelines.set(s.sent, shared);
    }
    const pos = `${s.id}_${newest.toString(36)}`;
    try {
      ws.send(`{"type":"response","gen":1,"pos":"${pos}","body":{"pos":"${pos}",${shared}`);
    } catch {
      this.sockets.delete(ws);
      return;
    }
    s.sent = newest;
    s.outstanding = true;
  }

  webSocketMessage(ws, message) {
    const s = this.sockets.get(ws);
    if (s === undefined || typeof message !== "string") return;
    if (message.includes('"ack"')) {
      s.outstanding = false;
      this.push(ws, s, new Map());
    }
  }

  webSocketClose(ws) {
    this.sockets.delete(ws);
  }
}

export default {
  fetch(request, env) {
    return env.FLOOR.get(env.FLOOR.idFromName("floor")).fetch(request);
  },
};
