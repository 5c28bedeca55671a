// @discordjs/proxy in front of an upstream Discord API (the fake Discord in the tests).
//
// Usage: node discord_proxy.js UPSTREAM_API   (e.g. http://127.0.0.1:4321/api)
// Prints one JSON line {"port": N} once listening on 127.0.0.1 (random port), then serves
// until killed. The package exports proxyRequests(rest); the upstream is @discordjs/rest's
// `api` option (its default is https://discord.com/api; the version is appended per request).
"use strict";
const http = require("node:http");
const { REST } = require("@discordjs/rest");
const { proxyRequests } = require("@discordjs/proxy");

const api = process.argv[2];
if (!api) {
  console.error("usage: node discord_proxy.js UPSTREAM_API");
  process.exit(2);
}
// The bot's Authorization header is forwarded as is (proxyRequests sends auth: false), so
// the proxy holds no token. Rate limits: @discordjs/rest queues per bucket and waits out a
// 429 itself (rejectOnRateLimit unset), so the bot never sees Discord's 429s.
const rest = new REST({ api, timeout: Number(process.env.PROXY_TIMEOUT_MS || 15000) });
const server = http.createServer(proxyRequests(rest));
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
