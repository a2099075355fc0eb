// Socket.IO 4 peer of benchmarks/compare.py (see the Python peers for the same shape).
//
// One room "r". A client connects with Socket.IO's connect-time auth {token};
// a wrong token is refused by the middleware, a right one joins the room. Each
// "msg" event is emitted to the whole room (the sender too), payload unchanged.
// Only the websocket transport is offered (the generator never polls);
// everything else is Socket.IO's defaults (no per-message deflate, ping 25 s).
//
//   node server.js --port 0 --token SECRET
//   # prints "listening on 127.0.0.1:PORT" once it accepts connections
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("host", "127.0.0.1");
const port = Number(arg("port", "0"));
const token = arg("token", "");
if (!token) {
  console.error("--token is required");
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"], serveClient: false });

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  next(auth.token === token ? undefined : new Error("bad token"));
});

io.on("connection", (socket) => {
  socket.join("r");
  socket.on("msg", (body) => {
    io.to("r").emit("msg", body);
  });
});

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  console.log(`listening on ${a.address}:${a.port}`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    httpServer.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
